//! `/api/v1/subscribers`: the email subscribers, for editors and up only (addresses are never
//! public).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::Capability;
use crate::api::{ApiError, ApiQuery, Caller, ErrorBody, Paged, Paging};
use crate::http::AppState;
use crate::subscriptions::model::{Status, Subscriber};
use crate::subscriptions::service;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_subscribers))
}

#[derive(Deserialize, Clone, Copy, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberStatus {
    Pending,
    Confirmed,
    Unsubscribed,
}

impl From<SubscriberStatus> for Status {
    fn from(s: SubscriberStatus) -> Self {
        match s {
            SubscriberStatus::Pending => Status::Pending,
            SubscriberStatus::Confirmed => Status::Confirmed,
            SubscriberStatus::Unsubscribed => Status::Unsubscribed,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SubscriberOut {
    id: i64,
    email: String,
    /// `pending`, `confirmed` or `unsubscribed`.
    status: String,
    /// `instant`, `daily` or `weekly`.
    frequency: String,
    /// `null`: every category; otherwise only these category ids.
    categories: Option<Vec<i64>>,
    /// Why the address is suppressed (`bounced`, `unsubscribed`), if it is.
    suppressed: Option<String>,
    source: String,
    /// Unix seconds.
    created_at: i64,
    confirmed_at: Option<i64>,
}

impl From<Subscriber> for SubscriberOut {
    fn from(s: Subscriber) -> Self {
        SubscriberOut {
            id: s.id,
            email: s.email,
            status: s.status.as_str().into(),
            frequency: s.frequency.as_str().into(),
            categories: s.categories,
            suppressed: s.suppressed,
            source: s.source,
            created_at: s.created_at,
            confirmed_at: s.confirmed_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriberQuery {
    #[param(inline)]
    status: Option<SubscriberStatus>,
    #[param(minimum = 1, maximum = 100000)]
    page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u32>,
}

/// List subscribers in the order they came (editors and up).
#[utoipa::path(get, path = "/subscribers", tag = "subscribers", params(SubscriberQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Paged<SubscriberOut>), (status = "4XX", body = ErrorBody)))]
async fn list_subscribers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SubscriberQuery>,
) -> Result<Json<Paged<SubscriberOut>>, ApiError> {
    caller.require(Capability::ManageSubscribers)?;
    let paging = Paging::new(query.page, query.per_page)?;
    let status = query.status.map(Status::from);
    let items = service::list(&state.db, status, "", paging.limit(), paging.offset()).await?;
    let total = service::count(&state.db, status, "").await?;
    Ok(Json(Paged::new(items.into_iter().map(SubscriberOut::from).collect(), paging, total)))
}
