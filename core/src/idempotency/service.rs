//! [`Idempotency`]: the one service that runs a merchant's request at most once per key —
//! claim → execute → complete or release — and answers by value ([`Answer`]).
//!
//! A create claims its key with its first commit (the claim rides with the `pending` payment); if
//! that finds the key taken, nothing was written and the ordinary claim says whose it is. A change
//! claims first. A claim taken over from a request that died is resumed from the payment's
//! persisted state (`resume.rs`). The answer of a successful operation is stored with its last
//! transition; a final refusal ([`PaymentError::is_final`]) is stored afterwards; anything else
//! left the payment unchanged and releases the key so a retry may succeed.
//!
//! The claimed work runs in a task of its own, so it finishes and stores (or releases) its answer
//! even if the caller goes away: a claim abandoned half-way would block its key until the lock
//! timeout. That task is local to the caller's thread (`spawn_local`, so the caller must run in a
//! `LocalSet`, as every actix worker does): payment actors are started on the thread that first
//! needs them, and must not all end up on one.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::domain::{IdempotencyKey, PaymentId};
use crate::operation::{Executed, Executor, Keyed, Operation, OperationKind, PaymentError, ReplyRenderer};
use crate::ports::{ClaimRequest, JobLease, PaymentStore, StoredReply};

use super::claim::{new_lock_token, ClaimOutcome, Claims, Resumed};
use super::resume;

/// A request's `Idempotency-Key` and its fingerprint (a keyed hash of method, path and body).
#[derive(Clone, Debug)]
pub struct RequestKey {
    pub key: IdempotencyKey,
    pub fingerprint: String,
}

/// What a request gets.
// Fresh is the common answer; boxing it would cost an allocation per request to save a few
// hundred bytes on the rare ones.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Answer {
    /// Ran now. `reply` is the answer as stored for replays, to send as is; `None` when the
    /// request was not keyed, or its answer could not be rendered.
    Fresh {
        outcome: crate::operation::Outcome,
        reply: Option<StoredReply>,
    },
    /// The same request finished before: its answer again.
    Replay(StoredReply),
    /// The same request is running now.
    InProgress { retry_after: Duration },
    /// The key was used for a different request.
    KeyReused,
}

#[derive(Clone)]
pub struct Idempotency {
    inner: Arc<Inner>,
}

struct Inner {
    claims: Claims,
    executor: Arc<dyn Executor>,
    store: Arc<dyn PaymentStore>,
    replies: Arc<dyn ReplyRenderer>,
}

impl Idempotency {
    pub fn new(
        claims: Claims,
        executor: Arc<dyn Executor>,
        store: Arc<dyn PaymentStore>,
        replies: Arc<dyn ReplyRenderer>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                claims,
                executor,
                store,
                replies,
            }),
        }
    }

    /// Deletes expired keys every `reap_interval`, in a task of its own, for as long as the
    /// runtime runs; only while this node holds the `idempotency_reaper` lease.
    pub fn spawn_reaper(&self, lease: Arc<dyn JobLease>) {
        let claims = self.inner.claims.clone();
        let every = claims.settings().reap_interval.max(Duration::from_millis(10));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if !lease.hold("idempotency_reaper").await {
                    continue;
                }
                match claims.reap().await {
                    Ok(0) => {}
                    Ok(reaped) => tracing::info!(reaped, "expired idempotency keys deleted"),
                    Err(error) => tracing::warn!(%error, "idempotency reaper failed; will retry"),
                }
            }
        });
    }

    /// Runs `operation` on payment `id` at most once per (merchant, key): the first time, or again
    /// only if the first attempt released the key or died (then resumed, see `resume.rs`).
    /// `version` is the payment's version before a change, recorded with its claim.
    pub async fn run(
        &self,
        id: PaymentId,
        version: Option<i64>,
        operation: Operation,
        key: Option<RequestKey>,
    ) -> Result<Answer, PaymentError> {
        let (Some(key), Some(merchant)) = (key, operation.merchant().cloned()) else {
            let outcome = self.inner.executor.execute(&id, operation, None).await.result?;
            return Ok(Answer::Fresh { outcome, reply: None });
        };
        let claim = ClaimRequest {
            merchant: merchant.clone(),
            key: key.key.clone(),
            fingerprint: key.fingerprint,
            payment_id: Some(id.clone()),
            payment_version: version,
        };
        if let Operation::Create(_) = &operation {
            // Optimistic: the claim goes in with the new payment, or neither does.
            let keyed = Keyed {
                merchant: merchant.clone(),
                key: key.key.clone(),
                lock_token: new_lock_token(),
                claim: Some(claim.clone()),
            };
            let service = self.clone();
            let (id, operation) = (id.clone(), operation.clone());
            let answer = detached(async move {
                let kind = operation.kind();
                let executed = service
                    .inner
                    .executor
                    .execute(&id, operation, Some(keyed.clone()))
                    .await;
                if executed.holds_claim {
                    return Some(service.settle(&keyed, kind, executed).await);
                }
                if let Err(error @ PaymentError::ActorUnavailable) = executed.result {
                    // The actor died mid-way: its claim may be in. Give it up, as any other
                    // request that may be retried does.
                    service.release(&keyed).await;
                    return Some(Err(error));
                }
                None
            })
            .await?;
            if let Some(answer) = answer {
                return answer;
            }
            // Nothing was written: the key is someone else's (or the database failed first).
            // Claiming it the usual way says whose, and what to answer.
        }
        let lease = match self.inner.claims.claim(&claim).await? {
            ClaimOutcome::Acquired(lease) => lease,
            ClaimOutcome::Replay { status, body } => return Ok(Answer::Replay(StoredReply { status, body })),
            ClaimOutcome::InProgress { retry_after } => return Ok(Answer::InProgress { retry_after }),
            ClaimOutcome::KeyReused => return Ok(Answer::KeyReused),
        };
        let keyed = Keyed {
            merchant,
            key: key.key,
            lock_token: lease.token,
            claim: None,
        };
        let service = self.clone();
        detached(async move { service.execute_claimed(id, operation, keyed, lease.resumed).await }).await?
    }

    /// Runs `operation` holding `keyed`'s claim, continuing what a dead holder left (`resumed`).
    async fn execute_claimed(
        &self,
        mut id: PaymentId,
        mut operation: Operation,
        keyed: Keyed,
        resumed: Option<Resumed>,
    ) -> Result<Answer, PaymentError> {
        let kind = operation.kind();
        match (&mut operation, resumed) {
            // A retry after a crash continues the payment its first attempt created.
            (
                Operation::Create(create),
                Some(Resumed {
                    payment_id: Some(original),
                    ..
                }),
            ) => {
                create.payment.id = original.clone();
                id = original;
            }
            (
                change,
                Some(Resumed {
                    payment_version: Some(version),
                    ..
                }),
            ) => match resume::committed_change(self.inner.store.as_ref(), &id, version, change).await {
                Ok(Some(outcome)) => {
                    let executed = Executed {
                        result: Ok(outcome),
                        holds_claim: true,
                        reply: None,
                    };
                    return self.settle(&keyed, kind, executed).await;
                }
                Ok(None) => {}
                Err(error) => {
                    self.release(&keyed).await;
                    return Err(error.into());
                }
            },
            _ => {}
        }
        let executed = self.inner.executor.execute(&id, operation, Some(keyed.clone())).await;
        self.settle(&keyed, kind, executed).await
    }

    /// Stores the answer of a request that holds its claim (unless it was stored with the
    /// payment's last transition), or releases the key if nothing changed.
    async fn settle(&self, keyed: &Keyed, kind: OperationKind, executed: Executed) -> Result<Answer, PaymentError> {
        match executed.result {
            Ok(outcome) => {
                let reply = match executed.reply {
                    Some(stored) => Some(stored),
                    None => match self.inner.replies.success(kind, &outcome) {
                        Some(reply) => {
                            self.complete(keyed, &reply).await;
                            Some(reply)
                        }
                        None => {
                            self.release(keyed).await;
                            None
                        }
                    },
                };
                Ok(Answer::Fresh { outcome, reply })
            }
            Err(error) if error.is_final() => {
                let reply = self.inner.replies.refusal(&error);
                self.complete(keyed, &reply).await;
                Err(error)
            }
            Err(error) => {
                self.release(keyed).await;
                Err(error)
            }
        }
    }

    async fn complete(&self, keyed: &Keyed, reply: &StoredReply) {
        let stored = self
            .inner
            .claims
            .complete(
                &keyed.merchant,
                &keyed.key,
                &keyed.lock_token,
                reply.status,
                &reply.body,
            )
            .await;
        if stored.is_err() {
            // The change is committed; a retry after the lock timeout finds it from the payment.
            tracing::warn!(merchant_id = %keyed.merchant, "idempotent response not stored");
        }
    }

    async fn release(&self, keyed: &Keyed) {
        let released = self
            .inner
            .claims
            .release(&keyed.merchant, &keyed.key, &keyed.lock_token)
            .await;
        if released.is_err() {
            tracing::warn!(merchant_id = %keyed.merchant, "idempotency key not released; it frees up after the lock timeout");
        }
    }
}

/// Runs `work` to the end in a task of its own, in the caller's span (see the module docs).
async fn detached<T: 'static>(work: impl Future<Output = T> + 'static) -> Result<T, PaymentError> {
    tokio::task::spawn_local(work.instrument(tracing::Span::current()))
        .await
        .map_err(|_| PaymentError::ActorUnavailable)
}
