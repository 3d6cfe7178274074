//! What a payment actor does with one request, as a plain async function over the ports:
//! decide with the state machine, call the provider, persist the transition, log the operation.
//!
//! The order is what makes payrail honest with money: a new payment is persisted `pending` before
//! the provider hears of it; a capture or refund is checked against the state machine before the
//! provider is asked, and committed (row + event, version-checked) before anyone hears "done".
//! `create.rs` and `change.rs` are the merchant's requests; `settlement.rs` (beside this module)
//! the reconciler's and the providers' updates.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix::Addr;

use crate::actors::{ProviderCall, ProviderClient};
use crate::domain::{
    Amount, DomainError, MerchantId, NewPayment, Payment, PaymentId, PaymentMethod, Refund, RefundReason, Transition,
};
use crate::idempotency::KeyedCommit;
use crate::observer::{CallOutcome, Observer};
use crate::ports::{Clock, PaymentStore, ProviderError, StoreError};
use crate::settlement;
pub use crate::settlement::ProviderUpdate;

mod change;
mod create;

/// A state-changing request for one payment.
// Create is the big variant and also the rarest message per payment; boxing it buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Operation {
    Create {
        payment: NewPayment,
        method: Box<PaymentMethod>,
        /// Providers to try, in order, if `payment.provider` certainly did not act (routing rules).
        fallbacks: Vec<String>,
        /// The request's idempotency records, committed with the payment's transitions.
        keyed: Option<KeyedCommit>,
    },
    /// A change a merchant asks of one of its existing payments.
    Change {
        merchant: MerchantId,
        change: Change,
        keyed: Option<KeyedCommit>,
    },
    /// Ask the provider what became of a payment still awaiting its answer, and settle it.
    Reconcile,
    /// `provider` told us (by webhook) what became of the payment or one of its refunds.
    ProviderUpdate { provider: String, update: ProviderUpdate },
}

/// A merchant's change to an existing payment.
#[derive(Clone, Debug)]
pub enum Change {
    Capture {
        amount: Option<Amount>,
    },
    Cancel,
    Refund {
        amount: Option<Amount>,
        reason: Option<RefundReason>,
    },
}

impl Operation {
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Create { .. } => "create",
            Operation::Reconcile => "reconcile",
            Operation::ProviderUpdate { .. } => "provider_update",
            Operation::Change {
                change: Change::Capture { .. },
                ..
            } => "capture",
            Operation::Change {
                change: Change::Cancel, ..
            } => "cancel",
            Operation::Change {
                change: Change::Refund { .. },
                ..
            } => "refund",
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

/// The provider clients, by provider name.
pub type ProviderDirectory = HashMap<String, Addr<ProviderClient>>;

/// What an operation needs from the outside world; shared by every payment actor.
pub struct Dependencies {
    pub store: Arc<dyn PaymentStore>,
    pub providers: ProviderDirectory,
    pub clock: Arc<dyn Clock>,
    /// Told of every operation and provider call (metrics); `NoopObserver` when nobody counts.
    pub observer: Arc<dyn Observer>,
}

impl Dependencies {
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        provider: &str,
        call: ProviderCall<R>,
    ) -> Result<R, ProviderError> {
        let client = self
            .providers
            .get(provider)
            .ok_or_else(|| ProviderError::Unavailable(format!("provider `{provider}` is not configured")))?;
        let result = client
            .send(call)
            .await
            .map_err(|_| ProviderError::Unavailable("provider client stopped".into()))
            .and_then(|answer| answer);
        let outcome = match &result {
            Ok(_) => CallOutcome::Ok,
            Err(ProviderError::Rejected { .. }) => CallOutcome::Rejected,
            Err(_) => CallOutcome::Error,
        };
        self.observer.provider_request(provider, outcome);
        result
    }

    pub(crate) async fn commit(&self, transition: Transition) -> Result<Payment, StoreError> {
        self.store.commit(&transition).await?;
        Ok(transition.payment)
    }

    /// Commits a new payment's first transition, with the request's claim if it has yet to claim.
    async fn commit_first(&self, transition: Transition, keyed: Option<&KeyedCommit>) -> Result<Payment, StoreError> {
        match keyed.and_then(|k| k.first_records(self.clock.now()).map(|r| (k, r))) {
            Some((keyed, records)) => {
                self.store.commit_keyed(&transition, &records).await?;
                keyed.committed(records, false);
                Ok(transition.payment)
            }
            None => self.commit(transition).await,
        }
    }

    /// Commits an operation's last transition, with the response the request will be answered.
    async fn commit_last(&self, transition: Transition, keyed: Option<&KeyedCommit>) -> Result<Outcome, StoreError> {
        let outcome = Outcome {
            payment: transition.payment.clone(),
            refund: transition.refund.clone(),
        };
        match keyed.and_then(|k| k.last_records(&outcome, self.clock.now()).map(|r| (k, r))) {
            Some((keyed, records)) => {
                let stored = self.store.commit_keyed(&transition, &records).await?;
                keyed.committed(records, stored);
            }
            None => self.store.commit(&transition).await?,
        }
        Ok(outcome)
    }
}

/// Runs `operation` on payment `id` whose last known state is `cached` (or unknown: `None`).
/// Returns the result and the state to cache: `None` whenever the stored state may differ.
pub async fn execute(
    deps: &Dependencies,
    id: &PaymentId,
    cached: Option<Payment>,
    operation: Operation,
) -> (Result<Outcome, PaymentError>, Option<Payment>) {
    let started = Instant::now();
    let name = operation.name();
    // The provider is known once the payment is; a refusal before that is labelled `unknown`.
    let mut provider = None;
    let result = match operation {
        Operation::Create {
            payment,
            method,
            fallbacks,
            keyed,
        } => {
            provider = Some(payment.provider.clone());
            create::create(deps, payment, *method, fallbacks, keyed.as_ref()).await
        }
        Operation::Reconcile => match current(deps, id, cached).await {
            Ok(payment) => {
                provider = Some(payment.provider.clone());
                settlement::reconcile(deps, payment).await
            }
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
        Operation::Change {
            merchant,
            change: requested,
            keyed,
        } => match current(deps, id, cached).await {
            Ok(payment) if payment.merchant_id == merchant => {
                provider = Some(payment.provider.clone());
                change::change(deps, payment, requested, keyed.as_ref()).await
            }
            Ok(_) => Err(PaymentError::NotFound),
            Err(error) => Err(error),
        },
    };
    log_operation(name, id, &result, started);
    // A fallback may have moved the payment to another provider: label with the one that answered.
    let provider = match &result {
        Ok(outcome) => Some(outcome.payment.provider.clone()),
        Err(_) => provider,
    };
    deps.observer.operation(
        name,
        provider.as_deref().unwrap_or("unknown"),
        outcome_of(&result),
        started.elapsed(),
    );
    let cache = result.as_ref().ok().map(|outcome| outcome.payment.clone());
    (result, cache)
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
