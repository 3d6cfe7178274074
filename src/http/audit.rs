//! Auditing refusals from the HTTP layer: authentication failures and idempotency conflicts go to
//! the `AuditActor` with who (the merchant, when known), what (method and path), when, from which
//! address (the TCP peer) and the outcome. Never a token, a body or card data.

use std::collections::BTreeMap;

use actix::Addr;
use actix_web::{web, HttpRequest};
use payrail_core::audit::{AuditActor, AuditRecord, Record};
use payrail_core::domain::MerchantId;

use crate::http::ApiError;

/// The audit log's front door for handlers and extractors (shared through `web::Data`).
#[derive(Clone)]
pub struct AuditTrail {
    actor: Addr<AuditActor>,
}

/// Where a request came from and what it asked for, captured before its body is consumed.
#[derive(Clone, Debug)]
pub struct RequestOrigin {
    pub action: String,
    pub address: Option<String>,
}

impl RequestOrigin {
    pub fn of(req: &HttpRequest) -> Self {
        Self {
            action: format!("{} {}", req.method(), req.path()),
            address: crate::http::client_ip(req).map(|ip| ip.to_string()),
        }
    }
}

impl AuditTrail {
    pub fn new(actor: Addr<AuditActor>) -> Self {
        Self { actor }
    }

    /// Appends what is committed or buffered and not yet audited (graceful shutdown).
    pub async fn flush(&self) {
        match self.actor.send(payrail_core::audit::Flush).await {
            Ok(Ok(())) => tracing::info!("audit log flushed"),
            Ok(Err(error)) => tracing::warn!(%error, "audit flush failed; the next start audits what is left"),
            Err(_) => tracing::warn!("audit writer already stopped; the next start audits what is left"),
        }
    }

    pub fn refusal(
        &self,
        kind: &'static str,
        origin: &RequestOrigin,
        merchant: Option<&MerchantId>,
        outcome: String,
        detail: BTreeMap<String, String>,
    ) {
        self.actor.do_send(Record(AuditRecord {
            kind,
            actor: merchant.map(|m| m.as_str().to_owned()),
            address: origin.address.clone(),
            action: origin.action.clone(),
            outcome,
            detail,
            at: chrono::Utc::now(),
        }));
    }
}

/// Audits a refused authentication (called by the `AuthenticatedMerchant` extractor).
pub fn authentication_failed(req: &HttpRequest, error: &ApiError) {
    let (Some(trail), ApiError::Unauthorized(code)) = (req.app_data::<web::Data<AuditTrail>>(), error) else {
        return;
    };
    trail.refusal(
        "authentication_failure",
        &RequestOrigin::of(req),
        None,
        format!("401 {code}"),
        BTreeMap::new(),
    );
}
