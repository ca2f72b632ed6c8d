//! SQL for market prices. One text serves both backends (`ON CONFLICT … DO UPDATE`, 0/1 BIGINT
//! flags, REAL/DOUBLE PRECISION prices read as f64).

use sqlx::{AnyConnection, FromRow};

use crate::market::model::{Observation, PricePoint, Quote};
use crate::store::{Db, DbError, DbResult};

#[derive(FromRow)]
struct QuoteRow {
    coin_id: String,
    usd: f64,
    change_24h: Option<f64>,
    stale: i64,
    source: String,
    observed_at: i64,
    provider_updated_at: Option<i64>,
}

impl From<QuoteRow> for Quote {
    fn from(r: QuoteRow) -> Self {
        Quote {
            coin_id: r.coin_id,
            usd: r.usd,
            change_24h: r.change_24h,
            stale: r.stale != 0,
            source: r.source,
            observed_at: r.observed_at,
            provider_updated_at: r.provider_updated_at,
        }
    }
}

/// Every stored quote.
pub async fn quotes(db: &Db) -> DbResult<Vec<Quote>> {
    let rows: Vec<QuoteRow> = sqlx::query_as(
        "SELECT coin_id, usd, change_24h, stale, source, observed_at, provider_updated_at FROM market_quotes ORDER BY coin_id",
    )
    .fetch_all(&db.pool)
    .await
    ?;
    Ok(rows.into_iter().map(Quote::from).collect())
}

/// History points of every coin from `since` on, by coin then time.
pub async fn points_since(db: &Db, since: i64) -> DbResult<Vec<(String, PricePoint)>> {
    let rows: Vec<(String, i64, f64)> =
        sqlx::query_as("SELECT coin_id, at, usd FROM market_points WHERE at >= $1 ORDER BY coin_id, at")
            .bind(since)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(|(coin, at, usd)| (coin, PricePoint { at, usd })).collect())
}

/// A provider's shared back-off state.
#[derive(Debug, Clone, FromRow)]
pub struct ProviderState {
    pub name: String,
    pub failures: i64,
    pub blocked_until: i64,
}

pub async fn provider_states(db: &Db) -> DbResult<Vec<ProviderState>> {
    sqlx::query_as("SELECT name, failures, blocked_until FROM market_providers")
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

/// When each coin's history was last fetched.
pub async fn history_synced(db: &Db) -> DbResult<Vec<(String, i64)>> {
    sqlx::query_as("SELECT coin_id, synced_at FROM market_history_sync")
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Stores a checked observation as the coin's current value (fresh unless the provider said
/// otherwise).
pub async fn upsert_quote(conn: &mut AnyConnection, obs: &Observation, source: &str, observed_at: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO market_quotes (coin_id, usd, change_24h, provider_stale, stale, source, observed_at, provider_updated_at) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7) \
         ON CONFLICT (coin_id) DO UPDATE SET usd = excluded.usd, change_24h = excluded.change_24h, \
         provider_stale = excluded.provider_stale, stale = excluded.stale, source = excluded.source, \
         observed_at = excluded.observed_at, provider_updated_at = excluded.provider_updated_at",
    )
    .bind(obs.coin.as_str())
    .bind(obs.usd)
    .bind(obs.change_24h)
    .bind(i64::from(obs.provider_stale))
    .bind(source)
    .bind(observed_at)
    .bind(obs.provider_updated_at)
    .execute(conn)
    .await
    ?;
    Ok(())
}

/// Rows per INSERT when storing history.
const POINTS_PER_STATEMENT: usize = 200;

/// Stores history points (at most one per `at`; the caller buckets and de-duplicates),
/// replacing what a bucket held.
pub async fn upsert_points(conn: &mut AnyConnection, coin_id: &str, points: &[PricePoint]) -> DbResult<()> {
    for chunk in points.chunks(POINTS_PER_STATEMENT) {
        let values: Vec<String> =
            (0..chunk.len()).map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3)).collect();
        let sql = format!(
            "INSERT INTO market_points (coin_id, at, usd) VALUES {} ON CONFLICT (coin_id, at) DO UPDATE SET usd = excluded.usd",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for p in chunk {
            query = query.bind(coin_id).bind(p.at).bind(p.usd);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn mark_history_synced(conn: &mut AnyConnection, coin_id: &str, at: i64, source: &str) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO market_history_sync (coin_id, synced_at, source) VALUES ($1, $2, $3) \
         ON CONFLICT (coin_id) DO UPDATE SET synced_at = excluded.synced_at, source = excluded.source",
    )
    .bind(coin_id)
    .bind(at)
    .bind(source)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn record_provider_success(conn: &mut AnyConnection, name: &str, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO market_providers (name, failures, blocked_until, last_error, last_success_at) VALUES ($1, 0, 0, NULL, $2) \
         ON CONFLICT (name) DO UPDATE SET failures = 0, blocked_until = 0, last_error = NULL, last_success_at = excluded.last_success_at",
    )
    .bind(name)
    .bind(now)
    .execute(conn)
    .await
    ?;
    Ok(())
}

pub async fn record_provider_failure(
    conn: &mut AnyConnection,
    name: &str,
    failures: i64,
    blocked_until: i64,
    error: &str,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO market_providers (name, failures, blocked_until, last_error) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET failures = excluded.failures, blocked_until = excluded.blocked_until, \
         last_error = excluded.last_error",
    )
    .bind(name)
    .bind(failures)
    .bind(blocked_until)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Recomputes every quote's `stale` flag (provider-flagged, or observed before `fresh_since`);
/// returns how many changed.
pub async fn refresh_stale_flags(conn: &mut AnyConnection, fresh_since: i64) -> DbResult<u64> {
    let flag = "CASE WHEN provider_stale = 1 OR observed_at < $1 THEN 1 ELSE 0 END";
    let result = sqlx::query(&format!("UPDATE market_quotes SET stale = {flag} WHERE stale <> {flag}"))
        .bind(fresh_since)
        .execute(conn)
        .await?;
    Ok(result.rows_affected())
}

/// Deletes history older than `before`; returns how many points went.
pub async fn prune_points(conn: &mut AnyConnection, before: i64) -> DbResult<u64> {
    let result = sqlx::query("DELETE FROM market_points WHERE at < $1").bind(before).execute(conn).await?;
    Ok(result.rows_affected())
}
