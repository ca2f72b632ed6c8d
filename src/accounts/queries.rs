//! SQL for accounts.

use sqlx::AnyConnection;

use crate::accounts::{NewUser, User};
use crate::store::{Db, DbError, DbResult};

pub async fn insert(
    conn: &mut AnyConnection,
    new: &NewUser<'_>,
    password_hash: Option<&str>,
    now: i64,
) -> DbResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO users (username, email, display_name, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(new.username)
    .bind(new.email)
    .bind(new.display_name)
    .bind(new.role.as_str())
    .bind(password_hash)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(DbError::from)
}

pub async fn by_username(db: &Db, username: &str) -> DbResult<User> {
    sqlx::query_as::<_, UserTuple>("SELECT id, username, email, display_name, role FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&db.pool)
        .await
        .map(user)
        .map_err(DbError::from)
}

/// The id of the user with this display name or username, if any.
pub async fn id_by_name(conn: &mut AnyConnection, name: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM users WHERE display_name = $1 OR username = $1 ORDER BY id LIMIT 1")
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)
}

pub async fn count(db: &Db) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&db.pool).await.map_err(DbError::from)
}

/// A user as sign-in sees it: the account, its password hash and whether it is disabled.
pub struct LoginRow {
    pub user: User,
    pub password_hash: Option<String>,
    pub disabled: bool,
}

type UserTuple = (i64, String, String, String, String);

fn user((id, username, email, display_name, role): UserTuple) -> User {
    User { id, username, email, display_name, role }
}

/// The account called `name` (username, or email address), for sign-in and password resets.
pub async fn for_login(db: &Db, name: &str) -> DbResult<Option<LoginRow>> {
    sqlx::query_as::<_, (i64, String, String, String, String, Option<String>, Option<i64>)>(
        "SELECT id, username, email, display_name, role, password_hash, disabled_at FROM users \
         WHERE username = $1 OR LOWER(email) = LOWER($1) ORDER BY id LIMIT 1",
    )
    .bind(name)
    .fetch_optional(&db.pool)
    .await
    .map(|row| {
        row.map(|(id, username, email, display_name, role, password_hash, disabled_at)| LoginRow {
            user: user((id, username, email, display_name, role)),
            password_hash,
            disabled: disabled_at.is_some(),
        })
    })
    .map_err(DbError::from)
}

pub async fn password_hash(db: &Db, user_id: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn set_password(conn: &mut AnyConnection, user_id: i64, hash: &str) -> DbResult<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(user_id).execute(conn).await?;
    Ok(())
}

/// A live session: its user, CSRF secret and times.
pub struct SessionRow {
    pub user: User,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

pub async fn insert_session(
    conn: &mut AnyConnection,
    id_hash: &str,
    user_id: i64,
    csrf: &str,
    now: i64,
    expires_at: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(csrf)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The session with this id hash, if it has not expired (idle, or older than `max_secs`) and its
/// user is not disabled.
pub async fn live_session(db: &Db, id_hash: &str, now: i64, max_secs: i64) -> DbResult<Option<SessionRow>> {
    sqlx::query_as::<_, (i64, String, String, String, String, String, i64, i64)>(
        "SELECT u.id, u.username, u.email, u.display_name, u.role, s.csrf, s.created_at, s.last_seen_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.created_at > $3 AND u.disabled_at IS NULL",
    )
    .bind(id_hash)
    .bind(now)
    .bind(now - max_secs)
    .fetch_optional(&db.pool)
    .await
    .map(|row| {
        row.map(|(id, username, email, display_name, role, csrf, created_at, last_seen_at)| SessionRow {
            user: user((id, username, email, display_name, role)),
            csrf,
            created_at,
            last_seen_at,
        })
    })
    .map_err(DbError::from)
}

pub async fn touch_session(db: &Db, id_hash: &str, now: i64, expires_at: i64) -> DbResult<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id_hash = $3")
        .bind(now)
        .bind(expires_at)
        .bind(id_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn delete_session(db: &Db, id_hash: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&db.pool).await?;
    Ok(())
}

/// Ends every session of `user_id` except `keep` (the id hash of the one making the change).
pub async fn delete_sessions_of(conn: &mut AnyConnection, user_id: i64, keep: Option<&str>) -> DbResult<u64> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
        .map_err(DbError::from)
}

pub async fn delete_expired_sessions(db: &Db, now: i64) -> DbResult<u64> {
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&db.pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(DbError::from)
}

/// The latest time any of `keys` is locked until, if that is after `now`.
pub async fn locked_until(db: &Db, keys: &[&str], now: i64) -> DbResult<Option<i64>> {
    let mut latest: Option<i64> = None;
    for key in keys {
        let until: Option<i64> =
            sqlx::query_scalar("SELECT locked_until FROM login_throttle WHERE key = $1 AND locked_until > $2")
                .bind(*key)
                .bind(now)
                .fetch_optional(&db.pool)
                .await?;
        latest = latest.max(until);
    }
    Ok(latest)
}

/// Counts one failed login for `key` (a new window once the old one is over) and locks the key
/// for `lockout` seconds when the count reaches `max`. One statement each, so concurrent
/// failures on several nodes all count.
pub async fn record_failure(
    conn: &mut AnyConnection,
    key: &str,
    now: i64,
    window: i64,
    max: i64,
    lockout: i64,
) -> DbResult<()> {
    let failures: i64 = sqlx::query_scalar(
        "INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN login_throttle.window_start <= $3 THEN 1 ELSE login_throttle.failures + 1 END, \
           window_start = CASE WHEN login_throttle.window_start <= $3 THEN $2 ELSE login_throttle.window_start END \
         RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .bind(now - window)
    .fetch_one(&mut *conn)
    .await?;
    if failures >= max {
        sqlx::query("UPDATE login_throttle SET locked_until = $1, failures = 0, window_start = $2 WHERE key = $3")
            .bind(now + lockout)
            .bind(now)
            .bind(key)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn clear_throttle(conn: &mut AnyConnection, key: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(conn).await?;
    Ok(())
}

pub async fn insert_reset(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: i64,
    now: i64,
    expires_at: i64,
) -> DbResult<()> {
    sqlx::query("INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// When the newest reset link for `user_id` was made, if any.
pub async fn last_reset_at(db: &Db, user_id: i64) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(created_at) FROM password_resets WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await
        .map_err(DbError::from)
}

/// The user an unused, unexpired reset token belongs to.
pub async fn reset_user(db: &Db, token_hash: &str, now: i64) -> DbResult<Option<i64>> {
    sqlx::query_scalar(
        "SELECT user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Marks an unused, unexpired token used and returns its user; `None` if it was not usable.
/// The `WHERE` makes it single-use even when two requests race.
pub async fn use_reset(conn: &mut AnyConnection, token_hash: &str, now: i64) -> DbResult<Option<i64>> {
    sqlx::query_scalar(
        "UPDATE password_resets SET used_at = $2 \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
    .map_err(DbError::from)
}

/// Makes every other outstanding reset link of `user_id` unusable.
pub async fn void_resets_of(conn: &mut AnyConnection, user_id: i64, now: i64) -> DbResult<()> {
    sqlx::query("UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Username and email of `user_id`.
pub async fn names_of(conn: &mut AnyConnection, user_id: i64) -> DbResult<(String, String)> {
    sqlx::query_as("SELECT username, email FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(conn)
        .await
        .map_err(DbError::from)
}

/// One row of the users screen.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserListing {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub disabled: bool,
    pub can_log_in: bool,
    pub articles: i64,
    pub created_at: i64,
}

/// Every user's id by username.
pub async fn ids_by_username(db: &Db) -> DbResult<Vec<(String, i64)>> {
    sqlx::query_as("SELECT username, id FROM users").fetch_all(&db.pool).await.map_err(DbError::from)
}

pub async fn listing(db: &Db) -> DbResult<Vec<UserListing>> {
    sqlx::query_as::<_, (i64, String, String, String, String, Option<i64>, i64, i64, i64)>(
        "SELECT u.id, u.username, u.email, u.display_name, u.role, u.disabled_at, \
           CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END, \
           (SELECT COUNT(*) FROM articles a WHERE a.author_id = u.id), u.created_at \
         FROM users u ORDER BY u.username",
    )
    .fetch_all(&db.pool)
    .await
    .map(|rows| {
        rows.into_iter()
            .map(|(id, username, email, display_name, role, disabled_at, can_log_in, articles, created_at)| {
                UserListing {
                    id,
                    username,
                    email,
                    display_name,
                    role,
                    disabled: disabled_at.is_some(),
                    can_log_in: can_log_in == 1,
                    articles,
                    created_at,
                }
            })
            .collect()
    })
    .map_err(DbError::from)
}

/// Role and whether the account is disabled, read in the caller's transaction.
pub async fn role_and_state(conn: &mut AnyConnection, user_id: i64) -> DbResult<(String, bool)> {
    sqlx::query_as::<_, (String, Option<i64>)>("SELECT role, disabled_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(conn)
        .await
        .map(|(role, disabled_at)| (role, disabled_at.is_some()))
        .map_err(DbError::from)
}

/// Admins who can still sign in.
pub async fn active_admins(conn: &mut AnyConnection) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL")
        .fetch_one(conn)
        .await
        .map_err(DbError::from)
}

pub async fn set_role(conn: &mut AnyConnection, user_id: i64, role: &str) -> DbResult<()> {
    sqlx::query("UPDATE users SET role = $1 WHERE id = $2").bind(role).bind(user_id).execute(conn).await?;
    Ok(())
}

pub async fn set_disabled(conn: &mut AnyConnection, user_id: i64, disabled_at: Option<i64>) -> DbResult<()> {
    sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
        .bind(disabled_at)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn article_count(conn: &mut AnyConnection, user_id: i64) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM articles WHERE author_id = $1")
        .bind(user_id)
        .fetch_one(conn)
        .await
        .map_err(DbError::from)
}

pub async fn delete_user(conn: &mut AnyConnection, user_id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(conn).await?;
    Ok(())
}

/// Forgets failure counts whose window ended before `window_start` and which are not locked.
pub async fn prune_throttle(db: &Db, window_start: i64, now: i64) -> DbResult<u64> {
    sqlx::query("DELETE FROM login_throttle WHERE window_start < $1 AND locked_until <= $2")
        .bind(window_start)
        .bind(now)
        .execute(&db.pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(DbError::from)
}
