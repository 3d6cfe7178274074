//! The idempotency service and its claim logic, against the in-memory store, a hand-driven clock,
//! and operations run directly (no actors, no actix System).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::LocalSet;

use crate::domain::{Amount, CaptureMethod, IdempotencyKey, MerchantId, PaymentId, PaymentStatus};
use crate::idempotency::{Answer, ClaimOutcome, ClaimRequest, Claims, Idempotency, IdempotencySettings, RequestKey};
use crate::operation::PaymentError;
use crate::payments::Payments;
use crate::resilience::ProviderPolicy;
use crate::testing::{
    dependencies, merchant, new_payment, Direct, ManualClock, MemoryStore, ScriptedProvider, TextReplies,
};

fn settings() -> IdempotencySettings {
    IdempotencySettings {
        lock_timeout: Duration::from_secs(30),
        ..IdempotencySettings::default()
    }
}

fn setup() -> (Claims, Arc<ManualClock>) {
    let clock = ManualClock::new();
    let logic = Claims::new(Arc::new(MemoryStore::default()), clock.clone(), settings());
    (logic, clock)
}

fn request(fingerprint: &str, payment: &PaymentId) -> ClaimRequest {
    ClaimRequest {
        merchant: MerchantId::parse("m").unwrap(),
        key: IdempotencyKey::parse("k").unwrap(),
        fingerprint: fingerprint.into(),
        payment_id: Some(payment.clone()),
        payment_version: None,
    }
}

fn lease(outcome: ClaimOutcome) -> crate::idempotency::Lease {
    match outcome {
        ClaimOutcome::Acquired(lease) => lease,
        other => panic!("expected the claim, got {other:?}"),
    }
}

#[tokio::test]
async fn the_first_claim_wins_and_the_rest_wait_then_replay() {
    let (logic, _) = setup();
    let first = request("f", &PaymentId::generate());
    let held = lease(logic.claim(&first).await.unwrap());
    assert!(held.resumed.is_none());
    assert!(matches!(
        logic.claim(&first).await.unwrap(),
        ClaimOutcome::InProgress { .. }
    ));
    logic
        .complete(&first.merchant, &first.key, &held.token, 201, b"{\"id\":1}")
        .await
        .unwrap();
    match logic.claim(&first).await.unwrap() {
        ClaimOutcome::Replay { status, body } => assert_eq!((status, body.as_slice()), (201, &b"{\"id\":1}"[..])),
        other => panic!("expected a replay, got {other:?}"),
    }
}

#[tokio::test]
async fn another_fingerprint_is_a_reused_key_whatever_the_state() {
    let (logic, _) = setup();
    let payment = PaymentId::generate();
    lease(logic.claim(&request("f", &payment)).await.unwrap());
    assert!(matches!(
        logic.claim(&request("g", &payment)).await.unwrap(),
        ClaimOutcome::KeyReused
    ));
}

#[tokio::test]
async fn an_abandoned_claim_is_taken_over_with_what_it_was_working_on() {
    let (logic, clock) = setup();
    let original = PaymentId::generate();
    let dead = lease(logic.claim(&request("f", &original)).await.unwrap());
    clock.advance(31);
    // The retry generated its own id; it is told to continue the original payment instead.
    let retry = request("f", &PaymentId::generate());
    let taken = lease(logic.claim(&retry).await.unwrap());
    assert_eq!(taken.resumed.unwrap().payment_id, Some(original));
    // The dead holder waking up late cannot overwrite the new holder's answer.
    logic
        .complete(&retry.merchant, &retry.key, &dead.token, 500, b"late")
        .await
        .unwrap();
    logic
        .complete(&retry.merchant, &retry.key, &taken.token, 201, b"ok")
        .await
        .unwrap();
    assert!(matches!(logic.claim(&retry).await.unwrap(), ClaimOutcome::Replay { body, .. } if body == b"ok"));
}

/// The service over an in-memory store, with one scripted provider, running operations directly.
struct World {
    store: Arc<MemoryStore>,
    provider: Arc<ScriptedProvider>,
    clock: Arc<ManualClock>,
    payments: Payments,
    claims: Claims,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::default());
    let provider = ScriptedProvider::new("sandbox", vec![]);
    let clock = ManualClock::new();
    let deps = dependencies(
        store.clone(),
        std::slice::from_ref(&provider),
        ProviderPolicy::default(),
        clock.clone(),
    );
    let claims = Claims::new(store.clone(), clock.clone(), settings());
    let idempotency = Idempotency::new(
        claims.clone(),
        Arc::new(Direct(Arc::new(deps))),
        store.clone(),
        Arc::new(TextReplies),
    );
    World {
        payments: Payments::new(idempotency, store.clone()),
        store,
        provider,
        clock,
        claims,
    }
}

fn key(raw: &str, fingerprint: &str) -> Option<RequestKey> {
    Some(RequestKey {
        key: IdempotencyKey::parse(raw).unwrap(),
        fingerprint: fingerprint.into(),
    })
}

fn fresh_reply(answer: Answer) -> (crate::operation::Outcome, Vec<u8>) {
    match answer {
        Answer::Fresh {
            outcome,
            reply: Some(reply),
        } => (outcome, reply.body),
        other => panic!("expected a fresh, stored answer, got {other:?}"),
    }
}

#[tokio::test]
async fn a_keyed_create_runs_once_and_its_retry_replays_the_stored_answer() {
    LocalSet::new()
        .run_until(async {
            let w = world();
            let request = new_payment(1000, CaptureMethod::Automatic);
            let (outcome, first) = fresh_reply(w.payments.create(request.clone(), key("k", "f")).await.unwrap());
            assert_eq!(outcome.payment.status, PaymentStatus::Succeeded);
            assert_eq!(first, format!("create:{}:succeeded", outcome.payment.id).into_bytes());

            // The retry carries a new generated id; it is the same request all the same.
            let mut retry = request;
            retry.payment.id = PaymentId::generate();
            match w.payments.create(retry, key("k", "f")).await.unwrap() {
                Answer::Replay(reply) => assert_eq!(reply.body, first),
                other => panic!("expected a replay, got {other:?}"),
            }
            assert_eq!(w.provider.calls(), 1, "the provider was asked once");
        })
        .await;
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused_and_a_running_one_is_in_progress() {
    LocalSet::new()
        .run_until(async {
            let w = world();
            w.payments
                .create(new_payment(1000, CaptureMethod::Automatic), key("k", "f"))
                .await
                .unwrap();
            let other = w
                .payments
                .create(new_payment(2000, CaptureMethod::Automatic), key("k", "g"));
            assert!(matches!(other.await.unwrap(), Answer::KeyReused));

            let running = ClaimRequest {
                merchant: merchant(),
                key: IdempotencyKey::parse("busy").unwrap(),
                fingerprint: "f".into(),
                payment_id: None,
                payment_version: None,
            };
            lease(w.claims.claim(&running).await.unwrap());
            let answer = w
                .payments
                .create(new_payment(1000, CaptureMethod::Automatic), key("busy", "f"));
            assert!(matches!(answer.await.unwrap(), Answer::InProgress { .. }));
        })
        .await;
}

#[tokio::test]
async fn a_final_refusal_is_stored_and_replayed_and_a_transient_one_frees_the_key() {
    LocalSet::new()
        .run_until(async {
            let w = world();
            let created = new_payment(1000, CaptureMethod::Manual);
            let id = created.payment.id.clone();
            w.payments.create(created, None).await.unwrap();
            let too_much = Some(Amount::new(5000).unwrap());

            let refused = w
                .payments
                .capture(merchant(), id.clone(), too_much, key("c", "f"))
                .await;
            assert!(matches!(refused, Err(PaymentError::Domain(_))));
            match w
                .payments
                .capture(merchant(), id.clone(), too_much, key("c", "f"))
                .await
                .unwrap()
            {
                Answer::Replay(reply) => assert_eq!(reply.status, 409),
                other => panic!("expected the refusal again, got {other:?}"),
            }

            // Not found leaves nothing behind: the same key works once the payment is named right.
            let unknown = w
                .payments
                .capture(merchant(), PaymentId::generate(), None, key("d", "f"))
                .await;
            assert!(matches!(unknown, Err(PaymentError::NotFound)));
            let (outcome, _) = fresh_reply(w.payments.capture(merchant(), id, None, key("d", "f")).await.unwrap());
            assert_eq!(outcome.payment.status, PaymentStatus::Succeeded);
        })
        .await;
}

#[tokio::test]
async fn a_change_whose_holder_died_after_committing_is_answered_from_the_payment() {
    LocalSet::new()
        .run_until(async {
            let w = world();
            let created = new_payment(1000, CaptureMethod::Manual);
            let id = created.payment.id.clone();
            let authorized = fresh_reply_or_plain(w.payments.create(created, None).await.unwrap());
            // A first attempt claimed the key, captured, and died before storing its answer.
            let claim = ClaimRequest {
                merchant: merchant(),
                key: IdempotencyKey::parse("cap").unwrap(),
                fingerprint: "f".into(),
                payment_id: Some(id.clone()),
                payment_version: Some(authorized.version),
            };
            lease(w.claims.claim(&claim).await.unwrap());
            w.payments.capture(merchant(), id.clone(), None, None).await.unwrap();
            let calls = w.provider.calls();

            w.clock.advance(31);
            let (outcome, reply) = fresh_reply(
                w.payments
                    .capture(merchant(), id.clone(), None, key("cap", "f"))
                    .await
                    .unwrap(),
            );
            assert_eq!(outcome.payment.status, PaymentStatus::Succeeded);
            assert_eq!(w.provider.calls(), calls, "the retry did not capture again");
            assert_eq!(
                w.store.events(&id).len(),
                4,
                "created, authorized, capture requested, captured: nothing twice"
            );
            match w.payments.capture(merchant(), id, None, key("cap", "f")).await.unwrap() {
                Answer::Replay(stored) => assert_eq!(stored.body, reply),
                other => panic!("expected a replay, got {other:?}"),
            }
        })
        .await;
}

fn fresh_reply_or_plain(answer: Answer) -> crate::domain::Payment {
    match answer {
        Answer::Fresh { outcome, .. } => outcome.payment,
        other => panic!("expected a fresh answer, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unkeyed_request_simply_runs() {
    LocalSet::new()
        .run_until(async {
            let w = world();
            let created = w
                .payments
                .create(new_payment(1000, CaptureMethod::Automatic), None)
                .await
                .unwrap();
            assert!(matches!(created, Answer::Fresh { reply: None, .. }));
        })
        .await;
}
