//! The HTTP API (DESIGN §8): routes, the middleware, and the error mapping. It is the top layer:
//! it calls the core and the adapters, and nothing outside `http/` (but the composition root,
//! `startup.rs`) imports it — `scripts/import-graph.py` checks that.
//!
//! Canonical paths live under `/api/v1`; the seed paths under `/payments` are aliases served by
//! the same handlers.

pub mod audit;
mod auth;
mod body;
mod client_ip;
pub mod console;
mod cors;
mod customer_actions;
mod error;
mod events;
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
pub(crate) mod reconciliations;
mod replays;
mod sandbox_challenge;
mod settlements;
mod text;
mod webhook_endpoints;
mod webhooks;
mod wire;

use actix_web::web;

// Handlers name it `crate::http::AppState`; it lives below the HTTP layer (see `app.rs`).
pub use crate::app::AppState;
pub use auth::{bearer_token, AuthenticatedMerchant, VerifiedMerchant};
pub use client_ip::{client_ip, TrustedProxies};
pub use cors::{cors, CorsPolicy};
pub use error::ApiError;
pub use headers::{request_context, request_id, RequestId};
pub use parse::create_request;
pub use rate_limit::{rate_limit, RateLimiter};
pub use replays::count_replays;
pub use text::request_target;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/health").route(web::get().to(health::health)))
        .service(resource("/ready").route(web::get().to(health::ready)))
        .service(resource("/api/v1/openapi.json").route(web::get().to(openapi::spec)))
        .service(resource("/api/v1/webhooks/{provider}").route(web::post().to(webhooks::receive)))
        .service(resource("/api/v1/payments/webhook").route(web::post().to(webhooks::receive_by_query)))
        .service(resource("/api/v1/settlements").route(web::get().to(settlements::list)))
        .service(resource("/api/v1/settlements/{id}").route(web::get().to(settlements::get)))
        .service(resource("/api/v1/reconciliations").route(web::get().to(reconciliations::list)))
        .service(resource("/api/v1/reconciliations/{id}").route(web::get().to(reconciliations::get)))
        .service(
            resource("/sandbox/3ds/{id}")
                .route(web::get().to(sandbox_challenge::page))
                .route(web::post().to(sandbox_challenge::decide)),
        )
        .service(web::scope("/api/v1/webhook_endpoints").configure(webhook_endpoint_routes))
        .service(web::scope("/api/v1/events").configure(event_routes))
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
    .service(resource("/{id}/return").route(web::get().to(customer_actions::return_from_action)))
    .service(resource("/{id}/confirm").route(web::post().to(customer_actions::confirm)))
    .service(resource("/{id}/events").route(web::get().to(payments::events)));
}

fn webhook_endpoint_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("")
            .route(web::post().to(webhook_endpoints::create))
            .route(web::get().to(webhook_endpoints::list)),
    )
    .service(
        resource("/{id}")
            .route(web::get().to(webhook_endpoints::get))
            .route(web::patch().to(webhook_endpoints::update))
            .route(web::delete().to(webhook_endpoints::delete)),
    )
    .service(resource("/{id}/rotate_secret").route(web::post().to(webhook_endpoints::rotate_secret)))
    .service(resource("/{id}/deliveries").route(web::get().to(webhook_endpoints::deliveries)));
}

fn event_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("").route(web::get().to(events::list)))
        .service(resource("/{id}").route(web::get().to(events::get)))
        .service(resource("/{id}/redeliver").route(web::post().to(events::redeliver)));
}

/// A resource that answers an unsupported method with a JSON 405 instead of an empty body.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(openapi::method_not_allowed))
}

/// Unknown paths: a JSON 404 like every other error.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}
