//! The database handle shared by every capability's queries.
//!
//! One `sqlx::AnyPool` serves both backends, so most queries are written once in the SQL that
//! SQLite and PostgreSQL share (`$1` placeholders, `RETURNING`, BIGINT Unix-second times).
//! Where the dialects really differ (full-text search, row locking) a query module branches on
//! [`Dialect`]. Each backend has its own migrations under `migrations/<backend>/`.
//!
//! Only modules named `queries` (and this one) contain SQL.

use std::path::Path;
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// The SQL dialect behind the pool, for the few queries that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A cheaply clonable database handle.
#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub dialect: Dialect,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("dialect", &self.dialect).finish()
    }
}

/// Errors a caller branches on; everything else is `Other`. Every `sqlx::Error` is classified
/// on its way in (`?` does it), so a missing row or a unique violation is never an `Other`.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated; the string names the constraint or column.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A value could not be encoded for its column (a job's or a mail's JSON payload).
    #[error("encoding a stored value: {0}")]
    Encode(#[from] serde_json::Error),
    #[error(transparent)]
    Other(sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    /// Unique violations become `Conflict`, missing rows `NotFound`.
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => DbError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                DbError::Conflict(db.constraint().unwrap_or(db.message()).to_string())
            }
            _ => DbError::Other(err),
        }
    }
}

impl DbError {
    /// Whether the database refused a value itself (too long, a NUL character for PostgreSQL):
    /// SQLSTATE class 22 on PostgreSQL, `SQLITE_TOOBIG` on SQLite. A statement writing many rows
    /// fails as a whole on such a value, without saying whose it was.
    pub fn is_refused_value(&self) -> bool {
        match self {
            DbError::Other(sqlx::Error::Database(db)) => {
                db.code().is_some_and(|code| code.starts_with("22") || code == "18")
            }
            _ => false,
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// The URL of the embedded default database inside a data folder.
pub fn sqlite_url_for(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("openvoice.db").display())
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and runs pending migrations.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            anyhow::bail!("database_url: expected a sqlite:// or postgres:// URL");
        };
        let options = AnyConnectOptions::from_str(url).context("parsing the database URL")?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers proceed while one writer commits; NORMAL
                        // synchronous in WAL mode loses no committed transaction on a process
                        // crash (only on power loss), which is the durability we promise.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to the {dialect:?} database"))?;
        let db = Db { pool, dialect };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        match self.dialect {
            Dialect::Sqlite => {
                // A migration that rebuilds a table (drops it and renames a copy) must not have the
                // drop cascade into the tables referring to it, and sqlx runs each SQLite
                // migration in a transaction, where foreign keys cannot be switched off.
                let mut conn = self.pool.acquire().await?;
                conn.execute("PRAGMA foreign_keys = OFF").await?;
                let migrated = sqlx::migrate!("./migrations/sqlite").run(&mut *conn).await;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                migrated
            }
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres").run(&self.pool).await,
        }
        .context("running database migrations")?;
        Ok(())
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and another connection then
    /// commits cannot upgrade its stale snapshot, and fails with `SQLITE_BUSY_SNAPSHOT` without
    /// waiting for `busy_timeout`.
    pub async fn begin(&self) -> DbResult<sqlx::Transaction<'static, sqlx::Any>> {
        let statement = match self.dialect {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        };
        Ok(self.pool.begin_with(statement).await?)
    }

    /// What the writes moving the content epoch from `seen` to `now` changed: `[Everything]`
    /// where the record of one of them is gone.
    pub async fn content_changes(&self, seen: i64, now: i64) -> DbResult<Vec<ContentChange>> {
        let everything = vec![ContentChange::Everything];
        if now - seen > KEPT_EPOCHS / 2 {
            return Ok(everything);
        }
        let rows: Vec<(i64, String, Option<i64>)> =
            sqlx::query_as("SELECT epoch, scope, article_id FROM content_changes WHERE epoch > $1 AND epoch <= $2")
                .bind(seen)
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
        let epochs: std::collections::HashSet<i64> = rows.iter().map(|(epoch, _, _)| *epoch).collect();
        if epochs.len() as i64 != now - seen {
            return Ok(everything);
        }
        Ok(rows.iter().map(|(_, scope, article_id)| ContentChange::from_scope(scope, *article_id)).collect())
    }

    /// The content epoch: bumped in the same transaction as every content change.
    pub async fn content_epoch(&self) -> DbResult<i64> {
        sqlx::query_scalar("SELECT value FROM site_state WHERE key = 'content_epoch'")
            .fetch_one(&self.pool)
            .await
            .map_err(DbError::from)
    }
}

/// What a content write changed, so that page caches drop only the pages showing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentChange {
    /// What any page may show: settings, categories, prices, many articles at once.
    Everything,
    /// An article's text, status or place in listings: its own pages, every other page but
    /// other articles' pages, and those (which link to their neighbours) after a bounded lag.
    Article(i64),
    /// What shows only on an article's own pages (its comments, its IPFS links), and on the
    /// pages that are no article's (listings, feeds).
    AroundArticle(i64),
}

impl ContentChange {
    fn scope(self) -> (&'static str, Option<i64>) {
        match self {
            ContentChange::Everything => ("everything", None),
            ContentChange::Article(id) => ("article", Some(id)),
            ContentChange::AroundArticle(id) => ("extras", Some(id)),
        }
    }

    fn from_scope(scope: &str, article_id: Option<i64>) -> ContentChange {
        match (scope, article_id) {
            ("article", Some(id)) => ContentChange::Article(id),
            ("extras", Some(id)) => ContentChange::AroundArticle(id),
            _ => ContentChange::Everything,
        }
    }
}

/// Changes recorded per write; a write changing more articles counts as `Everything`.
const MOST_SCOPED_CHANGES: usize = 100;
/// Epochs whose changes are kept: a node further behind drops every page.
const KEPT_EPOCHS: i64 = 10_000;

/// Bumps the content epoch inside the caller's transaction, recording what changed.
pub async fn bump_content_epoch(tx: &mut sqlx::AnyConnection, changes: &[ContentChange]) -> DbResult<()> {
    let epoch: i64 =
        sqlx::query_scalar("UPDATE site_state SET value = value + 1 WHERE key = 'content_epoch' RETURNING value")
            .fetch_one(&mut *tx)
            .await?;
    let scoped =
        !changes.is_empty() && changes.len() <= MOST_SCOPED_CHANGES && !changes.contains(&ContentChange::Everything);
    let rows: Vec<(&str, Option<i64>)> =
        if scoped { changes.iter().map(|c| c.scope()).collect() } else { vec![ContentChange::Everything.scope()] };
    let sql = format!(
        "INSERT INTO content_changes (epoch, scope, article_id) VALUES {}",
        numbered_rows("(?, ?, ?)", rows.len(), 1)
    );
    let mut insert = sqlx::query(&sql);
    for (scope, article_id) in rows {
        insert = insert.bind(epoch).bind(scope).bind(article_id);
    }
    insert.execute(&mut *tx).await?;
    sqlx::query("DELETE FROM content_changes WHERE epoch <= $1").bind(epoch - KEPT_EPOCHS).execute(tx).await?;
    Ok(())
}

/// Replaces the site secret `name` (an imported key).
pub async fn replace_site_secret(db: &Db, name: &str, value: &str) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO site_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(name)
    .bind(value)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Now, as Unix seconds: the unit every stored time uses.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What a shared token bucket answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateToken {
    Taken,
    /// None to take: the bucket holds `tokens` (< 1).
    Refused {
        tokens: f64,
    },
}

/// Takes a token from the shared bucket `(scope, client)` of `burst` tokens refilled at
/// `per_ms`, in one statement, so that nodes taking at once each see the other's take.
pub async fn take_rate_token(
    db: &Db,
    scope: &str,
    client: &str,
    burst: f64,
    per_ms: f64,
    now_ms: i64,
) -> DbResult<RateToken> {
    // Every SET expression reads the row as it was; `refill` is written out twice for that.
    let refill = "CASE WHEN rate_buckets.tokens + ($4 - rate_buckets.at_ms) * $5 > $3 THEN $3 \
                  ELSE rate_buckets.tokens + ($4 - rate_buckets.at_ms) * $5 END";
    let sql = format!(
        "INSERT INTO rate_buckets (scope, client, tokens, taken, at_ms) VALUES ($1, $2, $3 - 1, 1, $4) \
         ON CONFLICT (scope, client) DO UPDATE SET \
         tokens = CASE WHEN {refill} >= 1 THEN {refill} - 1 ELSE {refill} END, \
         taken = CASE WHEN {refill} >= 1 THEN 1 ELSE 0 END, \
         at_ms = $4 \
         RETURNING tokens, taken"
    );
    let (tokens, taken): (f64, i64) =
        sqlx::query_as(&sql).bind(scope).bind(client).bind(burst).bind(now_ms).bind(per_ms).fetch_one(&db.pool).await?;
    Ok(if taken == 1 { RateToken::Taken } else { RateToken::Refused { tokens } })
}

/// Drops the buckets of `scope` untouched since `before_ms`: full again, they hold nothing a
/// new bucket would not.
pub async fn prune_rate_buckets(db: &Db, scope: &str, before_ms: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM rate_buckets WHERE scope = $1 AND at_ms < $2")
        .bind(scope)
        .bind(before_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Appends to the activity log (dashboard, audit) inside the caller's transaction.
pub async fn record_activity(
    conn: &mut sqlx::AnyConnection,
    kind: &str,
    subject_id: Option<i64>,
    detail: &str,
) -> DbResult<()> {
    record_activity_many(conn, &[(kind, subject_id, detail)]).await
}

/// `record_activity` of each `(kind, subject_id, detail)`, in a few statements.
pub async fn record_activity_many(
    conn: &mut sqlx::AnyConnection,
    entries: &[(&str, Option<i64>, &str)],
) -> DbResult<()> {
    let now = now();
    for chunk in entries.chunks(rows_per_statement(4)) {
        let sql = format!(
            "INSERT INTO activity (kind, subject_id, detail, created_at) VALUES {}",
            numbered_rows("(?, ?, ?, ?)", chunk.len(), 1)
        );
        let mut query = sqlx::query(&sql);
        for (kind, subject_id, detail) in chunk {
            query = query.bind(*kind).bind(*subject_id).bind(*detail).bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Bind parameters per multi-row statement. The backends allow many more (SQLite 32,766,
/// PostgreSQL 65,535), but SQLite finds a parameter's name by a linear scan of the statement's
/// parameters (`sqlite3_bind_parameter_name`, which sqlx calls for each one), so binding costs
/// grow with the square of a statement's parameters: at 8,000 per statement that scan was half
/// of a 10,000-file import's time, at 1,000 an eighth. 500 keeps it small with few round trips
/// (250 measured no faster).
pub const BINDS_PER_STATEMENT: usize = 500;

/// How many rows of `binds_per_row` parameters one statement carries.
pub fn rows_per_statement(binds_per_row: usize) -> usize {
    (BINDS_PER_STATEMENT / binds_per_row.max(1)).max(1)
}

/// `rows` copies of `template` separated by commas, each `?` in them numbered in order from
/// `$first`: `numbered_rows("(?, 0, ?)", 2, 1)` is `($1, 0, $2), ($3, 0, $4)`. Both backends
/// accept the result, for `VALUES` lists (`template` a parenthesised row) and `IN` lists (`"?"`).
pub fn numbered_rows(template: &str, rows: usize, first: usize) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(rows * (template.len() + 8));
    let mut n = first;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        for c in template.chars() {
            if c == '?' {
                let _ = write!(sql, "${n}");
                n += 1;
            } else {
                sql.push(c);
            }
        }
    }
    sql
}

/// The site secret `name`, if some node has created it: for secrets costly to make
/// ([`site_secret`] takes a fresh value every call).
pub async fn find_site_secret(db: &Db, name: &str) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT value FROM site_secrets WHERE name = $1").bind(name).fetch_optional(&db.pool).await?)
}

/// The site secret called `name`, created with `fresh` by whichever node asks first.
pub async fn site_secret(db: &Db, name: &str, fresh: &str) -> DbResult<String> {
    let kept = sqlx::query_scalar("SELECT value FROM site_secrets WHERE name = $1").bind(name).fetch_optional(&db.pool);
    if let Some(value) = kept.await? {
        return Ok(value);
    }
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO site_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(fresh)
        .execute(&mut *tx)
        .await?;
    let value =
        sqlx::query_scalar("SELECT value FROM site_secrets WHERE name = $1").bind(name).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(value)
}
