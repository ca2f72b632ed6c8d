//! Content's background jobs.

use serde::{Deserialize, Serialize};

use crate::content::service;
use crate::jobs::BackgroundJob;
use crate::store::Db;

/// Publishes a scheduled article when it is due.
#[derive(Debug, Serialize, Deserialize)]
pub struct PublishScheduled {
    pub article_id: i64,
}

impl BackgroundJob for PublishScheduled {
    const NAME: &'static str = "content.publish_scheduled";
    type Context = ();

    async fn run(&self, db: &Db, _: &()) -> anyhow::Result<()> {
        let changed = service::publish_scheduled(db, self.article_id).await?;
        tracing::info!(article.id = self.article_id, changed, "Scheduled article due");
        Ok(())
    }
}
