//! The dashboard: counts, recent activity, background work, and 30-day bar charts drawn as SVG
//! on the server (no script: the admin's CSP allows none inline, and none is needed).

use serde::Serialize;

use crate::admin::queries::{self, Activity, Series};
use crate::store::{self, Db, DbError};

/// Days shown in the charts.
pub const CHART_DAYS: i64 = 30;

#[derive(Debug, Serialize)]
pub struct Dashboard {
    pub articles: Counts,
    pub comments: Counts,
    pub subscribers: Counts,
    pub activity: Vec<Activity>,
    pub jobs: Jobs,
    pub charts: Vec<Chart>,
}

/// Counts per status, with the total.
#[derive(Debug, Serialize)]
pub struct Counts {
    pub total: i64,
    pub by_status: std::collections::BTreeMap<String, i64>,
}

impl Counts {
    fn new(by_status: Vec<(String, i64)>) -> Counts {
        Counts { total: by_status.iter().map(|(_, n)| n).sum(), by_status: by_status.into_iter().collect() }
    }
}

#[derive(Debug, Serialize)]
pub struct Jobs {
    /// Outbox rows per state (`queued`, `sent`, `failed`, `cancelled`).
    pub mail: std::collections::BTreeMap<String, i64>,
    /// Job rows per state (`queued`, `done`, `failed`).
    pub jobs: std::collections::BTreeMap<String, i64>,
    /// Pins waiting for their job or for the pinning service (`queued`, `pinning`).
    pub pins_pending: i64,
    pub pins_pinned: i64,
    /// Pins whose last attempt failed (`retrying`; the error is on the pin record).
    pub pins_failing: i64,
    /// When a price provider last answered.
    pub prices_last_success: Option<i64>,
    /// Price providers backing off right now.
    pub prices_backing_off: i64,
}

/// A bar chart of one count per day, in SVG user units (`viewBox="0 0 WIDTH HEIGHT"`).
#[derive(Debug, Serialize)]
pub struct Chart {
    pub title: &'static str,
    pub total: i64,
    pub max: i64,
    pub width: u32,
    pub height: u32,
    pub bars: Vec<Bar>,
    /// Labels under the first and last bar.
    pub first_day: i64,
    pub last_day: i64,
}

#[derive(Debug, Serialize)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The day's start, Unix seconds.
    pub day: i64,
    pub count: i64,
}

const WIDTH: u32 = 300;
const HEIGHT: u32 = 90;
/// Room under the bars for the date labels.
const LABELS: f64 = 14.0;

/// Lays out `counts` (`(day number, count)`, any order, gaps allowed) over the `days` days
/// ending with `today` (a day number).
pub fn chart(title: &'static str, counts: &[(i64, i64)], today: i64, days: i64) -> Chart {
    let first = today - days + 1;
    let per_day: Vec<i64> =
        (first..=today).map(|day| counts.iter().filter(|(d, _)| *d == day).map(|(_, n)| n).sum()).collect();
    let max = per_day.iter().copied().max().unwrap_or(0);
    let slot = f64::from(WIDTH) / days as f64;
    let room = f64::from(HEIGHT) - LABELS;
    let bars = per_day
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            // Empty days get a 1-unit stub so the time axis stays readable.
            let height = if max == 0 { 1.0 } else { (count as f64 / max as f64 * room).max(1.0) };
            Bar {
                x: ((i as f64 * slot + slot * 0.15) * 10.0).round() / 10.0,
                y: ((room - height) * 10.0).round() / 10.0,
                width: (slot * 0.7 * 10.0).round() / 10.0,
                height: (height * 10.0).round() / 10.0,
                day: (first + i as i64) * 86_400,
                count,
            }
        })
        .collect();
    Chart {
        title,
        total: per_day.iter().sum(),
        max,
        width: WIDTH,
        height: HEIGHT,
        bars,
        first_day: first * 86_400,
        last_day: today * 86_400,
    }
}

fn count_of(counts: &[(String, i64)], states: &[&str]) -> i64 {
    counts.iter().filter(|(state, _)| states.contains(&state.as_str())).map(|(_, n)| n).sum()
}

pub async fn load(db: &Db) -> Result<Dashboard, DbError> {
    let now = store::now();
    let today = now / 86_400;
    let since = (today - CHART_DAYS + 1) * 86_400;
    let (prices_last_success, prices_backing_off) = queries::price_poller(db, now).await?;
    let pins = queries::pins_by_state(db).await?;
    let mut charts = Vec::new();
    for (title, series) in [
        ("Articles published", Series::Articles),
        ("Comments", Series::Comments),
        ("New subscribers", Series::Subscribers),
        ("Page views", Series::PageViews),
    ] {
        charts.push(chart(title, &queries::per_day(db, series, since).await?, today, CHART_DAYS));
    }
    Ok(Dashboard {
        articles: Counts::new(queries::articles_by_status(db).await?),
        comments: Counts::new(queries::comments_by_status(db).await?),
        subscribers: Counts::new(queries::subscribers_by_status(db).await?),
        activity: queries::recent_activity(db, 15).await?,
        jobs: Jobs {
            mail: crate::mail::queries::counts(db).await?.into_iter().collect(),
            jobs: crate::jobs::queries::counts(db).await?.into_iter().collect(),
            pins_pending: count_of(&pins, &["queued", "pinning"]),
            pins_pinned: count_of(&pins, &["pinned"]),
            pins_failing: count_of(&pins, &["retrying"]),
            prices_last_success,
            prices_backing_off,
        },
        charts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_cover_every_day_and_scale_to_the_busiest() {
        let chart = chart("t", &[(100, 4), (98, 2), (50, 9)], 100, 30);
        assert_eq!(chart.bars.len(), 30);
        assert_eq!((chart.total, chart.max), (6, 4), "day 50 is outside the window");
        let last = chart.bars.last().unwrap();
        assert_eq!((last.count, last.day), (4, 100 * 86_400));
        assert!((last.y - 0.0).abs() < 0.01, "the busiest day reaches the top");
        assert!(chart.bars[27].height < last.height && chart.bars[0].height >= 1.0);
    }
}
