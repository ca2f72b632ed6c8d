//! Managing accounts from the admin desk: list, add, change role, disable, enable, remove.
//! Every change is one transaction, and none may leave the site without an admin who can sign
//! in, or let admins lock themselves out (they cannot change, disable or remove their own
//! account here).

use crate::accounts::{queries, AccountError, Role};
use crate::store::{self, Db, DbError};

pub use queries::UserListing;

pub async fn list(db: &Db) -> Result<Vec<UserListing>, DbError> {
    queries::listing(db).await
}

/// What an admin may do to another account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Role(Role),
    Disable,
    Enable,
    Remove,
}

fn refuse(message: &str) -> AccountError {
    AccountError::Invalid { field: "user", message: message.into() }
}

/// Applies `change` to account `target` on behalf of admin `actor` (a user id).
pub async fn change(db: &Db, actor: i64, target: i64, change: Change) -> Result<(), AccountError> {
    if actor == target {
        return Err(refuse("you cannot change, disable or remove your own account here"));
    }
    let mut tx = db.begin().await?;
    let (role, disabled) = queries::role_and_state(&mut tx, target).await?;
    let (username, _) = queries::names_of(&mut tx, target).await?;
    let active_admin = role == Role::Admin.as_str() && !disabled;
    let removes_admin = match change {
        Change::Role(new) => new != Role::Admin,
        Change::Disable | Change::Remove => true,
        Change::Enable => false,
    };
    if active_admin && removes_admin && queries::active_admins(&mut tx).await? <= 1 {
        return Err(refuse("this is the last admin who can sign in; make someone else an admin first"));
    }
    let detail = match change {
        Change::Role(new) => {
            queries::set_role(&mut tx, target, new.as_str()).await?;
            format!("{username}: {role} → {}", new.as_str())
        }
        Change::Disable => {
            queries::set_disabled(&mut tx, target, Some(store::now())).await?;
            queries::delete_sessions_of(&mut tx, target, None).await?;
            format!("{username} disabled")
        }
        Change::Enable => {
            queries::set_disabled(&mut tx, target, None).await?;
            format!("{username} enabled")
        }
        Change::Remove => {
            let articles = queries::article_count(&mut tx, target).await?;
            if articles > 0 {
                return Err(refuse(&format!(
                    "{username} is the author of {articles} article(s); disable the account instead"
                )));
            }
            queries::delete_user(&mut tx, target).await?;
            format!("{username} removed")
        }
    };
    store::record_activity(&mut tx, "user.change", Some(target), &detail).await?;
    tx.commit().await?;
    Ok(())
}
