//! A new payment: its provider chosen (the one the merchant named, or by the routing rules,
//! skipping providers whose circuit is open), its receipt email sealed, persisted `pending` with
//! both (and with the request's idempotency claim, if it rides along) before any provider hears of
//! it, then authorised — on the chosen provider, or on the next fallback only if the previous one
//! certainly did not act — and the outcome committed.

use crate::domain::{AuthorizationOutcome, CaptureMethod, Command, Currency, Payment, PaymentStatus};
use crate::ports::{AuthorizeRequest, ProviderError, StoreError};
use crate::resilience::CircuitState;

use super::keyed::{commit_first, commit_last, KeyedCommits};
use super::{CreatePayment, Dependencies, OperationKind, Outcome, PaymentError};

pub(super) async fn create(
    deps: &Dependencies,
    request: CreatePayment,
    mut keyed: Option<&mut KeyedCommits>,
) -> Result<Outcome, PaymentError> {
    let CreatePayment {
        mut payment,
        method,
        routed,
        receipt_email,
        provider_return_url,
    } = request;
    let mut fallbacks = Vec::new();
    if routed {
        let mut route = providers_to_try(deps, payment.currency, payment.amount.minor_units()).into_iter();
        if let Some(first) = route.next() {
            payment.provider = first;
        }
        fallbacks = route.collect();
    }
    // A currency the chosen provider does not take is refused before anything is stored or sent.
    if !takes_currency(deps, &payment.provider, payment.currency) {
        return Err(ProviderError::Rejected {
            code: "currency_not_supported".into(),
            message: format!(
                "{} does not support {}",
                payment.provider,
                payment.currency.code().to_ascii_uppercase()
            ),
        }
        .into());
    }
    let merchant = payment.merchant_id.clone();
    let mut created = Payment::create(payment, deps.clock.now());
    // Sealed here and committed with the payment: a committed payment always has its email.
    created.contact = receipt_email.map(|email| deps.sealer.seal(&created.payment.id, &email));
    let id = created.payment.id.clone();
    let mut pending = match commit_first(deps, created, keyed.as_deref_mut()).await {
        Ok(pending) => pending,
        // The id exists: an idempotent retry resuming a create whose process died. The payment's
        // persisted state decides: still `pending` → authorise it now (same provider key, so the
        // provider acts once); anything else → it was finished, answer with it.
        Err(StoreError::Conflict) => match deps.store.load(&id).await? {
            Some(existing) if existing.merchant_id == merchant => {
                if existing.status != PaymentStatus::Pending {
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
            capture: pending.capture_method == CaptureMethod::Automatic,
            method: method.clone(),
            description: pending.description.clone(),
            return_url: provider_return_url.clone(),
            idempotency_key: format!("{}:authorize", pending.id),
        };
        let answer = match deps.provider(&pending.provider) {
            Ok(provider) => provider.authorize(request).await,
            Err(error) => Err(error),
        };
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
    Ok(commit_last(deps, OperationKind::Create, transition, keyed).await?)
}

/// Whether `provider` takes payments in `currency` (an unknown provider is left to fail later).
fn takes_currency(deps: &Dependencies, provider: &str, currency: Currency) -> bool {
    deps.providers
        .get(provider)
        .map_or(true, |provider| provider.supports_currency(currency))
}

/// The routed providers in order, without those whose circuit is open or that do not take the
/// currency — unless none is left, in which case the first is tried anyway (and fails fast, as
/// "provider unavailable" or `currency_not_supported`).
fn providers_to_try(deps: &Dependencies, currency: Currency, amount: i64) -> Vec<String> {
    let route = deps.routes.route(currency.code(), amount);
    let open = |name: &String| {
        deps.providers
            .get(name)
            .is_some_and(|provider| provider.circuit() == CircuitState::Open)
    };
    let usable: Vec<String> = route
        .iter()
        .filter(|name| !open(name) && takes_currency(deps, name, currency))
        .cloned()
        .collect();
    if usable.is_empty() {
        route
    } else {
        usable
    }
}
