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
    user_agent: &str,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen_at, expires_at, user_agent) \
         VALUES ($1, $2, $3, $4, $4, $5, $6)",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(csrf)
    .bind(now)
    .bind(expires_at)
    .bind(user_agent)
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

// Two-factor sign-in.

/// The user's TOTP key (hex), whether it is confirmed, and the last step a code was taken for.
pub async fn totp_of(db: &Db, user_id: i64) -> DbResult<Option<(String, bool, i64)>> {
    let row: Option<(String, Option<i64>, i64)> =
        sqlx::query_as("SELECT secret, confirmed_at, last_step FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(secret, confirmed_at, last_step)| (secret, confirmed_at.is_some(), last_step)))
}

/// Starts a setup: a new unconfirmed key, replacing any key the user had not confirmed.
pub async fn begin_totp(db: &Db, user_id: i64, secret: &str, now: i64) -> DbResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM user_totp WHERE user_id = $1 AND confirmed_at IS NULL")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO user_totp (user_id, secret, created_at, confirmed_at, last_step) VALUES ($1, $2, $3, NULL, 0)",
    )
    .bind(user_id)
    .bind(secret)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes the code of `step` for the user's key: only if no code of that step or a later one
/// was taken before (a code is good once). `confirm` also confirms an unconfirmed key.
pub async fn take_totp_step(
    conn: &mut AnyConnection,
    user_id: i64,
    step: i64,
    now: i64,
    confirm: bool,
) -> DbResult<bool> {
    let confirmed = if confirm { "confirmed_at IS NULL" } else { "confirmed_at IS NOT NULL" };
    let sql = format!(
        "UPDATE user_totp SET last_step = $1, confirmed_at = COALESCE(confirmed_at, $2) \
         WHERE user_id = $3 AND last_step < $1 AND {confirmed}"
    );
    let done = sqlx::query(&sql).bind(step).bind(now).bind(user_id).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_totp(conn: &mut AnyConnection, user_id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM user_totp WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(conn).await?;
    Ok(())
}

/// Replaces the user's recovery codes with these hashes.
pub async fn replace_recovery_codes(conn: &mut AnyConnection, user_id: i64, hashes: &[String]) -> DbResult<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Uses up a recovery code: whether it was one of the user's.
pub async fn use_recovery_code(conn: &mut AnyConnection, user_id: i64, hash: &str) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2")
        .bind(user_id)
        .bind(hash)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn recovery_codes_left(db: &Db, user_id: i64) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn insert_challenge(
    conn: &mut AnyConnection,
    id_hash: &str,
    user_id: i64,
    remember: bool,
    expires_at: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO login_challenges (id_hash, user_id, remember, expires_at, failures) VALUES ($1, $2, $3, $4, 0)",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(remember as i64)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user a live challenge is for, and whether they asked to be remembered.
pub async fn live_challenge(db: &Db, id_hash: &str, now: i64, max_failures: i64) -> DbResult<Option<(User, bool)>> {
    let row: Option<(i64, String, String, String, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.username, u.email, u.display_name, u.role, c.remember FROM login_challenges c \
         JOIN users u ON u.id = c.user_id \
         WHERE c.id_hash = $1 AND c.expires_at > $2 AND c.failures < $3 AND u.disabled_at IS NULL",
    )
    .bind(id_hash)
    .bind(now)
    .bind(max_failures)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(id, username, email, display_name, role, remember)| {
        (user((id, username, email, display_name, role)), remember == 1)
    }))
}

pub async fn fail_challenge(conn: &mut AnyConnection, id_hash: &str) -> DbResult<()> {
    sqlx::query("UPDATE login_challenges SET failures = failures + 1 WHERE id_hash = $1")
        .bind(id_hash)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_challenge(conn: &mut AnyConnection, id_hash: &str, now: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM login_challenges WHERE id_hash = $1 OR expires_at <= $2")
        .bind(id_hash)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// A user's sessions, newest first: (id hash, created, last seen, user agent).
pub async fn sessions_of(db: &Db, user_id: i64, now: i64) -> DbResult<Vec<(String, i64, i64, String)>> {
    sqlx::query_as(
        "SELECT id_hash, created_at, last_seen_at, user_agent FROM sessions \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}
