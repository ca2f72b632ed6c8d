//! SQL for subscribers, their categories, the per-article mailing decision and the fan-outs
//! into the outbox (one `INSERT … SELECT` each).

use sqlx::{AnyConnection, FromRow};

use crate::store::{Db, DbError, DbResult};

/// A subscriber as stored, with the reason its address is suppressed, if it is.
#[derive(Debug, Clone, FromRow)]
pub struct SubscriberRow {
    pub id: i64,
    pub email: String,
    pub status: String,
    pub frequency: String,
    pub all_categories: i64,
    pub source: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub confirm_sent_at: Option<i64>,
    pub suppressed: Option<String>,
}

const SUBSCRIBER: &str = "SELECT s.id, s.email, s.status, s.frequency, s.all_categories, s.source, s.created_at, \
     s.confirmed_at, s.confirm_sent_at, p.reason AS suppressed \
     FROM subscribers s LEFT JOIN mail_suppressions p ON p.email = s.email";

pub async fn by_email(conn: &mut AnyConnection, email: &str) -> DbResult<Option<SubscriberRow>> {
    sqlx::query_as(&format!("{SUBSCRIBER} WHERE s.email = $1"))
        .bind(email)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)
}

pub async fn by_id(conn: &mut AnyConnection, id: i64) -> DbResult<Option<SubscriberRow>> {
    sqlx::query_as(&format!("{SUBSCRIBER} WHERE s.id = $1")).bind(id).fetch_optional(conn).await.map_err(DbError::from)
}

pub async fn by_ids(db: &Db, ids: &[i64]) -> DbResult<Vec<SubscriberRow>> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let sql = format!("{SUBSCRIBER} WHERE s.id IN ({})", crate::store::numbered_rows("?", chunk.len(), 1));
        let mut query = sqlx::query_as::<_, SubscriberRow>(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        rows.extend(query.fetch_all(&db.pool).await?);
    }
    Ok(rows)
}

/// The chosen categories of the subscribers `ids` who do not take every category: (subscriber, category).
pub async fn categories_of(db: &Db, ids: &[i64]) -> DbResult<Vec<(i64, i64)>> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(1000) {
        let sql = format!(
            "SELECT subscriber_id, category_id FROM subscriber_categories WHERE subscriber_id IN ({})",
            crate::store::numbered_rows("?", chunk.len(), 1)
        );
        let mut query = sqlx::query_as::<_, (i64, i64)>(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        rows.extend(query.fetch_all(&db.pool).await?);
    }
    Ok(rows)
}

/// Every (subscriber, category slug) pair, for the CSV export.
pub async fn all_category_slugs(db: &Db) -> DbResult<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT sc.subscriber_id, c.slug FROM subscriber_categories sc JOIN categories c ON c.id = sc.category_id \
         ORDER BY sc.subscriber_id, c.slug",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Adds a subscriber unless the address is known; `false` if it was. Also the first statement of
/// transactions that go on to read: on SQLite a transaction must write first, or a concurrent
/// writer makes its later write fail ("database is locked") instead of waiting.
pub async fn insert_if_absent(
    conn: &mut AnyConnection,
    email: &str,
    status: &str,
    frequency: &str,
    source: &str,
    now: i64,
) -> DbResult<bool> {
    let confirmed_at = (status == "confirmed").then_some(now);
    let done = sqlx::query(
        "INSERT INTO subscribers (email, status, frequency, all_categories, source, created_at, updated_at, confirmed_at) \
         VALUES ($1, $2, $3, 1, $4, $5, $5, $6) ON CONFLICT (email) DO NOTHING",
    )
    .bind(email)
    .bind(status)
    .bind(frequency)
    .bind(source)
    .bind(now)
    .bind(confirmed_at)
    .execute(conn)
    .await
    ?;
    Ok(done.rows_affected() > 0)
}

/// Deletes a subscriber; returns their id, if there was one.
pub async fn delete_by_email(conn: &mut AnyConnection, email: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("DELETE FROM subscribers WHERE email = $1 RETURNING id")
        .bind(email)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)
}

/// One subscriber of a CSV import.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub email: String,
    pub status: &'static str,
    pub frequency: &'static str,
    pub all_categories: bool,
}

/// Inserts the rows whose address is new; returns (id, email) of those inserted.
pub async fn insert_many(conn: &mut AnyConnection, rows: &[ImportRow], now: i64) -> DbResult<Vec<(i64, String)>> {
    let mut inserted = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(500) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 2 + i * 5;
                format!("(${}, ${}, ${}, ${}, 'import', $1, $1, ${})", b, b + 1, b + 2, b + 3, b + 4)
            })
            .collect();
        let sql = format!(
            "INSERT INTO subscribers (email, status, frequency, all_categories, source, created_at, updated_at, confirmed_at) \
             VALUES {} ON CONFLICT (email) DO NOTHING RETURNING id, email",
            values.join(", ")
        );
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql).bind(now);
        for row in chunk {
            let confirmed_at = (row.status == "confirmed").then_some(now);
            query = query
                .bind(&row.email)
                .bind(row.status)
                .bind(row.frequency)
                .bind(row.all_categories as i64)
                .bind(confirmed_at);
        }
        inserted.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(inserted)
}

/// Replaces a subscriber's categories; `None` means every category.
pub async fn set_categories(conn: &mut AnyConnection, id: i64, categories: Option<&[i64]>, now: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM subscriber_categories WHERE subscriber_id = $1").bind(id).execute(&mut *conn).await?;
    if let Some(categories) = categories {
        for category in categories {
            sqlx::query(
                "INSERT INTO subscriber_categories (subscriber_id, category_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(*category)
            .execute(&mut *conn)
            .await?;
        }
    }
    sqlx::query("UPDATE subscribers SET all_categories = $1, updated_at = $2 WHERE id = $3")
        .bind(categories.is_none() as i64)
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_frequency(conn: &mut AnyConnection, id: i64, frequency: &str, now: i64) -> DbResult<()> {
    sqlx::query("UPDATE subscribers SET frequency = $1, updated_at = $2 WHERE id = $3")
        .bind(frequency)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A confirmation mail was queued now; an unsubscribed subscriber who asks again is pending.
pub async fn mark_confirmation_sent(conn: &mut AnyConnection, id: i64, now: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE subscribers SET confirm_sent_at = $1, updated_at = $1, \
         status = CASE WHEN status = 'unsubscribed' THEN 'pending' ELSE status END WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Confirms a subscriber; `false` if they already were.
pub async fn confirm(conn: &mut AnyConnection, id: i64, now: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE subscribers SET status = 'confirmed', confirmed_at = $1, updated_at = $1 \
         WHERE id = $2 AND status <> 'confirmed'",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Unsubscribes; `false` if they already were.
pub async fn unsubscribe(conn: &mut AnyConnection, id: i64, now: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = $1, updated_at = $1 \
         WHERE id = $2 AND status <> 'unsubscribed'",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Subscribers with `status` (any if `None`) whose address contains `search` (any if empty), in
/// id order.
pub async fn list(
    db: &Db,
    status: Option<&str>,
    search: &str,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<SubscriberRow>> {
    let sql = format!("{SUBSCRIBER} WHERE {MATCHING} ORDER BY s.id LIMIT $3 OFFSET $4");
    sqlx::query_as(&sql)
        .bind(status.unwrap_or(""))
        .bind(like_pattern(search))
        .bind(limit)
        .bind(offset)
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn count(db: &Db, status: Option<&str>, search: &str) -> DbResult<i64> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM subscribers s WHERE {MATCHING}"))
        .bind(status.unwrap_or(""))
        .bind(like_pattern(search))
        .fetch_one(&db.pool)
        .await
        .map_err(DbError::from)
}

/// The status (`$1`, empty for any) and the address pattern (`$2`, empty for any).
const MATCHING: &str = "($1 = '' OR s.status = $1) AND ($2 = '' OR s.email LIKE $2 ESCAPE '!')";

/// `%text%` for LIKE, its own `%`, `_` and `!` taken literally; addresses are stored in lower case.
fn like_pattern(search: &str) -> String {
    let search = search.trim().to_lowercase();
    if search.is_empty() {
        return search;
    }
    let escaped: String =
        search.chars().flat_map(|c| if matches!(c, '%' | '_' | '!') { vec!['!', c] } else { vec![c] }).collect();
    format!("%{escaped}%")
}

/// The address of subscriber `id`.
pub async fn email_of(db: &Db, id: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT email FROM subscribers WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

/// (status, frequency, suppressed, count).
pub async fn counts(db: &Db) -> DbResult<Vec<(String, String, i64, i64)>> {
    sqlx::query_as(
        "SELECT s.status, s.frequency, CASE WHEN p.email IS NULL THEN 0 ELSE 1 END AS suppressed, COUNT(*) \
         FROM subscribers s LEFT JOIN mail_suppressions p ON p.email = s.email \
         GROUP BY s.status, s.frequency, CASE WHEN p.email IS NULL THEN 0 ELSE 1 END ORDER BY 1, 2, 3",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

// ---- Article mail ----------------------------------------------------------------------

/// What an article mail shows of its article.
#[derive(Debug, Clone, FromRow)]
pub struct MailArticle {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub slug: String,
    pub title: String,
    pub excerpt: String,
    pub body_html: String,
    pub body_text: String,
    pub published_at: Option<i64>,
    pub category_id: Option<i64>,
    pub category_name: Option<String>,
    pub author_name: String,
}

pub async fn article(db: &Db, id: i64) -> DbResult<Option<MailArticle>> {
    sqlx::query_as(
        "SELECT a.id, a.kind, a.status, a.slug, a.title, a.excerpt, a.body_html, a.body_text, a.published_at, \
         a.category_id, c.name AS category_name, u.display_name AS author_name \
         FROM articles a JOIN users u ON u.id = a.author_id LEFT JOIN categories c ON c.id = a.category_id \
         WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Records the decision; `false` if one was recorded before (by another run of the job).
pub async fn record_mailing(
    conn: &mut AnyConnection,
    article_id: i64,
    category_id: Option<i64>,
    state: &str,
    now: i64,
) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO article_mailings (article_id, category_id, state, recipients, created_at) \
         VALUES ($1, $2, $3, 0, $4) ON CONFLICT (article_id) DO NOTHING",
    )
    .bind(article_id)
    .bind(category_id)
    .bind(state)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Turns a `skipped` decision into `sent` (a forced notification), dated now so the next
/// digests list it; a `sent` one keeps its date, so no digest lists it twice.
pub async fn force_mailing(conn: &mut AnyConnection, article_id: i64, now: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE article_mailings SET state = 'sent', created_at = CASE WHEN state = 'skipped' THEN $1 ELSE created_at END \
         WHERE article_id = $2",
    )
        .bind(now)
        .bind(article_id)
        .execute(conn)
        .await
        ?;
    Ok(())
}

pub async fn set_mailing_recipients(conn: &mut AnyConnection, article_id: i64, recipients: i64) -> DbResult<()> {
    sqlx::query("UPDATE article_mailings SET recipients = recipients + $1 WHERE article_id = $2")
        .bind(recipients)
        .bind(article_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Queues the mail about `article_id` for every confirmed, unsuppressed instant subscriber of
/// the site or of one of the article's categories, once each: one statement, whatever the
/// number of subscribers.
pub async fn fan_out(conn: &mut AnyConnection, kind: &str, topic: &str, article_id: i64, now: i64) -> DbResult<u64> {
    let done = sqlx::query(
        "INSERT INTO outbox (kind, topic, subscriber_id, recipient, payload, bulk, state, attempts, next_attempt_at, created_at) \
         SELECT $1, $2, s.id, s.email, NULL, 1, 'queued', 0, $3, $3 FROM subscribers s \
         WHERE s.status = 'confirmed' AND s.frequency = 'instant' \
         AND (s.all_categories = 1 OR EXISTS (SELECT 1 FROM subscriber_categories sc \
              JOIN article_categories ac ON ac.category_id = sc.category_id \
              WHERE sc.subscriber_id = s.id AND ac.article_id = $4)) \
         AND NOT EXISTS (SELECT 1 FROM mail_suppressions p WHERE p.email = s.email) \
         ON CONFLICT DO NOTHING",
    )
    .bind(kind)
    .bind(topic)
    .bind(now)
    .bind(article_id)
    .execute(conn)
    .await
    ?;
    Ok(done.rows_affected())
}

/// Queues a digest for every confirmed, unsuppressed subscriber of `frequency` with at least
/// one article of theirs first mailed in `[since, until)`, once per `topic`.
#[allow(clippy::too_many_arguments)]
pub async fn digest_fan_out(
    conn: &mut AnyConnection,
    kind: &str,
    topic: &str,
    payload: &str,
    frequency: &str,
    since: i64,
    until: i64,
    now: i64,
) -> DbResult<u64> {
    let done = sqlx::query(
        "INSERT INTO outbox (kind, topic, subscriber_id, recipient, payload, bulk, state, attempts, next_attempt_at, created_at) \
         SELECT $1, $2, s.id, s.email, $3, 1, 'queued', 0, $4, $4 FROM subscribers s \
         WHERE s.status = 'confirmed' AND s.frequency = $5 \
         AND NOT EXISTS (SELECT 1 FROM mail_suppressions p WHERE p.email = s.email) \
         AND EXISTS (SELECT 1 FROM article_mailings m WHERE m.state = 'sent' AND m.created_at >= $6 AND m.created_at < $7 \
              AND (s.all_categories = 1 OR EXISTS (SELECT 1 FROM subscriber_categories sc \
                   JOIN article_categories ac ON ac.category_id = sc.category_id \
                   WHERE sc.subscriber_id = s.id AND ac.article_id = m.article_id))) \
         ON CONFLICT DO NOTHING",
    )
    .bind(kind)
    .bind(topic)
    .bind(payload)
    .bind(now)
    .bind(frequency)
    .bind(since)
    .bind(until)
    .execute(conn)
    .await
    ?;
    Ok(done.rows_affected())
}

/// An article in a digest.
#[derive(Debug, Clone, FromRow)]
pub struct DigestArticle {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub excerpt: String,
    pub published_at: Option<i64>,
    pub category_id: Option<i64>,
    pub category_name: Option<String>,
    /// Every category it is filed under, the primary one included.
    #[sqlx(skip)]
    pub filed_under: Vec<i64>,
}

/// Articles first mailed in `[since, until)` and still published, newest first.
pub async fn digest_articles(db: &Db, since: i64, until: i64, limit: i64) -> DbResult<Vec<DigestArticle>> {
    let mut articles: Vec<DigestArticle> = sqlx::query_as(
        "SELECT a.id, a.slug, a.title, a.excerpt, a.published_at, a.category_id, c.name AS category_name \
         FROM article_mailings m JOIN articles a ON a.id = m.article_id LEFT JOIN categories c ON c.id = a.category_id \
         WHERE m.state = 'sent' AND m.created_at >= $1 AND m.created_at < $2 AND a.status = 'published' \
         ORDER BY m.created_at DESC, a.id DESC LIMIT $3",
    )
    .bind(since)
    .bind(until)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let filings: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT ac.article_id, ac.category_id FROM article_mailings m \
         JOIN article_categories ac ON ac.article_id = m.article_id \
         WHERE m.state = 'sent' AND m.created_at >= $1 AND m.created_at < $2",
    )
    .bind(since)
    .bind(until)
    .fetch_all(&db.pool)
    .await?;
    for article in &mut articles {
        article.filed_under = filings.iter().filter(|(id, _)| *id == article.id).map(|(_, c)| *c).collect();
    }
    Ok(articles)
}

/// Mail about one topic per state, for tests and the CLI: (state, count).
pub async fn topic_counts(db: &Db, topic: &str) -> DbResult<Vec<(String, i64)>> {
    sqlx::query_as("SELECT state, COUNT(*) FROM outbox WHERE topic = $1 GROUP BY state ORDER BY state")
        .bind(topic)
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}
