//! Writing the counts down, and reading them back as the desk shows them.

use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::queries::{self, Table};
use crate::admin::dashboard::{chart, Chart};
use crate::admin::queries::{per_day, Series};
use crate::http::page_views::{PageViews, Views};
use crate::store::{self, Db, DbError};

/// Today's day number (UTC days since 1970-01-01).
pub fn today() -> i64 {
    store::now().div_euclid(86_400)
}

/// Adds what `counter` counted to the database in one transaction, and drops days older than
/// `keep_days`. Counts that cannot be written go back to the counter for the next time.
pub async fn flush(db: &Db, counter: &PageViews, keep_days: i64) -> Result<(), DbError> {
    let views = counter.take();
    if views == Views::default() {
        return Ok(());
    }
    match write(db, &views, today(), keep_days).await {
        Ok(()) => Ok(()),
        Err(err) => {
            counter.give_back(views);
            Err(err)
        }
    }
}

async fn write(db: &Db, views: &Views, day: i64, keep_days: i64) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for (path, n) in &views.paths {
        queries::add(&mut tx, Table::PageViews, day, path, *n as i64).await?;
    }
    for (host, n) in &views.referrers {
        queries::add(&mut tx, Table::ReferrerViews, day, host, *n as i64).await?;
    }
    queries::prune(&mut tx, day - keep_days).await?;
    tx.commit().await?;
    Ok(())
}

/// Flushes `counter` every `every` until `shutdown`, and once more then.
pub async fn run_flusher(db: Db, counter: PageViews, every: Duration, keep_days: i64, shutdown: CancellationToken) {
    loop {
        let stop = tokio::select! {
            _ = shutdown.cancelled() => true,
            _ = tokio::time::sleep(every) => false,
        };
        if let Err(err) = flush(&db, &counter, keep_days).await {
            tracing::warn!(error = %err, "Could not write the page view counts; kept for the next try");
        }
        if stop {
            return;
        }
    }
}

/// One day of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Day {
    pub day: i64,
    pub views: i64,
    pub subscriptions: i64,
    pub comments: i64,
}

/// What the desk shows for the last `days` days, of `path` or of the whole site.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The views per day, drawn as the dashboard draws its charts.
    pub chart: Chart,
    /// Days with views, new subscribers or comments, newest first (the whole site only).
    pub days: Vec<Day>,
    pub top_paths: Vec<(String, i64)>,
    pub top_referrers: Vec<(String, i64)>,
}

pub async fn report(db: &Db, days: i64, path: Option<&str>) -> Result<Report, DbError> {
    let last = today();
    let first = last - days + 1;
    let views = queries::views_per_day(db, first, path).await?;
    let (subscriptions, comments) = match path {
        Some(_) => (vec![], vec![]),
        None => (
            per_day(db, Series::Subscribers, first * 86_400).await?,
            per_day(db, Series::Comments, first * 86_400).await?,
        ),
    };
    let on = |rows: &[(i64, i64)], day: i64| rows.iter().filter(|(d, _)| *d == day).map(|(_, n)| n).sum();
    let days_with_something = (first..=last)
        .rev()
        .map(|day| Day {
            day,
            views: on(&views, day),
            subscriptions: on(&subscriptions, day),
            comments: on(&comments, day),
        })
        .filter(|d| d.views + d.subscriptions + d.comments > 0)
        .collect();
    Ok(Report {
        chart: chart("Page views", &views, last, days),
        days: days_with_something,
        top_paths: queries::top(db, Table::PageViews, first, 20).await?,
        top_referrers: queries::top(db, Table::ReferrerViews, first, 20).await?,
    })
}
