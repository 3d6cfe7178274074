//! A merchant's change to an existing payment — capture, cancel, refund — in three steps (issue
//! 14): **reserve** (the change is committed as an intent, version-checked like every write: a
//! capture or cancel as the payment's `pending_change`, a refund as its own `pending` row whose
//! amount is counted at once), **call** (the provider, with a key derived from the intent's id),
//! **settle** (the provider's answer, committed with the request's reply).
//!
//! The database decides, not this node's copy: when the reservation loses the version race
//! (another node moved the payment), the payment is reloaded and the change decided again — a
//! refund that still fits goes ahead, one that no longer does gets the answer one node would give.
//! The settlement reloads the same way. An intent whose call had no clear answer stays open for
//! the reconciler (`settlement.rs`), which settles it from the provider on any node.

use std::time::Duration;

use crate::domain::{
    refund_provider_key, Command, DomainError, IntentId, Payment, Refund, RefundId, RefundStatus, Transition,
};
use crate::ports::{CancelRequest, CaptureRequest, ProviderError, RefundRequest, StoreError};

use super::keyed::{commit_last, KeyedCommits};
use super::{Dependencies, Operation, OperationKind, Outcome, PaymentError};

/// Reloads and re-decisions before a reservation gives up with a 409 `concurrent_modification`.
const RESERVE_ATTEMPTS: u32 = 32;
/// Reloads before a settlement is left to the reconciler (the money has moved: try hard).
const SETTLE_ATTEMPTS: u32 = 64;

pub(super) async fn change(
    deps: &Dependencies,
    payment: Payment,
    change: Operation,
    keyed: Option<&mut KeyedCommits>,
) -> Result<Outcome, PaymentError> {
    let kind = change.kind();
    let reserved = reserve(deps, payment, &change).await?;
    let payment = reserved.payment;
    let provider = deps.provider(&payment.provider)?;
    let called = match (&change, reserved.refund) {
        (Operation::Refund { .. }, Some(refund)) => {
            let request = refund_request(&payment, &refund);
            match provider.refund(request).await {
                Ok(answer) => Ok(Settle::Refund {
                    refund,
                    status: answer.status,
                    provider_reference: answer.provider_reference,
                }),
                Err(error) => Err((
                    error,
                    Settle::Refund {
                        refund,
                        status: RefundStatus::Failed,
                        provider_reference: None,
                    },
                )),
            }
        }
        (Operation::Capture { .. }, _) => {
            let request = capture_request(&payment)?;
            let amount = request.amount;
            match provider.capture(request).await {
                Ok(()) => Ok(Settle::Command(Command::Capture { amount })),
                Err(error) => Err((error, Settle::Command(Command::ReleaseChange))),
            }
        }
        (Operation::Cancel { .. }, _) => match provider.cancel(cancel_request(&payment)?).await {
            Ok(()) => Ok(Settle::Command(Command::Cancel)),
            Err(error) => Err((error, Settle::Command(Command::ReleaseChange))),
        },
        _ => return Err(PaymentError::NotFound),
    };
    match called {
        Ok(settle) => settle_intent(deps, kind, payment, settle, keyed).await,
        // The provider certainly did not act: the reservation is given back, the error answered.
        Err((error @ (ProviderError::Rejected { .. } | ProviderError::Unavailable(_)), release)) => {
            settle_intent(deps, kind, payment, release, None).await?;
            Err(error.into())
        }
        // It may have acted: the intent stays open and the reconciler settles it.
        Err((error, _)) => {
            tracing::warn!(payment_id = %payment.id, %error, "change sent, outcome unknown; left to the reconciler");
            Err(error.into())
        }
    }
}

/// The provider's answer to an intent, to commit on whatever the payment has become by then.
pub(super) enum Settle {
    Refund {
        refund: Refund,
        status: RefundStatus,
        provider_reference: Option<String>,
    },
    Command(Command),
}

/// Commits `settle` on `payment`, reloading when another node moved it meanwhile. An intent
/// already settled (by the reconciler, or a repeat) is answered as stored.
pub(super) async fn settle_intent(
    deps: &Dependencies,
    kind: OperationKind,
    mut payment: Payment,
    settle: Settle,
    mut keyed: Option<&mut KeyedCommits>,
) -> Result<Outcome, PaymentError> {
    let intent = payment.pending_change.as_ref().map(|change| change.id.clone());
    for attempt in 0..SETTLE_ATTEMPTS {
        let (command, refund_id) = match &settle {
            Settle::Refund {
                refund,
                status,
                provider_reference,
            } => {
                let stored = match attempt {
                    0 => refund.clone(),
                    _ => current_refund(deps, &payment, &refund.id).await?,
                };
                if !stored.awaiting_provider {
                    return Ok(Outcome {
                        payment,
                        refund: Some(stored),
                    });
                }
                let command = Command::SettleRefund {
                    refund: stored,
                    status: *status,
                    provider_reference: provider_reference.clone(),
                };
                (command, Some(refund.id.clone()))
            }
            Settle::Command(command) => {
                if payment.pending_change.as_ref().map(|change| &change.id) != intent.as_ref() {
                    return Ok(Outcome { payment, refund: None });
                }
                (command.clone(), None)
            }
        };
        let transition = payment.apply(command, deps.clock.now())?;
        match commit_last(deps, kind, transition, keyed.as_deref_mut()).await {
            Err(StoreError::Conflict) => {
                backoff(attempt).await;
                payment = reload(deps, &payment).await?;
                tracing::debug!(payment_id = %payment.id, refund_id = ?refund_id, "settlement lost a race; reloaded");
            }
            committed => return Ok(committed?),
        }
    }
    Err(StoreError::Conflict.into())
}

/// The intent as committed: the payment and, for a refund, its reserved row.
struct Reserved {
    payment: Payment,
    refund: Option<Refund>,
}

/// Decides `change` on the stored payment and commits it as an intent, deciding again on a fresh
/// copy each time another writer got there first.
async fn reserve(deps: &Dependencies, mut payment: Payment, change: &Operation) -> Result<Reserved, PaymentError> {
    for attempt in 0..RESERVE_ATTEMPTS {
        let transition = match decide(deps, &payment, change) {
            Ok(transition) => transition,
            // A refusal decided on a cached copy stands only if the stored payment agrees.
            Err(refusal) => {
                let stored = reload(deps, &payment).await?;
                if stored.version == payment.version {
                    return Err(refusal);
                }
                payment = stored;
                continue;
            }
        };
        let refund = transition.refund.clone();
        match deps.commit(transition).await {
            Ok(payment) => return Ok(Reserved { payment, refund }),
            Err(StoreError::Conflict) => {
                backoff(attempt).await;
                payment = reload(deps, &payment).await?;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

/// The intent `change` would commit on `payment`, or the state machine's refusal.
fn decide(deps: &Dependencies, payment: &Payment, change: &Operation) -> Result<Transition, PaymentError> {
    let command = match change {
        Operation::Capture { amount, .. } => Command::RequestCapture {
            intent: IntentId::generate(),
            amount: payment.plan_capture(*amount)?,
        },
        Operation::Cancel { .. } => Command::RequestCancel {
            intent: IntentId::generate(),
        },
        Operation::Refund { amount, reason, .. } => Command::RequestRefund {
            id: RefundId::generate(),
            amount: payment.plan_refund(*amount)?,
            reason: *reason,
        },
        _ => return Err(PaymentError::NotFound),
    };
    Ok(payment.apply(command, deps.clock.now())?)
}

async fn reload(deps: &Dependencies, payment: &Payment) -> Result<Payment, PaymentError> {
    deps.store.load(&payment.id).await?.ok_or(PaymentError::NotFound)
}

async fn current_refund(deps: &Dependencies, payment: &Payment, id: &RefundId) -> Result<Refund, PaymentError> {
    let refunds = deps.store.list_refunds(&payment.id).await?;
    refunds
        .into_iter()
        .find(|refund| &refund.id == id)
        .ok_or(PaymentError::Domain(DomainError::UnknownRefund))
}

/// A short pause, longer with each lost race and jittered, so two nodes retrying the same
/// payment do not collide in step.
async fn backoff(attempt: u32) {
    let jitter = (uuid::Uuid::new_v4().as_u128() % 1000) as u64;
    let micros = 200 * u64::from(attempt.min(10) + 1) + jitter;
    tokio::time::sleep(Duration::from_micros(micros)).await;
}

pub(super) fn refund_request(payment: &Payment, refund: &Refund) -> RefundRequest {
    RefundRequest {
        payment_id: payment.id.clone(),
        refund_id: refund.id.clone(),
        provider_reference: payment.provider_reference.clone(),
        amount: refund.amount,
        currency: payment.currency,
        reason: refund.reason,
        idempotency_key: refund_provider_key(&payment.id, &refund.id),
    }
}

pub(super) fn capture_request(payment: &Payment) -> Result<CaptureRequest, PaymentError> {
    let change = payment.pending_change.as_ref().ok_or(missing_intent(payment))?;
    Ok(CaptureRequest {
        payment_id: payment.id.clone(),
        provider_reference: payment.provider_reference.clone(),
        amount: change.amount.ok_or(missing_intent(payment))?,
        currency: payment.currency,
        idempotency_key: change.provider_key(&payment.id),
    })
}

pub(super) fn cancel_request(payment: &Payment) -> Result<CancelRequest, PaymentError> {
    let change = payment.pending_change.as_ref().ok_or(missing_intent(payment))?;
    Ok(CancelRequest {
        payment_id: payment.id.clone(),
        provider_reference: payment.provider_reference.clone(),
        idempotency_key: change.provider_key(&payment.id),
    })
}

fn missing_intent(payment: &Payment) -> PaymentError {
    PaymentError::Domain(DomainError::InvalidState {
        operation: "settle a change of",
        status: payment.status,
    })
}
