//! The durable job table: scheduled publishing, exclusive claims, retries.

#[macro_use]
mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Backend, TestSite};
use openvoice::content::model::{ArticleKind, Status};
use openvoice::content::service::{self, ContentLimits, Draft, Publish, Terms};
use openvoice::jobs::{self, BackgroundJob, Registry, WorkerConfig};
use openvoice::store;

const LIMITS: ContentLimits = ContentLimits { max_article_bytes: 1 << 20 };

fn worker(name: &str) -> WorkerConfig {
    WorkerConfig { node_id: name.into(), poll_interval: Duration::from_millis(50), lease_secs: 60 }
}

fn draft(title: &str, publish: Publish) -> Draft {
    Draft {
        kind: ArticleKind::Post,
        title: title.into(),
        slug: None,
        excerpt: None,
        body_md: "Body".into(),
        author: "admin".into(),
        category: Some("Economy".into()),
        further_categories: Vec::new(),
        tags: vec![],
        featured_image: None,
        publish,
        sticky: false,
    }
}

async fn activity_count(db: &store::Db, kind: &str, id: i64) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE kind = $1 AND subject_id = $2")
        .bind(kind)
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// (state, count) of the jobs of one kind.
async fn job_states(db: &store::Db, kind: &str) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT state, COUNT(*) FROM jobs WHERE kind = $1 GROUP BY state ORDER BY state")
        .bind(kind)
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

/// A job that always fails with its own reason.
#[derive(serde::Serialize, serde::Deserialize)]
struct Refused {
    why: String,
}

impl BackgroundJob for Refused {
    const NAME: &'static str = "test.refused";
    type Context = ();

    async fn run(&self, _: &store::Db, _: &()) -> anyhow::Result<()> {
        anyhow::bail!("{}", self.why)
    }
}

on_each_backend!(a_scheduled_article_goes_live_when_due_exactly_once);
async fn a_scheduled_article_goes_live_when_due_exactly_once(backend: Backend) {
    let site = TestSite::start(backend).await;
    site.run_due_jobs().await;
    let registry = site.job_registry();
    let saved = service::drafts::create(
        &site.db,
        LIMITS,
        draft("Later Today", Publish::At(store::now() + 2)),
        Terms::MustExist,
    )
    .await
    .unwrap();
    let slug = saved.slug().to_string();
    assert_eq!(service::reading::find(&site.db, &slug).await.unwrap().summary.status, Status::Scheduled);
    assert_eq!(site.fetch(&format!("/article/{slug}")).await.0, 404, "not public before its time");
    assert!(!jobs::run_one(&site.db, &registry, &worker("a")).await.unwrap(), "nothing due yet");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The publish job, the bundle job it queues and the coalesced snapshot job.
    assert!(site.run_due_jobs().await >= 2);
    assert_eq!(job_states(&site.db, "content.publish_scheduled").await, vec![("done".to_string(), 1)]);
    assert_eq!(job_states(&site.db, "ipfs.bundle").await, vec![("done".to_string(), 9)]);
    assert!(!jobs::run_one(&site.db, &registry, &worker("b")).await.unwrap(), "a done job is not claimed again");
    let article = service::reading::find(&site.db, &slug).await.unwrap();
    assert_eq!(article.summary.status, Status::Published);
    assert_eq!(activity_count(&site.db, "article.published", article.summary.id).await, 1);
    site.settle().await;
    assert_eq!(site.fetch(&format!("/article/{slug}")).await.0, 200);
    site.finish().await;
}

on_each_backend!(concurrent_workers_never_take_the_same_job);
async fn concurrent_workers_never_take_the_same_job(backend: Backend) {
    let site = TestSite::start(backend).await;
    site.run_due_jobs().await;
    let mut ids = Vec::new();
    for n in 0..30 {
        let saved = service::drafts::create(
            &site.db,
            LIMITS,
            draft(&format!("Batch {n}"), Publish::At(store::now() + 1)),
            Terms::MustExist,
        )
        .await
        .unwrap();
        ids.push(saved.slug().to_string());
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4 {
        let (db, registry) = (site.db.clone(), site.job_registry());
        tasks.spawn(async move {
            let config = worker(&format!("w{w}"));
            let mut ran = 0;
            while jobs::run_one(&db, &registry, &config).await.unwrap() {
                ran += 1;
            }
            ran
        });
    }
    let mut total = 0;
    while let Some(ran) = tasks.join_next().await {
        total += ran.unwrap();
    }
    // Each publish, bundle, subscriber-notification and federation job claimed once; the
    // coalesced snapshot job may also have come due (and run) meanwhile.
    assert!((120..=123).contains(&total), "{backend:?}: {total} jobs run");
    let claimed_twice: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE kind IN ('content.publish_scheduled', 'ipfs.bundle', 'subscriptions.notify', \
         'activitypub.federate') \
         AND (state <> 'done' OR attempts <> 1)",
    )
    .fetch_one(&site.db.pool)
    .await
    .unwrap();
    assert_eq!(claimed_twice, 0, "{backend:?}: each job claimed once");
    assert_eq!(job_states(&site.db, "content.publish_scheduled").await, vec![("done".to_string(), 30)]);
    let mut seen = HashSet::new();
    for slug in &ids {
        let article = service::reading::find(&site.db, slug).await.unwrap();
        assert_eq!(article.summary.status, Status::Published);
        assert_eq!(activity_count(&site.db, "article.published", article.summary.id).await, 1);
        seen.insert(article.summary.id);
    }
    assert_eq!(seen.len(), 30);
    site.finish().await;
}

on_each_backend!(a_failing_job_backs_off_and_keeps_its_error);
async fn a_failing_job_backs_off_and_keeps_its_error(backend: Backend) {
    let site = TestSite::start(backend).await;
    site.run_due_jobs().await;
    let mut conn = site.db.pool.acquire().await.unwrap();
    jobs::enqueue(&mut conn, &Refused { why: "the printer is on fire".into() }, store::now(), None).await.unwrap();
    drop(conn);
    let state = || async {
        let row: (String, i64, i64, Option<String>) =
            sqlx::query_as("SELECT state, attempts, run_at, last_error FROM jobs WHERE kind = 'test.refused'")
                .fetch_one(&site.db.pool)
                .await
                .unwrap();
        row
    };
    // A worker that was not given the kind leaves it for one that was.
    assert!(!jobs::run_one(&site.db, &Registry::default(), &worker("a")).await.unwrap());
    assert_eq!(state().await.1, 0, "not claimed by a worker without the kind");

    let registry = Registry::default().with::<Refused>(std::sync::Arc::new(()));
    assert!(jobs::run_one(&site.db, &registry, &worker("a")).await.unwrap());
    let (state, attempts, run_at, error) = state().await;
    assert_eq!(state, "queued");
    assert_eq!(attempts, 1);
    assert!(run_at > store::now(), "retried later, not at once");
    assert!(error.unwrap().contains("the printer is on fire"));
    assert!(!jobs::run_one(&site.db, &registry, &worker("a")).await.unwrap(), "backing off");
    site.finish().await;
}

#[tokio::test]
async fn rescheduling_keeps_one_job() {
    let site = TestSite::start(common::Backend::Sqlite).await;
    let file = common::write_file(site.dir.path(), "b.md", "Body");
    let out = site.cli(&[
        "post",
        "new",
        "--title",
        "Moving",
        "--file",
        file.to_str().unwrap(),
        "--schedule",
        "2999-01-01T00:00:00Z",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stdout(&out).starts_with("scheduled moving"));
    let body2 = common::write_file(site.dir.path(), "b2.md", "Body two");
    let out = site.cli(&["post", "edit", "moving", "--file", body2.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(job_states(&site.db, "content.publish_scheduled").await, vec![("queued".to_string(), 1)]);
    site.finish().await;
}

on_each_backend!(unpublishing_through_an_upsert_rebuilds_the_site_snapshot);
/// Every write path ends in the one write core: an upsert by name that takes a published article
/// back to a draft queues the snapshot rebuild that drops it, as the desk's unpublish does.
async fn unpublishing_through_an_upsert_rebuilds_the_site_snapshot(backend: Backend) {
    let site = TestSite::start(backend).await;
    let saved = service::drafts::create(&site.db, LIMITS, draft("Briefly Public", Publish::Now), Terms::MustExist)
        .await
        .unwrap();
    site.run_due_jobs().await;
    // The bundle queued a rebuild a moment ahead; start from none.
    sqlx::query("DELETE FROM jobs WHERE kind = 'ipfs.snapshot'").execute(&site.db.pool).await.unwrap();

    let mut again = draft("Briefly Public", Publish::Draft);
    again.slug = Some(saved.slug().to_string());
    let updated = service::drafts::upsert(&site.db, LIMITS, again, Terms::MustExist).await.unwrap();
    assert_eq!(updated.id(), saved.id());
    let states = job_states(&site.db, "ipfs.snapshot").await;
    assert!(states.iter().any(|(state, n)| state == "queued" && *n == 1), "{states:?}");
    site.finish().await;
}
