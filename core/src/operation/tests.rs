//! Operations run as plain async code: no actix System, an in-memory store, scripted providers.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::{CaptureMethod, EventKind, PaymentStatus};
use crate::operation::{execute, Operation};
use crate::ports::{ProviderError, SystemClock};
use crate::resilience::ProviderPolicy;
use crate::testing::{dependencies, merchant, new_payment, MemoryStore, ScriptedProvider};

fn no_retries() -> ProviderPolicy {
    ProviderPolicy {
        max_attempts: 1,
        breaker_threshold: 1,
        breaker_cooldown: Duration::from_secs(600),
        ..ProviderPolicy::default()
    }
}

fn kinds(store: &MemoryStore, id: &crate::domain::PaymentId) -> Vec<EventKind> {
    store.events(id).into_iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn a_create_commits_its_receipt_email_with_the_pending_payment() {
    let store = Arc::new(MemoryStore::default());
    let sandbox = ScriptedProvider::new("sandbox", vec![]);
    let deps = dependencies(
        store.clone(),
        std::slice::from_ref(&sandbox),
        no_retries(),
        Arc::new(SystemClock),
    );
    let mut request = new_payment(1000, CaptureMethod::Automatic);
    request.receipt_email = Some("ada@example.com".into());
    let id = request.payment.id.clone();

    let (executed, _) = execute(&deps, &id, None, Operation::Create(request), None).await;

    let outcome = executed.result.unwrap();
    assert_eq!(outcome.payment.status, PaymentStatus::Succeeded);
    assert_eq!(outcome.payment.provider, "sandbox");
    assert_eq!(kinds(&store, &id), [EventKind::Created, EventKind::Succeeded]);
    let contact = store
        .contact(&id)
        .expect("the receipt email is committed with the payment");
    assert_eq!(contact.ciphertext, format!("{id}:ada@example.com"));
}

#[tokio::test]
async fn routing_falls_back_when_a_provider_is_down_then_skips_its_open_circuit() {
    let store = Arc::new(MemoryStore::default());
    let down = ScriptedProvider::new("down", vec![Err(ProviderError::Unavailable("503".into()))]);
    let up = ScriptedProvider::new("up", vec![]);
    let deps = dependencies(
        store.clone(),
        &[down.clone(), up.clone()],
        no_retries(),
        Arc::new(SystemClock),
    );

    let first = new_payment(1000, CaptureMethod::Automatic);
    let first_id = first.payment.id.clone();
    let (executed, _) = execute(&deps, &first_id, None, Operation::Create(first), None).await;
    assert_eq!(executed.result.unwrap().payment.provider, "up");
    assert_eq!(
        kinds(&store, &first_id),
        [EventKind::Created, EventKind::Rerouted, EventKind::Succeeded]
    );

    // `down`'s circuit is open now: the next payment starts at `up` without asking `down`.
    let second = new_payment(2000, CaptureMethod::Automatic);
    let second_id = second.payment.id.clone();
    let (executed, _) = execute(&deps, &second_id, None, Operation::Create(second), None).await;
    assert_eq!(executed.result.unwrap().payment.provider, "up");
    assert_eq!(kinds(&store, &second_id), [EventKind::Created, EventKind::Succeeded]);
    assert_eq!(down.calls(), 1);
}

#[tokio::test]
async fn a_capture_beyond_the_authorisation_is_refused_before_the_provider_is_asked() {
    let store = Arc::new(MemoryStore::default());
    let sandbox = ScriptedProvider::new("sandbox", vec![]);
    let deps = dependencies(
        store.clone(),
        std::slice::from_ref(&sandbox),
        no_retries(),
        Arc::new(SystemClock),
    );
    let request = new_payment(1000, CaptureMethod::Manual);
    let id = request.payment.id.clone();
    let (created, _) = execute(&deps, &id, None, Operation::Create(request), None).await;
    assert_eq!(created.result.unwrap().payment.status, PaymentStatus::Authorized);

    let too_much = Operation::Capture {
        merchant: merchant(),
        amount: Some(crate::domain::Amount::new(1001).unwrap()),
    };
    let (executed, _) = execute(&deps, &id, None, too_much, None).await;
    assert!(executed.result.unwrap_err().is_final());
    assert_eq!(sandbox.calls(), 1, "only the authorisation reached the provider");
}

/// A refund whose answer was lost stays reserved; the reconciler settles it from the provider's
/// lookup — leaving it open while the provider cannot tell, never repeating a refund it found.
#[tokio::test]
async fn an_open_refund_is_settled_from_the_lookup_not_repeated() {
    use crate::domain::{Amount, RefundStatus};
    use crate::ports::{ChangeLookup, RefundOutcome};
    let store = Arc::new(MemoryStore::default());
    let found = RefundOutcome {
        provider_reference: Some("re_found".into()),
        status: RefundStatus::Succeeded,
    };
    let provider = ScriptedProvider::with_refunds(
        "sandbox",
        vec![],
        vec![Err(ProviderError::Timeout)],
        vec![ChangeLookup::Undecided, ChangeLookup::Made(found)],
    );
    let deps = dependencies(
        store.clone(),
        std::slice::from_ref(&provider),
        ProviderPolicy {
            max_attempts: 1,
            ..ProviderPolicy::default()
        },
        Arc::new(SystemClock),
    );
    let request = new_payment(1000, CaptureMethod::Automatic);
    let id = request.payment.id.clone();
    execute(&deps, &id, None, Operation::Create(request), None)
        .await
        .0
        .result
        .unwrap();
    let refund = Operation::Refund {
        merchant: merchant(),
        amount: Some(Amount::new(400).unwrap()),
        reason: None,
    };
    let (lost, _) = execute(&deps, &id, None, refund, None).await;
    assert!(lost.result.is_err(), "the answer was lost");
    let open = |store: Arc<MemoryStore>, id: crate::domain::PaymentId| async move {
        let refunds = crate::ports::PaymentStore::list_refunds(store.as_ref(), &id)
            .await
            .unwrap();
        (
            refunds[0].awaiting_provider,
            refunds[0].status,
            refunds[0].provider_reference.clone(),
        )
    };
    assert!(
        open(store.clone(), id.clone()).await.0,
        "reserved, awaiting the provider"
    );
    assert_eq!(provider.calls(), 2, "create and refund");

    execute(&deps, &id, None, Operation::Reconcile, None)
        .await
        .0
        .result
        .unwrap();
    assert!(
        open(store.clone(), id.clone()).await.0,
        "the provider cannot tell yet: still open"
    );
    execute(&deps, &id, None, Operation::Reconcile, None)
        .await
        .0
        .result
        .unwrap();
    assert_eq!(
        open(store.clone(), id.clone()).await,
        (false, RefundStatus::Succeeded, Some("re_found".into()))
    );
    assert_eq!(provider.calls(), 2, "found, not sent again");
}
