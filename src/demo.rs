//! The demo site seeded on first run: an admin account, categories, articles and an About page.

use include_dir::{include_dir, Dir};

use crate::accounts::{self, NewUser, Role};
use crate::content::import::import_document;
use crate::content::model::ArticleKind;
use crate::content::service::{self, ContentLimits};
use crate::store::Db;

static DEMO: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/demo");

const CATEGORIES: &[(&str, &str)] = &[
    ("Defence & Security", "Armed forces, policing, borders and cyber security."),
    ("Technology", "Software, networks and the people who build them."),
    ("Economy", "Markets, jobs and public finances."),
    ("Climate", "Weather, energy and the environment."),
    ("Culture", "Arts, books, film and music."),
];

/// Credentials of the seeded admin, to print once.
pub struct Seeded {
    pub admin_username: String,
    pub admin_password: String,
}

/// Seeds the demo site if the database has no users yet; returns the admin credentials if it did.
pub async fn seed_if_empty(db: &Db, limits: ContentLimits) -> anyhow::Result<Option<Seeded>> {
    if accounts::count_users(db).await? > 0 {
        return Ok(None);
    }
    let password = accounts::generate_password();
    let admin = NewUser {
        username: "admin",
        email: "admin@example.org",
        display_name: "Site Admin",
        role: Role::Admin,
        password: Some(&password),
    };
    accounts::create_user(db, &admin).await?;
    for (name, description) in CATEGORIES {
        service::drafts::add_category(db, name, description).await?;
    }
    for (dir, kind) in [("articles", ArticleKind::Post), ("pages", ArticleKind::Page)] {
        let Some(dir) = DEMO.get_dir(dir) else { continue };
        let mut files: Vec<_> = dir.files().collect();
        files.sort_by_key(|f| f.path());
        for file in files {
            let text = file.contents_utf8().unwrap_or_default();
            import_document(db, limits, text, kind, "Site Admin")
                .await
                .map_err(|e| anyhow::anyhow!("demo file {}: {e}", file.path().display()))?;
        }
    }
    Ok(Some(Seeded { admin_username: "admin".into(), admin_password: password }))
}
