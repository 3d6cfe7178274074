//! The claim logic against an in-memory store and a hand-driven clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

use crate::domain::{MerchantId, PaymentId};
use crate::idempotency::{
    ClaimOutcome, ClaimRequest, ClaimState, Idempotency, IdempotencyKey, IdempotencySettings, IdempotencyStore,
    StoredClaim,
};
use crate::ports::{Clock, StoreError};

#[derive(Default)]
struct MemoryStore(Mutex<HashMap<(String, String), StoredClaim>>);

fn id(merchant: &MerchantId, key: &IdempotencyKey) -> (String, String) {
    (merchant.as_str().to_owned(), key.as_str().to_owned())
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn insert_claim(
        &self,
        claim: &ClaimRequest,
        lock_token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredClaim>, StoreError> {
        let mut rows = self.0.lock().unwrap();
        if let Some(existing) = rows.get(&id(&claim.merchant, &claim.key)) {
            return Ok(Some(existing.clone()));
        }
        let stored = StoredClaim {
            fingerprint: claim.fingerprint.clone(),
            payment_id: claim.payment_id.clone(),
            payment_version: claim.payment_version,
            state: ClaimState::InProgress {
                lock_token: lock_token.into(),
                locked_at: now,
            },
        };
        rows.insert(id(&claim.merchant, &claim.key), stored);
        Ok(None)
    }

    async fn take_over(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        stale: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut rows = self.0.lock().unwrap();
        match rows.get_mut(&id(merchant, key)) {
            Some(row) if matches!(&row.state, ClaimState::InProgress { lock_token, .. } if lock_token == stale) => {
                row.state = ClaimState::InProgress {
                    lock_token: new.into(),
                    locked_at: now,
                };
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn complete(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        token: &str,
        status: u16,
        body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut rows = self.0.lock().unwrap();
        match rows.get_mut(&id(merchant, key)) {
            Some(row) if matches!(&row.state, ClaimState::InProgress { lock_token, .. } if lock_token == token) => {
                row.state = ClaimState::Completed {
                    status,
                    body: body.to_vec(),
                };
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, merchant: &MerchantId, key: &IdempotencyKey, _token: &str) -> Result<(), StoreError> {
        self.0.lock().unwrap().remove(&id(merchant, key));
        Ok(())
    }

    async fn reap(&self, _before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(0)
    }
}

struct ManualClock(Mutex<DateTime<Utc>>);

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn setup() -> (Idempotency, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock(Mutex::new(Utc.timestamp_opt(1_700_000_000, 0).unwrap())));
    let settings = IdempotencySettings {
        lock_timeout: Duration::from_secs(30),
        ..IdempotencySettings::default()
    };
    let logic = Idempotency::new(Arc::new(MemoryStore::default()), clock.clone(), settings);
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
    *clock.0.lock().unwrap() += chrono::Duration::seconds(31);
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
