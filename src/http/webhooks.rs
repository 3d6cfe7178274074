//! `POST /api/v1/webhooks/{provider}` and its alias `POST /api/v1/payments/webhook?gateway=…`.
//! Authenticated by the provider's signature, not a JWT; the body is taken as raw bytes because
//! the signature covers them exactly.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use std::collections::BTreeMap;

use crate::http::audit::{AuditTrail, RequestOrigin};
use crate::http::body::RawBody;
use crate::http::{ApiError, AppState};
use crate::webhooks::{Delivery, WebhookError};

pub async fn receive(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    handle(&state, &path, &req, &body).await
}

#[derive(Deserialize)]
pub struct GatewayQuery {
    gateway: Option<String>,
}

pub async fn receive_by_query(
    state: web::Data<AppState>,
    query: web::Query<GatewayQuery>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let gateway = query
        .into_inner()
        .gateway
        .ok_or_else(|| ApiError::invalid("parameter_missing", "missing required parameter `gateway`", "gateway"))?;
    handle(&state, &gateway, &req, &body).await
}

async fn handle(state: &AppState, provider: &str, req: &HttpRequest, body: &[u8]) -> Result<HttpResponse, ApiError> {
    let received = state.webhooks.receive(provider, req.headers(), body).await;
    // `webhooks_received_total{provider,outcome}`; an unknown provider is one label, not many.
    let outcome = match &received {
        Ok(Delivery::Duplicate) => "duplicate",
        Ok(_) => "processed",
        Err(WebhookError::NotConfigured(_)) => "not_configured",
        Err(WebhookError::Signature(_)) => "invalid_signature",
        Err(WebhookError::Malformed) => "malformed",
        Err(_) => "error",
    };
    let label = if state.provider_names.iter().any(|p| p == provider) {
        provider
    } else {
        "unknown"
    };
    state.metrics.webhook_received(label, outcome);
    let delivery = match received {
        Ok(delivery) => delivery,
        Err(WebhookError::Signature(reason)) => {
            // Refused deliveries go to the audit log: provider, reason, address; never the body.
            if let Some(trail) = req.app_data::<web::Data<AuditTrail>>() {
                let detail = BTreeMap::from([
                    ("provider".to_owned(), provider.to_owned()),
                    ("reason".to_owned(), reason.to_string()),
                ]);
                let origin = RequestOrigin::of(req);
                trail.refusal(
                    "webhook_signature_rejected",
                    &origin,
                    None,
                    "400 invalid_signature".into(),
                    detail,
                );
            }
            return Err(WebhookError::Signature(reason).into());
        }
        Err(other) => return Err(other.into()),
    };
    Ok(HttpResponse::Ok().json(json!({ "received": true, "duplicate": delivery == Delivery::Duplicate })))
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::NotConfigured(_) => ApiError::NotFound("webhook endpoint"),
            WebhookError::Signature(reason) => ApiError::InvalidRequest {
                code: "invalid_signature",
                message: format!("the webhook could not be verified: {reason}"),
                param: None,
            },
            WebhookError::Malformed => ApiError::InvalidRequest {
                code: "invalid_event",
                message: "the webhook body is not a valid event".into(),
                param: None,
            },
            WebhookError::VerifierUnavailable => ApiError::Unavailable {
                code: "verifier_unavailable",
                message: "the webhook could not be verified right now; redeliver later",
            },
            WebhookError::Store(error) => error.into(),
            WebhookError::Payment(error) => error.into(),
        }
    }
}
