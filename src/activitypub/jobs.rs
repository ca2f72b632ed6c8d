//! ActivityPub's background jobs: content's `Federate` (an article's change told to
//! followers) and `DeliverActivity` (the signed POSTs), both run with a `delivery::Delivery`.

use serde::{Deserialize, Serialize};

use crate::activitypub::delivery::{self, Delivery, Federation};
use crate::content::jobs::Federate;
use crate::jobs::BackgroundJob;
use crate::store::Db;

/// Delivers an activity (a row of `ap_activities`) to `inboxes`; `attempt` counts the runs
/// before this one that left them undelivered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverActivity {
    pub activity: i64,
    pub inboxes: Vec<String>,
    pub attempt: u32,
}

impl BackgroundJob for DeliverActivity {
    const NAME: &'static str = "activitypub.deliver";
    type Context = Delivery;

    async fn run(&self, db: &Db, delivery: &Delivery) -> anyhow::Result<()> {
        delivery::deliver(db, delivery, self).await?;
        Ok(())
    }
}

impl BackgroundJob for Federate {
    const NAME: &'static str = "activitypub.federate";
    type Context = Delivery;

    async fn run(&self, db: &Db, delivery: &Delivery) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let outcome = delivery::federate(db, &delivery.config, self.article_id, self.queued_at).await?;
        let ms = started.elapsed().as_millis();
        match outcome {
            Federation::Sent { kind, inboxes } => tracing::info!(
                article.id = self.article_id,
                kind,
                inboxes,
                ms = ms as u64,
                "Federated article {}: {kind} queued for {inboxes} inboxes in {ms} ms",
                self.article_id
            ),
            Federation::Nothing(why) => {
                tracing::info!(
                    article.id = self.article_id,
                    "Nothing to federate for article {}: {why}",
                    self.article_id
                )
            }
        }
        Ok(())
    }
}
