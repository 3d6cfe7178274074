//! What is done to one payment, as plain async code over the ports: decide with the state
//! machine, call the provider, persist the transition, log and count the operation. No actor and
//! no actix System is needed to run it: the payment's actor (`crate::actors`) only serialises calls
//! to [`execute`], and tests call it directly.
//!
//! Vocabulary: an [`Operation`] is what is asked of a payment — by a merchant (create, capture,
//! cancel, refund) or by payrail itself (reconcile, a provider's update). A
//! [`crate::domain::Command`] is what the state machine applies; one operation may apply several
//! (a create commits `pending`, maybe a reroute, then the provider's answer).
//!
//! The order is what makes payrail honest with money: a new payment is persisted `pending` before
//! the provider hears of it; a capture or refund is checked against the state machine before the
//! provider is asked, and committed (row + event, version-checked) before anyone hears "done".
//! `create.rs` and `change.rs` are the merchant's operations, `settlement.rs` the reconciler's and
//! the providers' updates; `dependencies.rs` what they all use, `keyed.rs` how a keyed request's
//! idempotency records commit with them, `routing.rs` how a new payment picks its providers.

use std::time::Instant;

use async_trait::async_trait;

use crate::domain::{
    ActionInput, ActionValue, Amount, DomainError, MerchantId, NewPayment, Payment, PaymentId, PaymentMethod, Refund,
    RefundReason,
};
use crate::observer::CallOutcome;
use crate::ports::{ProviderError, StoreError, StoredReply};

mod change;
mod create;
mod dependencies;
mod keyed;
mod routing;
mod settlement;

pub use dependencies::Dependencies;
pub use keyed::{Keyed, ReplyRenderer};
pub use routing::{Route, Routes};
pub use settlement::ProviderUpdate;

use keyed::KeyedCommits;

/// What is asked of one payment (see the module docs for how it differs from a `Command`).
// Create is the big variant and also the rarest message per payment; boxing it buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Operation {
    /// A merchant's new payment.
    Create(CreatePayment),
    /// A merchant captures (part of) an authorised payment of theirs.
    Capture {
        merchant: MerchantId,
        amount: Option<Amount>,
    },
    /// A merchant voids an authorised payment of theirs.
    Cancel { merchant: MerchantId },
    /// A merchant refunds (part of) a captured payment of theirs.
    Refund {
        merchant: MerchantId,
        amount: Option<Amount>,
        reason: Option<RefundReason>,
    },
    /// Ask the provider what became of a payment still awaiting its answer, and settle it.
    Reconcile,
    /// A merchant submits what their customer gave for a `Collect` next action (an OTP, a PIN).
    ConfirmAction {
        merchant: MerchantId,
        input: ActionInput,
        value: ActionValue,
    },
    /// The customer is back from a customer action (payrail's return endpoint): ask the provider
    /// and settle. Refused with `InvalidState` unless the payment is `requires_action`.
    CompleteAction,
    /// `provider` told us (by webhook) what became of the payment or one of its refunds.
    ProviderUpdate { provider: String, update: ProviderUpdate },
}

/// A merchant's new payment, validated at the edge.
#[derive(Clone, Debug)]
pub struct CreatePayment {
    pub payment: NewPayment,
    pub method: PaymentMethod,
    /// The request named no provider: the routing rules choose it and the fallbacks to try if it
    /// certainly does not act (`payment.provider` is then replaced). A named provider is used alone.
    pub routed: bool,
    /// Sealed (see [`crate::ports::ContactSealer`]) and committed with the `pending` payment.
    pub receipt_email: Option<String>,
    /// payrail's return endpoint for this payment, handed to the provider (see
    /// [`crate::ports::AuthorizeRequest::return_url`]).
    pub provider_return_url: Option<String>,
}

/// An operation's kind: its metric and log label, and the shape of a merchant's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationKind {
    Create,
    Capture,
    Cancel,
    Refund,
    Reconcile,
    CompleteAction,
    ConfirmAction,
    ProviderUpdate,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Create => "create",
            OperationKind::Capture => "capture",
            OperationKind::Cancel => "cancel",
            OperationKind::Refund => "refund",
            OperationKind::Reconcile => "reconcile",
            OperationKind::CompleteAction => "complete_action",
            OperationKind::ConfirmAction => "confirm_action",
            OperationKind::ProviderUpdate => "provider_update",
        }
    }
}

impl Operation {
    pub fn kind(&self) -> OperationKind {
        match self {
            Operation::Create(_) => OperationKind::Create,
            Operation::Capture { .. } => OperationKind::Capture,
            Operation::Cancel { .. } => OperationKind::Cancel,
            Operation::Refund { .. } => OperationKind::Refund,
            Operation::Reconcile => OperationKind::Reconcile,
            Operation::CompleteAction => OperationKind::CompleteAction,
            Operation::ConfirmAction { .. } => OperationKind::ConfirmAction,
            Operation::ProviderUpdate { .. } => OperationKind::ProviderUpdate,
        }
    }

    /// The merchant whose request this is; `None` for payrail's own operations.
    pub fn merchant(&self) -> Option<&MerchantId> {
        match self {
            Operation::Create(create) => Some(&create.payment.merchant_id),
            Operation::Capture { merchant, .. }
            | Operation::Cancel { merchant }
            | Operation::Refund { merchant, .. }
            | Operation::ConfirmAction { merchant, .. } => Some(merchant),
            Operation::Reconcile | Operation::CompleteAction | Operation::ProviderUpdate { .. } => None,
        }
    }
}

/// The result of a successful operation: the payment as committed, and the refund it created.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub payment: Payment,
    pub refund: Option<Refund>,
}

/// Why an operation did not complete. Each maps to one HTTP status in the service.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PaymentError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("no such payment")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("too many requests in flight; retry shortly")]
    Overloaded,
    #[error("the payment's actor could not be reached")]
    ActorUnavailable,
}

impl PaymentError {
    /// The state machine's refusal is the final word on a request: a retry would get the same
    /// answer, so it is stored for replay. Anything else left the payment unchanged and may succeed
    /// when retried.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            PaymentError::Domain(DomainError::InvalidState { .. } | DomainError::AmountTooLarge { .. })
        )
    }
}

/// What running an operation gave: its result, and for a keyed request whether it holds its
/// idempotency claim now and the reply committed with its last transition.
#[derive(Clone, Debug)]
pub struct Executed {
    pub result: Result<Outcome, PaymentError>,
    pub holds_claim: bool,
    pub reply: Option<StoredReply>,
}

impl Executed {
    /// Refused before anything was written.
    pub fn refused(error: PaymentError) -> Self {
        Self {
            result: Err(error),
            holds_claim: false,
            reply: None,
        }
    }
}

/// Runs operations on payments: the `PaymentSupervisor` through each payment's actor; a test may
/// call [`execute`] directly.
#[async_trait]
pub trait Executor: Send + Sync + 'static {
    /// Runs `operation` on payment `id`, committing `keyed`'s records with its transitions.
    async fn execute(&self, id: &PaymentId, operation: Operation, keyed: Option<Keyed>) -> Executed;
}

/// Runs `operation` on payment `id` whose last known state is `cached` (or unknown: `None`).
/// Returns what it gave and the state to cache: `None` whenever the stored state may differ.
pub async fn execute(
    deps: &Dependencies,
    id: &PaymentId,
    cached: Option<Payment>,
    operation: Operation,
    keyed: Option<Keyed>,
) -> (Executed, Option<Payment>) {
    let started = Instant::now();
    let kind = operation.kind();
    let mut keyed = keyed.map(KeyedCommits::new);
    // The provider is known once the payment is; a refusal before that is labelled `unknown`.
    let mut provider = None;
    let result = match operation {
        Operation::Create(request) => {
            provider = Some(request.payment.provider.clone());
            create::create(deps, request, keyed.as_mut()).await
        }
        Operation::Reconcile => match current(deps, id, cached).await {
            Ok(payment) => {
                provider = Some(payment.provider.clone());
                settlement::reconcile(deps, payment).await
            }
            Err(error) => Err(error),
        },
        Operation::CompleteAction => match current(deps, id, cached).await {
            Ok(payment) => {
                provider = Some(payment.provider.clone());
                settlement::complete_action(deps, payment).await
            }
            Err(error) => Err(error),
        },
        Operation::ConfirmAction { merchant, input, value } => match current(deps, id, cached).await {
            Ok(payment) if payment.merchant_id == merchant => {
                provider = Some(payment.provider.clone());
                settlement::confirm_action(deps, payment, input, value).await
            }
            Ok(_) => Err(PaymentError::NotFound),
            Err(error) => Err(error),
        },
        Operation::ProviderUpdate {
            provider: sender,
            update,
        } => match current(deps, id, cached).await {
            // Only the payment's own provider speaks for it.
            Ok(payment) if payment.provider == sender => {
                provider = Some(payment.provider.clone());
                settlement::apply_update(deps, payment, update).await
            }
            Ok(_) => Err(PaymentError::NotFound),
            Err(error) => Err(error),
        },
        change @ (Operation::Capture { .. } | Operation::Cancel { .. } | Operation::Refund { .. }) => {
            match current(deps, id, cached).await {
                Ok(payment) if Some(&payment.merchant_id) == change.merchant() => {
                    provider = Some(payment.provider.clone());
                    change::change(deps, payment, change, keyed.as_mut()).await
                }
                Ok(_) => Err(PaymentError::NotFound),
                Err(error) => Err(error),
            }
        }
    };
    log_operation(kind.as_str(), id, &result, started);
    // A fallback may have moved the payment to another provider: label with the one that answered.
    let provider = match &result {
        Ok(outcome) => Some(outcome.payment.provider.clone()),
        Err(_) => provider,
    };
    deps.observer.operation(
        kind.as_str(),
        provider.as_deref().unwrap_or("unknown"),
        outcome_of(&result),
        started.elapsed(),
    );
    let cache = result.as_ref().ok().map(|outcome| outcome.payment.clone());
    let (holds_claim, reply) = keyed.map(KeyedCommits::into_written).unwrap_or_default();
    let executed = Executed {
        result,
        holds_claim,
        reply,
    };
    (executed, cache)
}

async fn current(deps: &Dependencies, id: &PaymentId, cached: Option<Payment>) -> Result<Payment, PaymentError> {
    match cached {
        Some(payment) => Ok(payment),
        None => deps.store.load(id).await?.ok_or(PaymentError::NotFound),
    }
}

/// The metric label of an operation's result: refusals by the rules are not errors of payrail's.
fn outcome_of(result: &Result<Outcome, PaymentError>) -> CallOutcome {
    match result {
        Ok(_) => CallOutcome::Ok,
        Err(PaymentError::Domain(_) | PaymentError::NotFound | PaymentError::Store(StoreError::Conflict)) => {
            CallOutcome::Rejected
        }
        Err(PaymentError::Provider(ProviderError::Rejected { .. })) => CallOutcome::Rejected,
        Err(_) => CallOutcome::Error,
    }
}

/// One structured line per payment operation (DESIGN §10). Never card data: the payment carries
/// only a summary, and the request's card is not in scope here.
fn log_operation(operation: &str, id: &PaymentId, result: &Result<Outcome, PaymentError>, started: Instant) {
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(Outcome { payment, refund }) => tracing::info!(
            operation,
            payment_id = %payment.id,
            amount = match (operation, refund) {
                (_, Some(refund)) => refund.amount.minor_units(),
                ("capture", None) => payment.captured_amount,
                _ => payment.amount.minor_units(),
            },
            currency = %payment.currency,
            provider = %payment.provider,
            status = %payment.status,
            duration_ms,
            "payment operation"
        ),
        Err(error) => tracing::info!(
            operation,
            payment_id = %id,
            error = %error,
            duration_ms,
            "payment operation refused"
        ),
    }
}

#[cfg(test)]
mod tests;
