//! Accounts: people who write and run the site, their roles and password hashes (argon2id).

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;

use crate::store::{self, Db, DbError};

pub mod api_tokens;
pub mod auth;
pub mod desk;
pub mod passkeys;
pub mod queries;
pub mod routes;
pub mod security;
pub mod session;
pub mod two_factor;
pub mod users;

/// WordPress-like roles, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Writes drafts.
    Contributor,
    /// Publishes their own articles.
    Author,
    /// Manages all articles, categories and comments.
    Editor,
    /// Manages users and settings.
    Admin,
}

/// What a role may do. Every admin route and API endpoint asks `Role::can` for one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Create articles and edit one's own drafts (contributor and up).
    WriteDrafts,
    /// Publish, schedule, unpublish and trash one's own articles (author and up).
    PublishOwn,
    /// Upload media (author and up).
    UploadMedia,
    /// Edit, publish and trash anyone's articles (editor and up).
    EditOthers,
    /// Create, rename and delete categories and tags (editor and up).
    ManageTerms,
    /// Approve, spam and trash comments (editor and up).
    ModerateComments,
    /// See and manage email subscribers (editor and up).
    ManageSubscribers,
    /// See the site's page views, referrers and conversions (editor and up).
    ViewAnalytics,
    /// See the fediverse followers and block instances or accounts (editor and up).
    ManageFediverse,
    /// Create, change and remove accounts (admin).
    ManageUsers,
    /// Change site settings, mail and pinning configuration (admin).
    ManageSettings,
}

impl Capability {
    /// What the capability allows, to finish "You are not allowed to …".
    pub fn describe(self) -> &'static str {
        match self {
            Capability::WriteDrafts => "write articles",
            Capability::PublishOwn => "publish articles",
            Capability::UploadMedia => "upload media",
            Capability::EditOthers => "edit other people's articles",
            Capability::ManageTerms => "manage categories and tags",
            Capability::ModerateComments => "moderate comments",
            Capability::ManageSubscribers => "manage subscribers",
            Capability::ViewAnalytics => "see the site's analytics",
            Capability::ManageFediverse => "manage the fediverse followers and blocks",
            Capability::ManageUsers => "manage users",
            Capability::ManageSettings => "change the site's settings",
        }
    }
}

impl Role {
    /// Roles are cumulative, as in WordPress: each can do what the ones below it can.
    pub fn can(self, capability: Capability) -> bool {
        let needed = match capability {
            Capability::WriteDrafts => Role::Contributor,
            Capability::PublishOwn | Capability::UploadMedia => Role::Author,
            Capability::EditOthers
            | Capability::ManageTerms
            | Capability::ModerateComments
            | Capability::ManageSubscribers
            | Capability::ViewAnalytics
            | Capability::ManageFediverse => Role::Editor,
            Capability::ManageUsers | Capability::ManageSettings => Role::Admin,
        };
        self >= needed
    }

    /// Every role, weakest first.
    pub const ALL: [Role; 4] = [Role::Contributor, Role::Author, Role::Editor, Role::Admin];

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Contributor => "contributor",
            Role::Author => "author",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{field}: {value:?} is already taken")]
    Taken { field: &'static str, value: String },
    /// The password hashing thread failed (it panicked, or the pool is shutting down).
    #[error("password hashing: {0}")]
    Hashing(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for AccountError {
    fn from(err: sqlx::Error) -> Self {
        AccountError::Db(err.into())
    }
}

/// A new account as the caller describes it.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    /// `None` creates an account that cannot log in (e.g. an imported byline).
    pub password: Option<&'a str>,
}

pub fn generate_password() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 20)
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?
        .to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Usernames are what author archive URLs use: lowercase letters, digits, `-`, `_`, `.`.
pub fn validate_username(username: &str) -> Result<(), AccountError> {
    let ok = !username.is_empty()
        && username.len() <= 60
        && username.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AccountError::Invalid {
            field: "username",
            message: format!("{username:?} must be 1–60 characters of a–z, 0–9, '-', '_' or '.'"),
        })
    }
}

pub fn validate_email(email: &str) -> Result<(), AccountError> {
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(())
    } else {
        Err(AccountError::Invalid { field: "email", message: format!("{email:?} is not an email address") })
    }
}

pub async fn create_user(db: &Db, new: &NewUser<'_>) -> Result<User, AccountError> {
    validate_username(new.username)?;
    validate_email(new.email)?;
    if new.display_name.trim().is_empty() || new.display_name.len() > 120 {
        return Err(AccountError::Invalid { field: "name", message: "must be 1–120 characters".into() });
    }
    let hash = match new.password {
        Some(password) if password.len() < 12 => {
            return Err(AccountError::Invalid { field: "password", message: "must be at least 12 characters".into() })
        }
        Some(password) => Some(auth::hash(password).await?),
        None => None,
    };
    let mut tx = db.begin().await?;
    match queries::insert(&mut tx, new, hash.as_deref(), store::now()).await {
        Ok(id) => {
            store::record_activity(&mut tx, "user.create", Some(id), new.username).await?;
            tx.commit().await?;
            Ok(User {
                id,
                username: new.username.into(),
                email: new.email.into(),
                display_name: new.display_name.into(),
                role: new.role.as_str().into(),
            })
        }
        Err(DbError::Conflict(what)) if what.contains("email") => {
            Err(AccountError::Taken { field: "email", value: new.email.into() })
        }
        Err(DbError::Conflict(_)) => Err(AccountError::Taken { field: "username", value: new.username.into() }),
        Err(err) => Err(err.into()),
    }
}

pub async fn find_by_username(db: &Db, username: &str) -> Result<User, DbError> {
    queries::by_username(db, username).await
}

pub async fn count_users(db: &Db) -> Result<i64, DbError> {
    queries::count(db).await
}

/// Whether an admin can sign in: an import into an empty site makes only authors.
pub async fn has_active_admin(db: &Db) -> Result<bool, DbError> {
    let mut conn = db.pool.acquire().await?;
    Ok(queries::active_admins(&mut conn).await? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_cumulative() {
        assert!(Role::Contributor.can(Capability::WriteDrafts));
        assert!(!Role::Contributor.can(Capability::PublishOwn));
        assert!(Role::Author.can(Capability::PublishOwn) && !Role::Author.can(Capability::EditOthers));
        assert!(Role::Editor.can(Capability::ModerateComments) && !Role::Editor.can(Capability::ManageUsers));
        assert!(Role::Admin.can(Capability::ManageSettings));
        assert_eq!(Role::parse("editor"), Some(Role::Editor));
        assert_eq!(Role::parse("root"), None);
    }
}
