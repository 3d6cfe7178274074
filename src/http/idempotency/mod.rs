//! `Idempotency-Key` on the mutating endpoints (create, capture, cancel, refund): the header and
//! body are read by the [`KeyedJson`] extractor (`request.rs`, with the request's fingerprint), and
//! [`IdempotencyService::run`] wraps a handler's
//! work in a claim: taken with a create's first commit, or by the `IdempotencyActor` before a
//! change runs (or when the first-commit claim found the key taken, to learn whose it is). The
//! response of a successful operation is stored with the payment's last transition ([`Reply`],
//! `KeyedCommit`); any other final answer is stored by the `IdempotencyActor` afterwards.
//!
//! Validation happens before the claim, so a request rejected up front (400, 401, 429) stores
//! nothing. Responses that are the final word on the request (2xx, and the state machine's 409
//! `invalid_state` / 422 `amount_too_large`) are stored and replayed byte for byte with
//! `Idempotent-Replayed: true`; responses after which nothing changed and a retry may succeed (5xx,
//! 404, a lost version race) release the key instead.

use std::collections::BTreeMap;
use std::future::Future;

use actix::Addr;
use actix_web::body::to_bytes;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use payrail_core::domain::{MerchantId, PaymentId};
use payrail_core::idempotency::{
    Claim, ClaimOutcome, ClaimRequest, Complete, IdempotencyActor, KeyedCommit, Release, RenderReply, Resumed,
    StoredReply,
};
use tracing::Instrument;

use crate::http::audit::AuditTrail;
use crate::http::ApiError;

mod request;

pub use request::{fingerprint, fingerprint_key, KeyedJson, KeyedRequest};

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// The claim logic's front door for handlers (shared through `web::Data`).
pub struct IdempotencyService {
    actor: Addr<IdempotencyActor>,
    audit: AuditTrail,
    pub(super) fingerprint_key: Vec<u8>,
}

/// What the claim records about the payment, so a retry after a crash can consult it.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub payment_id: Option<PaymentId>,
    pub payment_version: Option<i64>,
}

impl IdempotencyService {
    pub fn new(actor: Addr<IdempotencyActor>, audit: AuditTrail, fingerprint_key: Vec<u8>) -> Self {
        Self {
            actor,
            audit,
            fingerprint_key,
        }
    }

    /// Runs `execute` at most once per (merchant, key): the first time, or again only if the first
    /// attempt released the key or died (then `execute` gets what it was working on). `execute`
    /// gets the [`KeyedCommit`] to hand its operation, so that the claim (with `reply.claim_with_first_commit`)
    /// and the response are committed with the payment's transitions.
    pub async fn run<F, Fut>(
        &self,
        merchant: &MerchantId,
        keyed: Option<KeyedRequest>,
        target: Target,
        reply: Reply,
        mut execute: F,
    ) -> Result<HttpResponse, ApiError>
    where
        F: FnMut(Option<Resumed>, Option<KeyedCommit>) -> Fut,
        Fut: Future<Output = Result<HttpResponse, ApiError>> + 'static,
    {
        let Some(keyed) = keyed else {
            return execute(None, None).await;
        };
        let claim = ClaimRequest {
            merchant: merchant.clone(),
            key: keyed.key.clone(),
            fingerprint: keyed.fingerprint.clone(),
            payment_id: target.payment_id,
            payment_version: target.payment_version,
        };
        if reply.claim_with_first_commit {
            // Optimistic: the claim goes in with the new payment, or neither does.
            let token = uuid::Uuid::new_v4().simple().to_string();
            let commit = KeyedCommit::new(
                merchant.clone(),
                keyed.key.clone(),
                token,
                Some(claim.clone()),
                reply.render.clone(),
            );
            let work = finish(self.actor.clone(), commit.clone(), execute(None, Some(commit.clone())));
            let answer = actix_web::rt::spawn(work.instrument(tracing::Span::current()))
                .await
                .map_err(|_| ApiError::Internal)?;
            if commit.holds_claim() {
                return answer;
            }
            // Nothing was written: the key is someone else's (or the database failed first).
            // Claiming it the usual way says whose, and what to answer.
        }
        let outcome = self.actor.send(Claim(claim)).await.map_err(|_| unavailable())??;
        let lease = match outcome {
            ClaimOutcome::Acquired(lease) => lease,
            ClaimOutcome::Replay { status, body } => return Ok(replay(status, body)),
            ClaimOutcome::InProgress { retry_after } => {
                let error = ApiError::IdempotencyInProgress {
                    retry_after_secs: retry_after.as_secs().max(1),
                };
                self.audit_conflict(merchant, &keyed, "409 idempotency_in_progress");
                return Err(error);
            }
            ClaimOutcome::KeyReused => {
                self.audit_conflict(merchant, &keyed, "422 idempotency_key_reused");
                return Err(ApiError::IdempotencyKeyReused);
            }
        };
        // Finish the claimed work even if the client goes away. actix-web's HTTP/1 dispatcher keeps
        // polling a handler after a disconnect today, but nothing promises it (a timeout middleware
        // would drop the future), and a claim abandoned half-way blocks its key until the lock
        // timeout. A task of its own runs to the end and stores (or releases) the answer.
        let commit = KeyedCommit::new(merchant.clone(), keyed.key, lease.token, None, reply.render);
        let work = finish(self.actor.clone(), commit.clone(), execute(lease.resumed, Some(commit)));
        actix_web::rt::spawn(work.instrument(tracing::Span::current()))
            .await
            .map_err(|_| ApiError::Internal)?
    }

    fn audit_conflict(&self, merchant: &MerchantId, keyed: &KeyedRequest, outcome: &str) {
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

/// Runs the claimed work, then stores its answer (unless it was stored with the payment's last
/// transition), or releases the key if nothing changed. Work that never got its claim (the
/// optimistic attempt lost the key) wrote nothing and touches nothing here.
async fn finish(
    actor: Addr<IdempotencyActor>,
    commit: KeyedCommit,
    work: impl Future<Output = Result<HttpResponse, ApiError>>,
) -> Result<HttpResponse, ApiError> {
    let result = work.await;
    if let Some(stored) = commit.stored_reply() {
        return Ok(stored_response(stored.status, stored.body.clone(), false));
    }
    if !commit.holds_claim() {
        return result;
    }
    let KeyedCommit {
        merchant,
        key,
        lock_token: token,
        ..
    } = commit;
    let store = is_final(&result);
    let response = match result {
        Ok(response) => response,
        Err(error) => error.error_response(),
    };
    if !store {
        if !matches!(
            actor
                .send(Release {
                    merchant: merchant.clone(),
                    key,
                    token
                })
                .await,
            Ok(Ok(()))
        ) {
            tracing::warn!(merchant_id = %merchant, "idempotency key not released; it frees up after the lock timeout");
        }
        return Ok(response);
    }
    let (head, body) = response.into_parts();
    let bytes = to_bytes(body).await.map_err(|_| ApiError::Internal)?;
    let complete = Complete {
        merchant: merchant.clone(),
        key,
        token,
        status: head.status().as_u16(),
        body: bytes.to_vec(),
    };
    if !matches!(actor.send(complete).await, Ok(Ok(()))) {
        // The change is committed; a retry after the lock timeout finds it from the payment.
        tracing::warn!(merchant_id = %merchant, "idempotent response not stored");
    }
    Ok(head.set_body(bytes).map_into_boxed_body())
}

/// Whether a result is the request's final answer (stored) or leaves nothing changed (released).
fn is_final(result: &Result<HttpResponse, ApiError>) -> bool {
    match result {
        Ok(response) => response.status().is_success(),
        Err(ApiError::InvalidState(_) | ApiError::AmountTooLarge(_)) => true,
        Err(_) => false,
    }
}

fn replay(status: u16, body: Vec<u8>) -> HttpResponse {
    stored_response(status, body, true)
}

/// A stored response as it is sent: the first time, and on every replay (marked as one).
fn stored_response(status: u16, body: Vec<u8>, replayed: bool) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.content_type("application/json");
    if replayed {
        response.insert_header((REPLAYED_HEADER, "true"));
    }
    response.body(body)
}

/// How a keyed request's response is stored with its payment's last transition.
#[derive(Clone)]
pub struct Reply {
    /// The response of a successful operation, exactly as the handler answers it.
    pub render: RenderReply,
    /// Claim the key with the operation's first commit (a create: its `pending` payment is
    /// written before any provider hears of it), instead of before the operation starts.
    pub claim_with_first_commit: bool,
}

impl Reply {
    /// Answers `status` with `view(outcome)` as JSON.
    pub fn json<V: serde::Serialize>(
        status: StatusCode,
        view: impl Fn(&payrail_core::operation::Outcome) -> Option<V> + Send + Sync + 'static,
    ) -> Self {
        let render: RenderReply = std::sync::Arc::new(move |outcome| {
            let body = serde_json::to_vec(&view(outcome)?).ok()?;
            Some(StoredReply {
                status: status.as_u16(),
                body,
            })
        });
        Self {
            render,
            claim_with_first_commit: false,
        }
    }

    /// The answer to a successful `outcome`: the response stored with its last transition if it
    /// was (rendered once, sent as stored), else rendered now.
    pub fn respond(
        &self,
        keyed: Option<&KeyedCommit>,
        outcome: &payrail_core::operation::Outcome,
    ) -> Result<HttpResponse, ApiError> {
        if let Some(stored) = keyed.and_then(KeyedCommit::stored_reply) {
            return Ok(stored_response(stored.status, stored.body.clone(), false));
        }
        let reply = (self.render)(outcome).ok_or(ApiError::Internal)?;
        Ok(stored_response(reply.status, reply.body, false))
    }

    /// See [`Reply::claim_with_first_commit`].
    pub fn claiming_with_first_commit(mut self) -> Self {
        self.claim_with_first_commit = true;
        self
    }
}

fn unavailable() -> ApiError {
    ApiError::Unavailable {
        code: "idempotency_unavailable",
        message: "idempotency keys cannot be checked right now; retry shortly",
    }
}
