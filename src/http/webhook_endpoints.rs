//! Webhook endpoints, per merchant (issue 11): register, list, read, change, delete, rotate the
//! secret, and list an endpoint's delivery attempts. Another merchant's endpoint is a 404. The
//! secret is in the response only when created or rotated; reads show `secret_hint`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::AuthenticatedMerchant;
use crate::events::{Endpoint, EndpointChanges, NewEndpoint};
use crate::http::body::{parse_json, parse_query, RawBody};
use crate::http::wire::timestamp;
use crate::http::{parse, ApiError, AppState};
use crate::secret::Secret;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointBody {
    url: String,
    enabled_events: Vec<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpointBody {
    url: Option<String>,
    enabled_events: Option<Vec<String>>,
    description: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
pub struct AttemptsQuery {
    limit: Option<String>,
    starting_after: Option<String>,
}

fn view(endpoint: &Endpoint, secret: Option<&Secret>) -> Value {
    let mut body = json!({
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "description": endpoint.description,
        "enabled_events": endpoint.enabled_events.names(),
        "status": endpoint.status.as_str(),
        "secret_hint": endpoint.secret_hint,
        "created_at": timestamp(endpoint.created_at),
    });
    if let Some(secret) = secret {
        body["secret"] = Value::from(secret.expose());
    }
    body
}

pub async fn create(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    RawBody(raw): RawBody,
) -> Result<HttpResponse, ApiError> {
    let body: CreateEndpointBody = parse_json(&raw)?;
    let new = NewEndpoint {
        url: body.url,
        enabled_events: body.enabled_events,
        description: body.description,
    };
    let (endpoint, secret) = state.merchant_events.create_endpoint(&merchant, new).await?;
    Ok(HttpResponse::Created().json(view(&endpoint, Some(&secret))))
}

pub async fn list(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
) -> Result<HttpResponse, ApiError> {
    let endpoints = state.merchant_events.list_endpoints(&merchant).await?;
    let data: Vec<Value> = endpoints.iter().map(|e| view(e, None)).collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data, "has_more": false })))
}

pub async fn get(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = state.merchant_events.endpoint(&merchant, &path).await?;
    Ok(HttpResponse::Ok().json(view(&endpoint, None)))
}

pub async fn update(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    RawBody(raw): RawBody,
) -> Result<HttpResponse, ApiError> {
    let body: UpdateEndpointBody = parse_json(&raw)?;
    let changes = EndpointChanges {
        url: body.url,
        enabled_events: body.enabled_events,
        description: body.description,
        status: body.status,
    };
    let endpoint = state.merchant_events.update_endpoint(&merchant, &path, changes).await?;
    Ok(HttpResponse::Ok().json(view(&endpoint, None)))
}

pub async fn delete(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.merchant_events.delete_endpoint(&merchant, &path).await?;
    Ok(HttpResponse::Ok().json(json!({ "id": path.as_str(), "object": "webhook_endpoint", "deleted": true })))
}

pub async fn rotate_secret(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (endpoint, secret) = state.merchant_events.rotate_secret(&merchant, &path).await?;
    Ok(HttpResponse::Ok().json(view(&endpoint, Some(&secret))))
}

/// The endpoint's attempts, newest first, a page at a time (`limit`, and `starting_after` an attempt
/// id from the previous page).
pub async fn deliveries(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query: AttemptsQuery = parse_query(&req)?;
    let page = parse::page(
        query.limit.as_deref(),
        query.starting_after.as_deref(),
        parse::attempt_cursor,
    )?;
    let attempts = state.merchant_events.attempts(&merchant, &path, &page).await?;
    let micros = |m: i64| timestamp(chrono::DateTime::from_timestamp_micros(m).unwrap_or_default());
    let data: Vec<Value> = attempts
        .data
        .into_iter()
        .map(|a| {
            json!({
                "id": a.id,
                "event_id": a.event_id,
                "attempt": a.attempt,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
                "next_attempt_at": a.next_attempt_at.map(micros),
                "attempted_at": micros(a.attempted_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "data": data, "has_more": attempts.has_more })))
}
