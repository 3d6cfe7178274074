//! A new payment: persisted `pending` (with the request's idempotency claim, if it rides along)
//! before any provider hears of it, then authorised — on the routed provider, or on the next
//! fallback only if the previous one certainly did not act — and the outcome committed.

use crate::actors::ProviderCall;
use crate::domain::{AuthorizationOutcome, Command, NewPayment, Payment, PaymentMethod};
use crate::idempotency::KeyedCommit;
use crate::ports::{AuthorizeRequest, ProviderError, StoreError};

use super::{Dependencies, Outcome, PaymentError};

pub(super) async fn create(
    deps: &Dependencies,
    new: NewPayment,
    method: PaymentMethod,
    fallbacks: Vec<String>,
    keyed: Option<&KeyedCommit>,
) -> Result<Outcome, PaymentError> {
    let merchant = new.merchant_id.clone();
    let created = Payment::create(new, deps.clock.now());
    let id = created.payment.id.clone();
    let mut pending = match deps.commit_first(created, keyed).await {
        Ok(pending) => pending,
        // The id exists: an idempotent retry resuming a create whose process died. The payment's
        // persisted state decides: still `pending` → authorise it now (same provider key, so the
        // provider acts once); anything else → it was finished, answer with it.
        Err(StoreError::Conflict) => match deps.store.load(&id).await? {
            Some(existing) if existing.merchant_id == merchant => {
                if existing.status != crate::domain::PaymentStatus::Pending {
                    return Ok(Outcome {
                        payment: existing,
                        refund: None,
                    });
                }
                existing
            }
            _ => return Err(StoreError::Conflict.into()),
        },
        Err(error) => return Err(error.into()),
    };
    let mut fallbacks = fallbacks
        .into_iter()
        .filter(|p| *p != pending.provider)
        .collect::<Vec<_>>()
        .into_iter();
    let outcome = loop {
        let request = AuthorizeRequest {
            payment_id: pending.id.clone(),
            amount: pending.amount,
            currency: pending.currency,
            capture: pending.capture_method == crate::domain::CaptureMethod::Automatic,
            method: method.clone(),
            description: pending.description.clone(),
            idempotency_key: format!("{}:authorize", pending.id),
        };
        let answer = deps
            .call(
                &pending.provider,
                ProviderCall::new(move |provider| {
                    let request = request.clone();
                    async move { provider.authorize(request).await }
                }),
            )
            .await;
        break match answer {
            Ok(outcome) => outcome,
            // Sent, and maybe acted on: never guess, never charge elsewhere; reconcile later.
            Err(ProviderError::Timeout) | Err(ProviderError::Failed(_)) => AuthorizationOutcome::Unknown {
                provider_reference: None,
            },
            // Certainly not executed: no money moved, so the next provider may be tried. The move
            // is committed before that provider hears of the payment.
            Err(ProviderError::Unavailable(message)) => match fallbacks.next() {
                Some(next) => {
                    tracing::warn!(payment_id = %pending.id, from = %pending.provider, to = %next, reason = %message, "payment rerouted to fallback provider");
                    let reroute = pending.apply(Command::Reroute { provider: next }, deps.clock.now())?;
                    pending = deps.commit(reroute).await?;
                    continue;
                }
                None => AuthorizationOutcome::Declined {
                    provider_reference: None,
                    code: "provider_unavailable".into(),
                    message,
                },
            },
            Err(ProviderError::Rejected { code, message }) => AuthorizationOutcome::Declined {
                provider_reference: None,
                code,
                message,
            },
        };
    };
    let transition = pending.apply(Command::RecordAuthorization(outcome), deps.clock.now())?;
    Ok(deps.commit_last(transition, keyed).await?)
}
