//! Counting replayed idempotent responses: a middleware that bumps `idempotency_replays_total`
//! for every response carrying `Idempotent-Replayed: true`. It belongs to the HTTP layer because
//! it reads that header; the counter itself is a plain method on [`Metrics`](crate::metrics::Metrics).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::http::idempotency::REPLAYED_HEADER;
use crate::http::AppState;

/// Middleware: counts responses served from a stored idempotent response (they carry
/// `Idempotent-Replayed: true`) into `idempotency_replays_total`.
pub async fn count_replays(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<AppState>>().map(|state| state.metrics.clone());
    let response = next.call(req).await?;
    let replayed = response
        .headers()
        .get(REPLAYED_HEADER)
        .is_some_and(|value| value.as_bytes() == b"true");
    if let (true, Some(metrics)) = (replayed, metrics) {
        metrics.idempotency_replayed();
    }
    Ok(response)
}
