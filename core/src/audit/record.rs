//! What goes into an audit entry: a payment event as committed, or a security-relevant refusal.
//! Payloads are compact JSON with fixed keys; no secrets or card data can reach them because
//! neither type carries any.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use crate::audit::{NewAuditEntry, KIND_PAYMENT_EVENT};
use crate::domain::PaymentEvent;

/// A refusal worth auditing without a payment event: who, what, when, from where, outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// e.g. `authentication_failure`, `idempotency_conflict`, `webhook_rejected`.
    pub kind: &'static str,
    /// The merchant, when known.
    pub actor: Option<String>,
    /// The peer address of the request.
    pub address: Option<String>,
    /// What was attempted, e.g. `POST /api/v1/payments`.
    pub action: String,
    /// What payrail answered, e.g. `401 invalid_token`.
    pub outcome: String,
    /// Extra non-secret context.
    pub detail: BTreeMap<String, String>,
    pub at: DateTime<Utc>,
}

impl AuditRecord {
    pub fn entry(&self) -> NewAuditEntry {
        let payload = json!({
            "actor": self.actor,
            "address": self.address,
            "action": self.action,
            "outcome": self.outcome,
            "detail": self.detail,
            "at": self.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        });
        NewAuditEntry {
            kind: self.kind.to_owned(),
            event_id: None,
            payload: payload.to_string(),
            recorded_at: self.at,
        }
    }
}

/// The audit entry recording a committed payment event.
pub fn payment_event_entry(event: &PaymentEvent, recorded_at: DateTime<Utc>) -> NewAuditEntry {
    let payload = json!({
        "event_id": event.id.as_str(),
        "payment_id": event.payment_id.as_str(),
        "merchant_id": event.merchant_id.as_str(),
        "sequence": event.sequence,
        "kind": event.kind.as_str(),
        "from_status": event.from_status.map(|s| s.as_str()),
        "to_status": event.to_status.as_str(),
        "amount": event.amount,
        "refund_id": event.refund_id.as_ref().map(|r| r.as_str()),
        "failure_code": event.failure_code,
        "created_at": event.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    });
    NewAuditEntry {
        kind: KIND_PAYMENT_EVENT.to_owned(),
        event_id: Some(event.id.as_str().to_owned()),
        payload: payload.to_string(),
        recorded_at,
    }
}
