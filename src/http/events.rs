//! The events API (issue 11): a merchant's events — its payments' committed changes, `evt_…` —
//! newest first with filters and a cursor, one event, and a redelivery request. The bodies are
//! those the webhooks carry (`events/object.rs`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::auth::AuthenticatedMerchant;
use crate::events::catalog::EventQuery;
use crate::events::EventsError;
use crate::http::body::{parse_json, parse_query, RawBody};
use crate::http::{parse, ApiError, AppState};

#[derive(Deserialize)]
pub struct EventsQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    payment_id: Option<String>,
    limit: Option<String>,
    starting_after: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RedeliverBody {
    endpoint_id: Option<String>,
}

impl From<EventsError> for ApiError {
    fn from(error: EventsError) -> Self {
        match error {
            EventsError::Invalid { param, message } => ApiError::invalid("parameter_invalid", message, param),
            EventsError::NotFound(what) => ApiError::NotFound(what),
            EventsError::Store(store) => store.into(),
            EventsError::Corrupt(reason) => {
                tracing::error!(%reason, "merchant events: corrupt row");
                ApiError::Internal
            }
        }
    }
}

pub async fn list(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query: EventsQuery = parse_query(&req)?;
    let page = parse::page(
        query.limit.as_deref(),
        query.starting_after.as_deref(),
        parse::event_cursor,
    )?;
    let empty_as_none = |v: Option<String>| v.filter(|s| !s.is_empty());
    let page = state
        .merchant_events
        .list_events(
            &merchant,
            EventQuery {
                kind: empty_as_none(query.kind),
                payment_id: empty_as_none(query.payment_id),
                page,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "data": page.data, "has_more": page.has_more })))
}

pub async fn get(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let event = state.merchant_events.event(&merchant, &path).await?;
    Ok(HttpResponse::Ok().json(event))
}

/// Queues the event again for every matching endpoint, or for `endpoint_id` alone.
pub async fn redeliver(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    RawBody(raw): RawBody,
) -> Result<HttpResponse, ApiError> {
    let body: RedeliverBody = parse_json(&raw)?;
    let endpoints = state
        .merchant_events
        .redeliver(&merchant, &path, body.endpoint_id.as_deref())
        .await?;
    Ok(HttpResponse::Accepted().json(json!({ "event_id": path.as_str(), "endpoint_ids": endpoints })))
}
