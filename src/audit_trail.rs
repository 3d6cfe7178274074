//! [`AuditTrail`]: the audit log's front door for refusals (authentication failures, idempotency
//! conflicts, refused webhook signatures). It records who (the merchant, when known), what (method
//! and path), when, from which address and the outcome — never a token, a body or card data — by
//! handing an `AuditRecord` to the core's `AuditActor`.
//!
//! It sits below `http/` because start-up builds it and shutdown flushes it; the HTTP layer adds
//! how a request becomes a [`RequestOrigin`] (`http/audit.rs`).

use std::collections::BTreeMap;

use actix::Addr;
use payrail_core::audit::{AuditActor, AuditRecord, Flush, Record};
use payrail_core::domain::MerchantId;

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

impl AuditTrail {
    pub fn new(actor: Addr<AuditActor>) -> Self {
        Self { actor }
    }

    /// Appends what is committed or buffered and not yet audited (graceful shutdown).
    pub async fn flush(&self) {
        match self.actor.send(Flush).await {
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
