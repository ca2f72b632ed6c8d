//! Upgrading a SQLite site across migration 0011, which rebuilds the `articles` table with the
//! bodies last: a site made under the schema before it keeps every article, tag, comment,
//! revision and bundle that refers to its articles, and its search index.

use std::borrow::Cow;
use std::str::FromStr;

use openvoice::content::service::{self, ContentLimits};
use openvoice::store::{Db, Dialect};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::Executor;

/// Rows in the tables that refer to `articles` (dropping the old table must not cascade).
async fn dependents(db: &Db) -> Vec<(String, i64)> {
    let mut counts = Vec::new();
    for table in ["articles", "article_tags", "article_categories", "comments", "revisions", "article_bundles", "jobs"]
    {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&db.pool).await.unwrap();
        counts.push((table.to_string(), n));
    }
    counts
}

#[tokio::test]
async fn a_site_made_before_0011_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let url = openvoice::store::sqlite_url_for(dir.path());
    sqlx::any::install_default_drivers();

    // The schema as it was at 0010, with the demo site and a comment in it.
    let all =
        Migrator::new(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))).await.unwrap();
    // Seeding runs today's code, which also records each write in `content_changes` (0013) and
    // files articles in `article_categories` and `lead_stories` (0019), new tables that 0011
    // does not touch: those migrations run early.
    let early = [13, 19];
    let before: Vec<_> =
        all.migrations.iter().filter(|m| m.version <= 10 || early.contains(&m.version)).cloned().collect();
    assert!(all.migrations.iter().any(|m| m.version == 11), "the migration under test");
    let old = Migrator { migrations: Cow::Owned(before), ..Migrator::DEFAULT };
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| Box::pin(async move { conn.execute("PRAGMA foreign_keys = ON").await.map(|_| ()) }))
        .connect_with(AnyConnectOptions::from_str(&url).unwrap())
        .await
        .unwrap();
    old.run(&pool).await.unwrap();
    let db = Db { pool, dialect: Dialect::Sqlite };
    let limits = ContentLimits { max_article_bytes: 1 << 20 };
    openvoice::demo::seed_if_empty(&db, limits).await.unwrap();
    let article_id: i64 =
        sqlx::query_scalar("SELECT id FROM articles WHERE kind = 'post' LIMIT 1").fetch_one(&db.pool).await.unwrap();
    for insert in [
        "INSERT INTO comments (article_id, depth, status, author_name, author_email, author_url, avatar, ip_hash, \
         user_agent, content, content_html, content_hash, created_at, updated_at) \
         VALUES ($1, 1, 'approved', 'Ann', 'ann@example.org', '', 'x', 'i', 'ua', 'Hi', '<p>Hi</p>', 'h', 1, 1)",
        "INSERT INTO revisions (article_id, title, excerpt, body_md, saved_at) VALUES ($1, 'Old', '', 'Old text', 1)",
        "INSERT INTO article_bundles (article_id, root_cid, dag_size, created_at) VALUES ($1, 'bafy', 1, 1)",
    ] {
        sqlx::query(insert).bind(article_id).execute(&db.pool).await.unwrap();
    }
    let counts = dependents(&db).await;
    assert!(counts.iter().all(|(_, n)| *n > 0), "every table has rows to lose: {counts:?}");
    let found = service::reading::search(&db, "harbour", 1, 10).await.unwrap().total_items;
    db.pool.close().await;

    // Connecting runs 0011.
    let db = Db::connect(&url, 2).await.unwrap();
    assert_eq!(dependents(&db).await, counts);
    assert_eq!(service::reading::search(&db, "harbour", 1, 10).await.unwrap().total_items, found);
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info('articles')").fetch_all(&db.pool).await.unwrap();
    assert_eq!(columns[columns.len() - 3..], ["body_md", "body_html", "body_text"]);
    let violations: Vec<String> =
        sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_check").fetch_all(&db.pool).await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    // Foreign keys are on again, with their cascades: deleting an article takes its comments along.
    sqlx::query("DELETE FROM articles WHERE id = $1").bind(article_id).execute(&db.pool).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM comments WHERE article_id = $1")
        .bind(article_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    // The full-text triggers are back: a new article is found.
    let draft = service::Draft {
        kind: openvoice::content::model::ArticleKind::Post,
        title: "Zanzibar lighthouse".into(),
        slug: None,
        excerpt: None,
        body_md: "The zanzibar lighthouse reopens.".into(),
        author: "admin".into(),
        category: None,
        further_categories: Vec::new(),
        tags: vec![],
        featured_image: None,
        publish: service::Publish::Now,
        sticky: false,
    };
    service::drafts::create(&db, limits, draft, service::Terms::CreateMissing).await.unwrap();
    assert_eq!(service::reading::search(&db, "zanzibar", 1, 10).await.unwrap().total_items, 1);
}
