//! The HTTP API (DESIGN §8): routes, the shared application state, and the error mapping.
//!
//! Canonical paths live under `/api/v1`; the seed paths under `/payments` are aliases served by
//! the same handlers.

pub mod audit;
mod body;
mod client_ip;
mod cors;
mod error;
mod headers;
mod health;
pub mod idempotency;
mod openapi;
mod parse;
mod payments;
#[cfg(test)]
mod proptests;
mod rate_limit;
mod receipts;
mod resume;
mod text;
mod webhooks;
mod wire;

use std::sync::Arc;

use actix_web::web;
use payrail_core::actors::PaymentSupervisor;
use payrail_core::ports::PaymentStore;

pub use client_ip::{client_ip, TrustedProxies};
pub use cors::{cors, CorsPolicy};
pub use error::ApiError;
pub use headers::{request_context, request_id, RequestId};
pub use parse::create_request;
pub use rate_limit::{rate_limit, RateLimiter};
pub use text::request_target;

use crate::metrics::Metrics;

/// What every handler can reach. Built once at start-up, shared by all workers.
pub struct AppState {
    pub supervisor: PaymentSupervisor,
    pub store: Arc<dyn PaymentStore>,
    pub provider_names: Vec<String>,
    pub default_provider: String,
    /// Provider routing rules (currency, amount, priority → providers in order).
    pub routes: crate::providers::Router,
    /// Webhook verification, dedupe and dispatch.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// Keyed card fingerprints (issue 5).
    pub card_fingerprints: crate::crypto::CardFingerprinter,
    /// Sealed receipt emails (issue 5).
    pub contacts: crate::store::Contacts,
    /// Counters other features bump (idempotent replays, webhooks, circuit breakers).
    pub metrics: Metrics,
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/health").route(web::get().to(health::health)))
        .service(resource("/ready").route(web::get().to(health::ready)))
        .service(resource("/api/v1/openapi.json").route(web::get().to(openapi::spec)))
        .service(resource("/api/v1/webhooks/{provider}").route(web::post().to(webhooks::receive)))
        .service(resource("/api/v1/payments/webhook").route(web::post().to(webhooks::receive_by_query)))
        .service(web::scope("/api/v1/payments").configure(payment_routes))
        .service(web::scope("/payments").configure(payment_routes));
}

fn payment_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("")
            .route(web::post().to(payments::create))
            .route(web::get().to(payments::list)),
    )
    .service(resource("/order/{order_id}").route(web::get().to(payments::list_by_order)))
    .service(resource("/{id}").route(web::get().to(payments::get)))
    .service(resource("/{id}/capture").route(web::post().to(payments::capture)))
    .service(resource("/{id}/cancel").route(web::post().to(payments::cancel)))
    .service(resource("/{id}/refund").route(web::post().to(payments::refund)))
    .service(resource("/{id}/events").route(web::get().to(payments::events)));
}

/// A resource that answers an unsupported method with a JSON 405 instead of an empty body.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(openapi::method_not_allowed))
}

/// Unknown paths: a JSON 404 like every other error.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}
