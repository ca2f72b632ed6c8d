//! Subscription decisions. Every write runs in one transaction, and mail is queued in the same
//! transaction as the change that causes it, so nothing is half-done.
//!
//! Subscription changes do not bump the content epoch: no cached page shows subscribers.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration as Days, NaiveTime, Utc};
use tracing::info;

use crate::config::subscriptions::SubscriptionsConfig;
use crate::mail::queries::{self as mail_queries, NewMail};
use crate::store::{self, Db, DbError};
use crate::subscriptions::compose::{ARTICLE_KIND, CONFIRM_KIND, DIGEST_KIND};
use crate::subscriptions::csv;
use crate::subscriptions::model::{Address, AddressError, Frequency, Status, Subscriber};
use crate::subscriptions::queries::{self, ImportRow, SubscriberRow};
use crate::subscriptions::tokens::{self, Keys, TokenError};

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("{0}")]
    Address(#[from] AddressError),
    #[error("the link is not valid ({0:?})")]
    Token(TokenError),
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("no subscriber {0}")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for SubscriptionError {
    fn from(err: sqlx::Error) -> Self {
        SubscriptionError::Db(err.into())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> SubscriptionError {
    SubscriptionError::Invalid { field, message: message.into() }
}

impl SubscriberRow {
    /// The subscriber with their categories (`None` = every category).
    pub fn into_subscriber(self, categories: Option<Vec<i64>>) -> Subscriber {
        Subscriber {
            id: self.id,
            status: Status::parse(&self.status).unwrap_or(Status::Pending),
            frequency: Frequency::parse(&self.frequency).unwrap_or(Frequency::Instant),
            categories: if self.all_categories != 0 { None } else { Some(categories.unwrap_or_default()) },
            suppressed: self.suppressed,
            email: self.email,
            source: self.source,
            created_at: self.created_at,
            confirmed_at: self.confirmed_at,
        }
    }
}

// ---- Subscribing ---------------------------------------------------------------------------

/// What a subscribe request did; the reader is told the same in every case (no address
/// enumeration), the CLI and tests may look closer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// A confirmation mail (or, for a confirmed subscriber, a "you are subscribed" mail with
    /// the manage link) was queued.
    MailQueued,
    /// A mail went to this address less than `confirm_resend_secs` ago; nothing was queued.
    Throttled,
}

/// A reader asks to subscribe `address` (the widget, or `openvoice subscribers add`).
/// Idempotent: one subscriber per address, whatever its state; at most one mail per
/// `confirm_resend_secs`.
pub async fn request(
    db: &Db,
    config: &SubscriptionsConfig,
    address: &Address,
    source: &str,
    now: i64,
) -> Result<Requested, DbError> {
    let mut tx = db.begin().await?;
    queries::insert_if_absent(&mut tx, address.as_str(), "pending", "instant", source, now).await?;
    let existing = queries::by_email(&mut tx, address.as_str()).await?.ok_or(DbError::NotFound)?;
    if existing.confirm_sent_at.is_some_and(|at| now - at < config.confirm_resend_secs) {
        return Ok(Requested::Throttled);
    }
    let id = existing.id;
    queries::mark_confirmation_sent(&mut tx, id, now).await?;
    let topic = format!("confirm:{now}");
    let row = NewMail {
        kind: CONFIRM_KIND,
        topic: &topic,
        subscriber_id: Some(id),
        recipient: address.as_str(),
        payload: None,
        bulk: false,
    };
    mail_queries::insert(&mut tx, &row, now).await?;
    tx.commit().await?;
    Ok(Requested::MailQueued)
}

/// Adds a confirmed subscriber without asking them (the operator vouches for their consent).
/// A suppressed address is refused: it must confirm anew.
pub async fn add_confirmed(
    db: &Db,
    address: &Address,
    frequency: Frequency,
    now: i64,
) -> Result<Subscriber, SubscriptionError> {
    let mut tx = db.begin().await?;
    queries::insert_if_absent(&mut tx, address.as_str(), "confirmed", frequency.as_str(), "cli", now).await?;
    if let Some(reason) = mail_queries::suppression(&mut tx, address.as_str()).await? {
        // Dropping the transaction rolls the insert back.
        return Err(invalid(
            "email",
            format!("{address} is suppressed ({reason}); it can only come back by confirming (subscribe without --confirmed)"),
        ));
    }
    let id = queries::by_email(&mut tx, address.as_str()).await?.ok_or(DbError::NotFound)?.id;
    queries::confirm(&mut tx, id, now).await?;
    queries::set_frequency(&mut tx, id, frequency.as_str(), now).await?;
    let row = queries::by_id(&mut tx, id).await?.ok_or(DbError::NotFound)?;
    tx.commit().await?;
    Ok(row.into_subscriber(None))
}

/// Loads the subscriber a token names and checks the token against their address. Read on its
/// own connection: the transactions that follow start with a write (see
/// `queries::insert_if_absent`).
async fn verified(
    db: &Db,
    keys: &Keys,
    token: &str,
    check: impl FnOnce(&Keys, &tokens::Claims, &str) -> Result<(), TokenError>,
) -> Result<SubscriberRow, SubscriptionError> {
    let claims = tokens::parse(token).ok_or(SubscriptionError::Token(TokenError::Forged))?;
    let mut conn = db.pool.acquire().await?;
    let row =
        queries::by_id(&mut conn, claims.subscriber_id).await?.ok_or(SubscriptionError::Token(TokenError::Forged))?;
    check(keys, &claims, &row.email).map_err(SubscriptionError::Token)?;
    Ok(row)
}

/// Who a confirmation token is for, without changing anything (the page with the button).
pub async fn check_confirmation(
    db: &Db,
    keys: &Keys,
    config: &SubscriptionsConfig,
    token: &str,
    now: i64,
) -> Result<Subscriber, SubscriptionError> {
    let max_age = config.confirm_max_age_hours * 3600;
    let row = verified(db, keys, token, |k, c, e| k.check_confirm(c, e, now, max_age)).await?;
    Ok(row.into_subscriber(None))
}

/// Confirms the subscriber of a confirmation token: from now on they receive articles, and
/// their address leaves the suppression list. Returns them and whether they were not
/// confirmed before.
pub async fn confirm(
    db: &Db,
    keys: &Keys,
    config: &SubscriptionsConfig,
    token: &str,
    now: i64,
) -> Result<(Subscriber, bool), SubscriptionError> {
    let max_age = config.confirm_max_age_hours * 3600;
    let row = verified(db, keys, token, |k, c, e| k.check_confirm(c, e, now, max_age)).await?;
    let mut tx = db.begin().await?;
    let changed = queries::confirm(&mut tx, row.id, now).await?;
    mail_queries::unsuppress(&mut tx, &row.email).await?;
    let row = queries::by_id(&mut tx, row.id).await?.ok_or(DbError::NotFound)?;
    tx.commit().await?;
    if changed {
        info!(subscriber.id = row.id, "Subscription confirmed");
    }
    Ok((row.into_subscriber(None), changed))
}

// ---- Managing ------------------------------------------------------------------------------

/// The subscriber of a manage/unsubscribe token, with their categories.
pub async fn manage(db: &Db, keys: &Keys, token: &str) -> Result<Subscriber, SubscriptionError> {
    let row = verified(db, keys, token, |k, c, e| k.check_manage(c, e)).await?;
    with_categories(db, row).await
}

async fn with_categories(db: &Db, row: SubscriberRow) -> Result<Subscriber, SubscriptionError> {
    let categories = if row.all_categories != 0 {
        None
    } else {
        Some(queries::categories_of(db, &[row.id]).await?.into_iter().map(|(_, c)| c).collect())
    };
    Ok(row.into_subscriber(categories))
}

/// New preferences from the manage page: how often, and which categories (`None` = all).
pub async fn update(
    db: &Db,
    keys: &Keys,
    token: &str,
    frequency: Frequency,
    categories: Option<Vec<i64>>,
    now: i64,
) -> Result<Subscriber, SubscriptionError> {
    let known: HashSet<i64> =
        crate::content::queries::terms::categories_with_counts(db).await?.into_iter().map(|(c, _)| c.id).collect();
    if let Some(ids) = &categories {
        if ids.is_empty() {
            return Err(invalid("categories", "choose at least one category, or all of them"));
        }
        if let Some(unknown) = ids.iter().find(|id| !known.contains(id)) {
            return Err(invalid("categories", format!("no category {unknown}")));
        }
    }
    let row = verified(db, keys, token, |k, c, e| k.check_manage(c, e)).await?;
    let mut tx = db.begin().await?;
    queries::set_frequency(&mut tx, row.id, frequency.as_str(), now).await?;
    queries::set_categories(&mut tx, row.id, categories.as_deref(), now).await?;
    let row = queries::by_id(&mut tx, row.id).await?.ok_or(DbError::NotFound)?;
    tx.commit().await?;
    with_categories(db, row).await
}

/// Unsubscribes the subscriber of a manage token (the page's button, or an RFC 8058
/// one-click POST from a mail client): the address is suppressed and its queued mail
/// cancelled. Idempotent; returns whether they were subscribed until now.
pub async fn unsubscribe(db: &Db, keys: &Keys, token: &str, now: i64) -> Result<(Subscriber, bool), SubscriptionError> {
    let row = verified(db, keys, token, |k, c, e| k.check_manage(c, e)).await?;
    let mut tx = db.begin().await?;
    let changed = unsubscribe_row(&mut tx, &row, "link", now).await?;
    let row = queries::by_id(&mut tx, row.id).await?.ok_or(DbError::NotFound)?;
    tx.commit().await?;
    Ok((row.into_subscriber(None), changed))
}

async fn unsubscribe_row(
    conn: &mut sqlx::AnyConnection,
    row: &SubscriberRow,
    how: &str,
    now: i64,
) -> Result<bool, DbError> {
    let changed = queries::unsubscribe(conn, row.id, now).await?;
    mail_queries::suppress(conn, &row.email, "unsubscribed", how, now).await?;
    mail_queries::cancel_for_subscriber(conn, row.id, "unsubscribed").await?;
    if changed {
        info!(subscriber.id = row.id, how, "Unsubscribed");
    }
    Ok(changed)
}

/// Unsubscribes an address by hand (a `mailto:` unsubscribe request). `false` if unknown.
pub async fn unsubscribe_address(db: &Db, address: &Address, now: i64) -> Result<bool, DbError> {
    let mut tx = db.begin().await?;
    mail_queries::suppress(&mut tx, address.as_str(), "unsubscribed", "operator", now).await?;
    let found = match queries::by_email(&mut tx, address.as_str()).await? {
        Some(row) => {
            unsubscribe_row(&mut tx, &row, "operator", now).await?;
            true
        }
        None => false,
    };
    tx.commit().await?;
    Ok(found)
}

/// The address of subscriber `id`, if there is one.
pub async fn address_of(db: &Db, id: i64) -> Result<Option<Address>, DbError> {
    Ok(queries::email_of(db, id).await?.and_then(|email| Address::parse(&email).ok()))
}

/// Deletes a subscriber and cancels their queued mail; the suppression list keeps the
/// address if it is on it. `false` if unknown.
pub async fn remove(db: &Db, address: &Address) -> Result<bool, DbError> {
    let mut tx = db.begin().await?;
    let Some(id) = queries::delete_by_email(&mut tx, address.as_str()).await? else {
        return Ok(false);
    };
    mail_queries::cancel_for_subscriber(&mut tx, id, "subscriber removed").await?;
    tx.commit().await?;
    Ok(true)
}

// ---- Articles ------------------------------------------------------------------------------

/// What a notification run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FanOut {
    /// Mail queued for this many subscribers.
    Queued(u64),
    /// Decided before (by an earlier run): nothing done.
    AlreadyDone,
    /// Nobody is mailed, for this reason.
    Skipped(String),
}

/// Queues the mail about article `article_id` for its subscribers, once per article ever.
/// `queued_at` is when the article went live (the job's creation): an article published
/// more than `notify_window_hours` before that is back-catalogue (an import) and mails
/// nobody, unless `force`.
pub async fn fan_out(
    db: &Db,
    config: &SubscriptionsConfig,
    article_id: i64,
    queued_at: i64,
    force: bool,
    now: i64,
) -> Result<FanOut, DbError> {
    if !config.enabled {
        return Ok(FanOut::Skipped("subscriptions are disabled (subscriptions.enabled = false)".into()));
    }
    let Some(article) = queries::article(db, article_id).await? else {
        return Ok(FanOut::Skipped("no such article".into()));
    };
    if article.kind != "post" || article.status != "published" {
        return Ok(FanOut::Skipped("not a published article".into()));
    }
    let published_at = article.published_at.unwrap_or(queued_at);
    let fresh = published_at >= queued_at - config.notify_window_hours * 3600;
    let state = if fresh || force { "sent" } else { "skipped" };
    let mut tx = db.begin().await?;
    // The decision first: a write, so concurrent runs serialise on it (and SQLite does not
    // refuse a read-then-write transaction).
    let first = queries::record_mailing(&mut tx, article_id, article.category_id, state, now).await?;
    match (first, force) {
        (false, false) => return Ok(FanOut::AlreadyDone),
        (false, true) => queries::force_mailing(&mut tx, article_id, now).await?,
        (true, _) if state == "skipped" => {
            tx.commit().await?;
            return Ok(FanOut::Skipped(format!(
                "first published more than {} hours before it went live here (an import)",
                config.notify_window_hours
            )));
        }
        (true, _) => {}
    }
    let topic = format!("article:{article_id}");
    let queued = queries::fan_out(&mut tx, ARTICLE_KIND, &topic, article_id, now).await?;
    queries::set_mailing_recipients(&mut tx, article_id, queued as i64).await?;
    store::record_activity(&mut tx, "article.mailed", Some(article_id), &format!("{queued} subscriber(s)")).await?;
    tx.commit().await?;
    info!(article.id = article_id, queued, "Queued article mail for {queued} subscriber(s)");
    Ok(FanOut::Queued(queued))
}

// ---- Digests -------------------------------------------------------------------------------

/// The digest period of `frequency` that ended most recently at or before `now`:
/// (topic, since, until).
pub fn digest_period(config: &SubscriptionsConfig, frequency: Frequency, now: i64) -> Option<(String, i64, i64)> {
    let now = DateTime::<Utc>::from_timestamp(now, 0)?;
    let at = NaiveTime::from_hms_opt(config.digest_hour, 0, 0)?;
    let mut until = now.date_naive().and_time(at).and_utc();
    if until > now {
        until -= Days::days(1);
    }
    let length = match frequency {
        Frequency::Instant => return None,
        Frequency::Daily => Days::days(1),
        Frequency::Weekly => {
            let weekday = config.weekday()?;
            while until.weekday() != weekday {
                until -= Days::days(1);
            }
            Days::days(7)
        }
    };
    let since = until - length;
    let topic = format!("digest:{}:{}", frequency.as_str(), until.format("%Y-%m-%d"));
    Some((topic, since.timestamp(), until.timestamp()))
}

/// Queues the digests of the periods that ended most recently at `at` (now, but for tests),
/// once per subscriber and period: safe to run at any time, as often as wanted. Returns
/// (topic, mails queued).
pub async fn queue_digests(db: &Db, config: &SubscriptionsConfig, at: i64) -> Result<Vec<(String, u64)>, DbError> {
    let now = store::now();
    let mut queued = Vec::new();
    if !config.enabled {
        return Ok(queued);
    }
    for frequency in [Frequency::Daily, Frequency::Weekly] {
        let Some((topic, since, until)) = digest_period(config, frequency, at) else { continue };
        let payload =
            serde_json::json!({ "since": since, "until": until, "frequency": frequency.as_str() }).to_string();
        let mut tx = db.begin().await?;
        let n = queries::digest_fan_out(&mut tx, DIGEST_KIND, &topic, &payload, frequency.as_str(), since, until, now)
            .await?;
        tx.commit().await?;
        if n > 0 {
            info!(queued = n, "Queued {n} {} digest(s)", frequency.as_str());
        }
        queued.push((topic, n));
    }
    Ok(queued)
}

// ---- Lists ---------------------------------------------------------------------------------

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    /// Addresses that were subscribers already (left as they are).
    pub existing: usize,
    /// Suppressed addresses (bounced or unsubscribed) that were not added.
    pub suppressed: usize,
    /// Confirmation mails queued (`--pending`).
    pub confirmations: usize,
}

/// Imports a CSV list: a header line naming the columns (`email` required; `frequency`,
/// `categories` — slugs separated by spaces, `;` or `|` — and `status` optional), then one
/// subscriber per line. Every line is checked first; if any is wrong, nothing is imported and
/// every error is returned with its line. Suppressed addresses are never re-added.
/// `pending`: the list's confirmed addresses are asked to confirm instead.
pub async fn import(db: &Db, text: &str, pending: bool, now: i64) -> Result<Imported, Vec<String>> {
    let db_error = |e: DbError| vec![format!("database: {e}")];
    let categories: HashMap<String, i64> = crate::content::queries::terms::categories_with_counts(db)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|(c, _)| (c.slug, c.id))
        .collect();
    let mut records = csv::parse(text).into_iter();
    let Some((_, header)) = records.next() else { return Err(vec!["the file is empty".into()]) };
    let header: Vec<String> = header
        .map_err(|e| vec![format!("line 1: {e}")])?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let column = |name: &str| header.iter().position(|h| h == name);
    // Mailchimp's exports call it "Email Address".
    let Some(email_col) = column("email").or_else(|| column("email address")) else {
        return Err(vec![format!("line 1: expected a header line with an `email` column, got {:?}", header.join(","))]);
    };
    let (frequency_col, categories_col, status_col) = (column("frequency"), column("categories"), column("status"));

    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rows: Vec<(ImportRow, Option<Vec<i64>>)> = Vec::new();
    for (line, record) in records {
        let fields = match record {
            Ok(fields) => fields,
            Err(e) => {
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let get = |col: Option<usize>| col.and_then(|c| fields.get(c)).map(|f| f.trim()).unwrap_or("");
        let email = get(Some(email_col));
        if email.starts_with('#') {
            continue;
        }
        let address = match Address::parse(email) {
            Ok(address) => address,
            Err(e) => {
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        if let Some(first) = seen.insert(address.as_str().to_string(), line) {
            errors.push(format!("line {line}: {address} is already on line {first}"));
            continue;
        }
        let Some(frequency) = Frequency::parse(get(frequency_col)) else {
            errors.push(format!("line {line}: frequency {:?} is not instant, daily or weekly", get(frequency_col)));
            continue;
        };
        let status = match get(status_col).to_ascii_lowercase().as_str() {
            "" | "confirmed" | "subscribed" | "active" if pending => "pending",
            "" | "confirmed" | "subscribed" | "active" => "confirmed",
            "pending" => "pending",
            "unsubscribed" => "unsubscribed",
            other => {
                errors.push(format!("line {line}: status {other:?} is not confirmed, pending or unsubscribed"));
                continue;
            }
        };
        let slugs: Vec<&str> = get(categories_col).split([' ', ';', '|']).filter(|s| !s.is_empty()).collect();
        let mut ids = Vec::new();
        for slug in &slugs {
            match categories.get(&slug.to_ascii_lowercase()) {
                Some(id) => ids.push(*id),
                None => {
                    let mut known: Vec<&str> = categories.keys().map(String::as_str).collect();
                    known.sort();
                    errors.push(format!("line {line}: unknown category {slug:?} (known: {})", known.join(", ")));
                }
            }
        }
        if ids.len() != slugs.len() {
            continue;
        }
        let all = ids.is_empty();
        let row = ImportRow {
            email: address.as_str().to_string(),
            status,
            frequency: frequency.as_str(),
            all_categories: all,
        };
        rows.push((row, (!all).then_some(ids)));
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut report = Imported::default();
    // Read before the transaction, which must start with a write on SQLite (see
    // `queries::insert_if_absent`); an address suppressed in between is the only race.
    let emails: Vec<String> = rows.iter().map(|(r, _)| r.email.clone()).collect();
    let mut conn = db.pool.acquire().await.map_err(|e| db_error(DbError::from(e)))?;
    let suppressed: HashSet<String> =
        mail_queries::suppressed_among(&mut conn, &emails).await.map_err(db_error)?.into_iter().collect();
    drop(conn);
    let mut tx = db.begin().await.map_err(db_error)?;
    let (blocked, rows): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|(r, _)| suppressed.contains(&r.email) && r.status != "unsubscribed");
    report.suppressed = blocked.len();
    let plain: Vec<ImportRow> = rows.iter().map(|(r, _)| r.clone()).collect();
    let inserted = queries::insert_many(&mut tx, &plain, now).await.map_err(db_error)?;
    report.added = inserted.len();
    report.existing = plain.len() - inserted.len();
    let ids: HashMap<&str, i64> = inserted.iter().map(|(id, email)| (email.as_str(), *id)).collect();
    for (row, categories) in &rows {
        let Some(&id) = ids.get(row.email.as_str()) else { continue };
        if let Some(categories) = categories {
            queries::set_categories(&mut tx, id, Some(categories), now).await.map_err(db_error)?;
        }
        match row.status {
            "unsubscribed" => {
                mail_queries::suppress(&mut tx, &row.email, "unsubscribed", "import", now).await.map_err(db_error)?;
            }
            "pending" => {
                queries::mark_confirmation_sent(&mut tx, id, now).await.map_err(db_error)?;
                let topic = format!("confirm:{now}");
                let mail = NewMail {
                    kind: CONFIRM_KIND,
                    topic: &topic,
                    subscriber_id: Some(id),
                    recipient: &row.email,
                    payload: None,
                    bulk: false,
                };
                mail_queries::insert(&mut tx, &mail, now).await.map_err(db_error)?;
                report.confirmations += 1;
            }
            _ => {}
        }
    }
    tx.commit().await.map_err(|e| db_error(DbError::from(e)))?;
    Ok(report)
}

/// Every subscriber as CSV, in the format [`import`] reads.
pub async fn export(db: &Db) -> Result<String, DbError> {
    let mut slugs: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (id, slug) in queries::all_category_slugs(db).await? {
        slugs.entry(id).or_default().push(slug);
    }
    let mut out =
        csv::line(&["email", "status", "frequency", "categories", "suppressed", "created_at", "confirmed_at"]);
    let mut offset = 0;
    loop {
        let page = queries::list(db, None, "", 10_000, offset).await?;
        if page.is_empty() {
            break;
        }
        offset += page.len() as i64;
        for row in page {
            let categories = if row.all_categories != 0 {
                String::new()
            } else {
                slugs.get(&row.id).map(|s| s.join(" ")).unwrap_or_default()
            };
            let confirmed = row.confirmed_at.map(crate::theme::rfc3339).unwrap_or_default();
            out.push_str(&csv::line(&[
                &row.email,
                &row.status,
                &row.frequency,
                &categories,
                row.suppressed.as_deref().unwrap_or(""),
                &crate::theme::rfc3339(row.created_at),
                &confirmed,
            ]));
        }
    }
    Ok(out)
}

/// How many subscribers have `status` (any if `None`) and an address containing `search`.
pub async fn count(db: &Db, status: Option<Status>, search: &str) -> Result<i64, DbError> {
    queries::count(db, status.map(Status::as_str), search).await
}

/// Subscribers with `status` (any if `None`) and an address containing `search` (any if
/// empty), in id order, page by page (the CLI, the API, the desk).
pub async fn list(
    db: &Db,
    status: Option<Status>,
    search: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<Subscriber>, DbError> {
    let rows = queries::list(db, status.map(Status::as_str), search, limit, offset).await?;
    let some: Vec<i64> = rows.iter().filter(|r| r.all_categories == 0).map(|r| r.id).collect();
    let mut chosen: HashMap<i64, Vec<i64>> = HashMap::new();
    for (subscriber, category) in queries::categories_of(db, &some).await? {
        chosen.entry(subscriber).or_default().push(category);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let categories = chosen.remove(&row.id);
            row.into_subscriber(categories)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_periods_end_at_the_digest_hour() {
        let config = SubscriptionsConfig { digest_hour: 8, digest_weekday: "mon".into(), ..Default::default() };
        // Thursday 2026-11-26 14:34 UTC.
        let now = 1_795_703_640;
        let (topic, since, until) = digest_period(&config, Frequency::Daily, now).unwrap();
        assert_eq!(topic, "digest:daily:2026-11-26");
        assert_eq!(until - since, 86_400);
        assert_eq!(crate::theme::rfc3339(until), "2026-11-26T08:00:00Z");
        let (topic, _, until) = digest_period(&config, Frequency::Daily, until - 1).unwrap();
        assert_eq!(
            (topic.as_str(), crate::theme::rfc3339(until).as_str()),
            ("digest:daily:2026-11-25", "2026-11-25T08:00:00Z")
        );
        let (topic, since, until) = digest_period(&config, Frequency::Weekly, now).unwrap();
        assert_eq!(topic, "digest:weekly:2026-11-23");
        assert_eq!(until - since, 7 * 86_400);
    }
}
