//! Settling what the provider decided after the fact: reconciliation (payrail asks the provider),
//! the customer's return from a customer action (payrail asks too) and provider webhooks (the
//! provider tells payrail). All three run inside the payment's actor, so they
//! are serialised with the merchant's own calls on that payment: a webhook racing the API call
//! ends in the same state as if the two had arrived one after the other.
//!
//! A provider update that the state machine refuses — the payment already moved past it, or the
//! event repeats what is known — changes nothing and is not an error: providers redeliver and
//! reorder events, and the first answer to arrive wins.

use crate::domain::{
    ActionInput, ActionValue, AuthorizationOutcome, ChangeKind, Command, DomainError, NextAction, Payment,
    PaymentStatus, RefundId, RefundStatus,
};
use crate::ports::{CancelRequest, ChangeLookup, ProviderError, RetrieveRequest, SubmitActionRequest};

use super::change::{cancel_request, capture_request, refund_request, settle_intent, Settle};
use super::{Dependencies, OperationKind, Outcome, PaymentError};

/// What a provider says happened.
#[derive(Clone, Debug)]
pub enum ProviderUpdate {
    /// The authorisation's outcome (succeeded, authorised, declined, needs action).
    Authorization(AuthorizationOutcome),
    /// The provider canceled the payment on its own (an authorisation expired or was voided there).
    Canceled { provider_reference: Option<String> },
    /// A refund's outcome, identified by payrail's refund id or the provider's refund reference.
    Refund {
        refund_id: Option<RefundId>,
        provider_reference: Option<String>,
        status: RefundStatus,
    },
}

/// Asks the payment's provider for its outcome and records it, if the payment still awaits one.
/// A `requires_action` payment nobody completed within `requires_action_ttl` is canceled: at the
/// provider first (so the customer cannot complete it afterwards), then here.
pub(super) async fn reconcile(deps: &Dependencies, payment: Payment) -> Result<Outcome, PaymentError> {
    if !payment.status.is_awaiting_provider() {
        return settle_open_intents(deps, payment).await;
    }
    let outcome = ask_provider(deps, &payment).await?;
    let undecided = matches!(
        outcome,
        AuthorizationOutcome::Unknown { .. } | AuthorizationOutcome::RequiresAction { .. }
    );
    if undecided && payment.status == PaymentStatus::RequiresAction {
        if deps.clock.now() - payment.updated_at < deps.requires_action_ttl {
            return Ok(unchanged(payment));
        }
        let cancel = CancelRequest {
            payment_id: payment.id.clone(),
            provider_reference: payment.provider_reference.clone(),
            idempotency_key: format!("{}:expire_action", payment.id),
        };
        match deps.provider(&payment.provider)?.cancel(cancel).await {
            Ok(()) => {}
            // A provider without voids (Paystack): an unfinished charge lapses there on its own.
            Err(ProviderError::Rejected { code, .. }) if code == "operation_not_supported" => {}
            Err(error) => return Err(error.into()),
        }
        return record(deps, payment, Command::ExpireAction).await;
    }
    if matches!(outcome, AuthorizationOutcome::Unknown { .. }) {
        return Ok(unchanged(payment));
    }
    record(deps, payment, Command::RecordAuthorization(outcome)).await
}

/// The customer is back from a customer action: ask the provider and record its answer. Only a
/// payment in `requires_action` can be completed; the second return finds it settled and is
/// refused, so a completion happens once whichever of return, webhook or reconciler is first.
pub(super) async fn complete_action(deps: &Dependencies, payment: Payment) -> Result<Outcome, PaymentError> {
    if payment.status != PaymentStatus::RequiresAction {
        return Err(DomainError::InvalidState {
            operation: "complete the customer action of",
            status: payment.status,
        }
        .into());
    }
    match ask_provider(deps, &payment).await? {
        // Not finished at the provider (the customer abandoned the page): still waiting.
        AuthorizationOutcome::Unknown { .. } | AuthorizationOutcome::RequiresAction { .. } => Ok(unchanged(payment)),
        outcome => record(deps, payment, Command::RecordAuthorization(outcome)).await,
    }
}

/// The merchant submits what the customer gave for the payment's `Collect` next action. Refused
/// (nothing sent) unless the payment awaits exactly that input; the provider's answer — settled,
/// declined, or a further step — is recorded like any other.
pub(super) async fn confirm_action(
    deps: &Dependencies,
    payment: Payment,
    input: ActionInput,
    value: ActionValue,
) -> Result<Outcome, PaymentError> {
    let awaited = match &payment.next_action {
        Some(NextAction::Collect { input: awaited, .. }) if payment.status == PaymentStatus::RequiresAction => *awaited,
        _ => {
            return Err(DomainError::InvalidState {
                operation: "confirm a customer action of",
                status: payment.status,
            }
            .into())
        }
    };
    if awaited != input {
        return Err(DomainError::WrongActionInput {
            expected: awaited.as_str(),
        }
        .into());
    }
    let request = SubmitActionRequest {
        payment_id: payment.id.clone(),
        provider_reference: payment.provider_reference.clone(),
        amount: payment.amount,
        currency: payment.currency,
        input,
        value,
    };
    let outcome = deps.provider(&payment.provider)?.submit_action(request).await?;
    match outcome {
        AuthorizationOutcome::Unknown { .. } => Ok(unchanged(payment)),
        outcome => record(deps, payment, Command::RecordAuthorization(outcome)).await,
    }
}

/// What the provider decided; for a payment awaiting the customer, finishing it there if the
/// provider needs a further call once the customer is done (`Provider::complete_action`).
async fn ask_provider(deps: &Dependencies, payment: &Payment) -> Result<AuthorizationOutcome, PaymentError> {
    let request = RetrieveRequest {
        payment_id: payment.id.clone(),
        provider_reference: payment.provider_reference.clone(),
        amount: payment.amount,
        currency: payment.currency,
    };
    let provider = deps.provider(&payment.provider)?;
    Ok(match payment.status {
        PaymentStatus::RequiresAction => provider.complete_action(request).await?,
        _ => provider.retrieve(request).await?,
    })
}

/// An intent left open is settled from the provider's records: first a lookup by payrail's
/// reference (`Provider::find_*`, for providers without idempotency keys: Paystack, Flutterwave),
/// and only when the lookup proves the provider never saw the call — or the provider has no
/// lookup and honours idempotency keys (Stripe, PayPal), so a repeat under the same key (derived
/// from the intent) is answered with what it did the first time — is the call sent. Money moves
/// once either way, and the settlement commits once (a second settler finds the intent closed).
/// A lookup that cannot tell yet leaves the intent open for the next round.
async fn settle_open_intents(deps: &Dependencies, mut payment: Payment) -> Result<Outcome, PaymentError> {
    let provider = deps.provider(&payment.provider)?;
    if let Some(change) = payment.pending_change.clone() {
        let (kind, answer) = match change.kind {
            ChangeKind::Capture => {
                let request = capture_request(&payment)?;
                let amount = request.amount;
                let answer = match provider.find_capture(request.clone()).await? {
                    ChangeLookup::Made(()) => Ok(()),
                    ChangeLookup::Refused => Err(refused("the provider's records refuse the capture")),
                    ChangeLookup::Undecided => return Ok(still_open(payment, "capture")),
                    ChangeLookup::NeverSeen | ChangeLookup::NotSupported => provider.capture(request).await,
                };
                (OperationKind::Capture, answer.map(|()| Command::Capture { amount }))
            }
            ChangeKind::Cancel => {
                let request = cancel_request(&payment)?;
                let answer = match provider.find_cancel(request.clone()).await? {
                    ChangeLookup::Made(()) => Ok(()),
                    ChangeLookup::Refused => Err(refused("the provider's records refuse the void")),
                    ChangeLookup::Undecided => return Ok(still_open(payment, "cancel")),
                    ChangeLookup::NeverSeen | ChangeLookup::NotSupported => provider.cancel(request).await,
                };
                (OperationKind::Cancel, answer.map(|()| Command::Cancel))
            }
        };
        let command = match answer {
            Ok(command) => command,
            Err(ProviderError::Rejected { .. } | ProviderError::Unavailable(_)) => Command::ReleaseChange,
            Err(error) => return Err(error.into()),
        };
        tracing::info!(payment_id = %payment.id, intent = %change.id, "open change settled by the reconciler");
        payment = settle_intent(deps, kind, payment, Settle::Command(command), None)
            .await?
            .payment;
    }
    let refunds = deps.store.list_refunds(&payment.id).await?;
    let mut recorded: Vec<String> = refunds
        .iter()
        .filter(|refund| !refund.awaiting_provider)
        .filter_map(|refund| refund.provider_reference.clone())
        .collect();
    for refund in refunds.into_iter().filter(|refund| refund.awaiting_provider) {
        let request = refund_request(&payment, &refund);
        let answer = match provider.find_refund(request.clone(), recorded.clone()).await? {
            ChangeLookup::Made(answer) => Ok(answer),
            ChangeLookup::Refused => Err(refused("the provider's records refuse the refund")),
            ChangeLookup::Undecided => {
                tracing::info!(payment_id = %payment.id, refund_id = %refund.id, "open refund: the provider cannot tell yet");
                continue;
            }
            ChangeLookup::NeverSeen | ChangeLookup::NotSupported => provider.refund(request).await,
        };
        let (status, provider_reference) = match answer {
            Ok(answer) => (answer.status, answer.provider_reference),
            Err(ProviderError::Rejected { .. } | ProviderError::Unavailable(_)) => (RefundStatus::Failed, None),
            Err(error) => return Err(error.into()),
        };
        tracing::info!(payment_id = %payment.id, refund_id = %refund.id, status = status.as_str(), "open refund settled by the reconciler");
        recorded.extend(provider_reference.clone());
        let settle = Settle::Refund {
            refund,
            status,
            provider_reference,
        };
        payment = settle_intent(deps, OperationKind::Refund, payment, settle, None)
            .await?
            .payment;
    }
    Ok(unchanged(payment))
}

fn refused(message: &str) -> ProviderError {
    ProviderError::Rejected {
        code: "change_refused".into(),
        message: message.into(),
    }
}

fn still_open(payment: Payment, change: &str) -> Outcome {
    tracing::info!(payment_id = %payment.id, change, "open change: the provider cannot tell yet");
    unchanged(payment)
}

/// Applies a provider's webhook to the payment.
pub(super) async fn apply_update(
    deps: &Dependencies,
    payment: Payment,
    update: ProviderUpdate,
) -> Result<Outcome, PaymentError> {
    match update {
        ProviderUpdate::Authorization(AuthorizationOutcome::Unknown { .. }) => Ok(unchanged(payment)),
        ProviderUpdate::Authorization(outcome) => record(deps, payment, Command::RecordAuthorization(outcome)).await,
        ProviderUpdate::Canceled { provider_reference } => {
            let command = if payment.status.is_awaiting_provider() {
                Command::RecordAuthorization(AuthorizationOutcome::Declined {
                    provider_reference,
                    code: "canceled".into(),
                    message: "The payment was canceled at the provider.".into(),
                })
            } else {
                Command::Cancel
            };
            record(deps, payment, command).await
        }
        ProviderUpdate::Refund {
            refund_id,
            provider_reference,
            status,
        } => {
            let refunds = deps.store.list_refunds(&payment.id).await?;
            let found = refunds.into_iter().find(|r| {
                refund_id.as_ref() == Some(&r.id)
                    || (provider_reference.is_some() && r.provider_reference == provider_reference)
            });
            let Some(refund) = found else {
                tracing::info!(payment_id = %payment.id, "provider update names an unknown refund; ignored");
                return Ok(unchanged(payment));
            };
            let command = Command::SettleRefund {
                refund,
                status,
                provider_reference,
            };
            record(deps, payment, command).await
        }
    }
}

async fn record(deps: &Dependencies, payment: Payment, command: Command) -> Result<Outcome, PaymentError> {
    match payment.apply(command, deps.clock.now()) {
        Ok(transition) => {
            let refund = transition.refund.clone();
            let payment = deps.commit(transition).await?;
            Ok(Outcome { payment, refund })
        }
        Err(DomainError::InvalidState { .. }) | Err(DomainError::UnknownRefund) => Ok(unchanged(payment)),
        Err(error) => Err(error.into()),
    }
}

fn unchanged(payment: Payment) -> Outcome {
    Outcome { payment, refund: None }
}
