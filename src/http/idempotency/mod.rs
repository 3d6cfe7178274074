//! The HTTP edge of idempotency. The core's `Idempotency` service claims, executes, stores and
//! replays; this module does what only HTTP can: reads the `Idempotency-Key` header and
//! fingerprints the request ([`KeyedJson`], `request.rs`), renders the answers the core stores
//! ([`JsonReplies`], the core's `ReplyRenderer` port, `reply.rs`), and turns the core's `Answer`
//! into a response ([`IdempotencyEdge::respond`]), auditing key conflicts.
//!
//! Validation happens before anything reaches the core, so a request rejected up front (400, 401,
//! 429) stores nothing. Stored answers are sent byte for byte — the first time as they were
//! stored, on a replay with `Idempotent-Replayed: true`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use payrail_core::domain::MerchantId;
use payrail_core::idempotency::{Answer, StoredReply};
use payrail_core::operation::{OperationKind, PaymentError, ReplyRenderer};

use crate::http::audit::AuditTrail;
use crate::http::ApiError;

mod reply;
mod request;

pub use reply::JsonReplies;
pub use request::{fingerprint, fingerprint_key, KeyedJson, KeyedRequest};

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// Shared through `web::Data`: the fingerprint key and the audit trail for key conflicts.
pub struct IdempotencyEdge {
    audit: AuditTrail,
    pub(super) fingerprint_key: Vec<u8>,
}

impl IdempotencyEdge {
    pub fn new(audit: AuditTrail, fingerprint_key: Vec<u8>) -> Self {
        Self { audit, fingerprint_key }
    }

    /// The response to a `kind` request that got `answer` from the core.
    pub fn respond(
        &self,
        merchant: &MerchantId,
        key: Option<&KeyedRequest>,
        kind: OperationKind,
        answer: Result<Answer, PaymentError>,
    ) -> Result<HttpResponse, ApiError> {
        match answer? {
            Answer::Fresh { reply: Some(reply), .. } => Ok(stored_response(reply, false)),
            Answer::Fresh { outcome, reply: None } => {
                let reply = JsonReplies.success(kind, &outcome).ok_or(ApiError::Internal)?;
                Ok(stored_response(reply, false))
            }
            Answer::Replay(reply) => Ok(stored_response(reply, true)),
            Answer::InProgress { retry_after } => {
                self.audit_conflict(merchant, key, "409 idempotency_in_progress");
                Err(ApiError::IdempotencyInProgress {
                    retry_after_secs: retry_after.as_secs().max(1),
                })
            }
            Answer::KeyReused => {
                self.audit_conflict(merchant, key, "422 idempotency_key_reused");
                Err(ApiError::IdempotencyKeyReused)
            }
        }
    }

    fn audit_conflict(&self, merchant: &MerchantId, key: Option<&KeyedRequest>, outcome: &str) {
        let Some(keyed) = key else { return };
        let detail = BTreeMap::from([("idempotency_key".to_owned(), keyed.key.as_str().to_owned())]);
        self.audit.refusal(
            "idempotency_conflict",
            &keyed.origin,
            Some(merchant),
            outcome.to_owned(),
            detail,
        );
    }
}

/// A stored answer as it is sent: the first time, and on every replay (marked as one).
fn stored_response(reply: StoredReply, replayed: bool) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.content_type("application/json");
    if replayed {
        response.insert_header((REPLAYED_HEADER, "true"));
    }
    response.body(reply.body)
}
