//! [`Claims`]: claiming a key, completing and releasing it, and reaping old keys — the plain logic
//! under the idempotency service, over the [`IdempotencyStore`] port.
//!
//! Same key and fingerprint, finished → replay. Still running → in progress, unless the holder's
//! lock is older than the lock timeout: its process presumably died, so the claim is taken over and
//! the new holder is told what the dead one was working on ([`Resumed`]); the payment's persisted
//! state then decides what the retry does. Different fingerprint → the key was reused.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::{IdempotencyKey, MerchantId, PaymentId};
use crate::ports::{ClaimRequest, ClaimState, Clock, IdempotencyStore, StoreError};

#[derive(Clone, Debug)]
pub struct IdempotencySettings {
    /// A claim held longer than this is presumed abandoned and may be taken over.
    pub lock_timeout: Duration,
    /// Claims are deleted this long after they were created.
    pub ttl: Duration,
    /// How often the reaper runs.
    pub reap_interval: Duration,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        Self {
            lock_timeout: Duration::from_secs(30),
            ttl: Duration::from_secs(24 * 3600),
            reap_interval: Duration::from_secs(300),
        }
    }
}

/// What a request that took over an abandoned claim learns about the work it inherits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resumed {
    pub payment_id: Option<PaymentId>,
    pub payment_version: Option<i64>,
}

/// The right to execute the request; pass the token back to complete or release it.
#[derive(Clone, Debug)]
pub struct Lease {
    pub token: String,
    /// `Some` when the claim was taken over from a request that did not finish.
    pub resumed: Option<Resumed>,
}

#[derive(Clone, Debug)]
pub enum ClaimOutcome {
    Acquired(Lease),
    Replay { status: u16, body: Vec<u8> },
    InProgress { retry_after: Duration },
    KeyReused,
}

#[derive(Clone)]
pub struct Claims {
    store: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
    settings: IdempotencySettings,
}

impl Claims {
    pub fn new(store: Arc<dyn IdempotencyStore>, clock: Arc<dyn Clock>, settings: IdempotencySettings) -> Self {
        Self { store, clock, settings }
    }

    pub fn settings(&self) -> &IdempotencySettings {
        &self.settings
    }

    pub async fn claim(&self, request: &ClaimRequest) -> Result<ClaimOutcome, StoreError> {
        let token = new_lock_token();
        // A claim can vanish or change hands between our read and our write; re-read a few times.
        for _ in 0..3 {
            let now = self.clock.now();
            let Some(existing) = self.store.insert_claim(request, &token, now).await? else {
                return Ok(ClaimOutcome::Acquired(Lease { token, resumed: None }));
            };
            if existing.fingerprint != request.fingerprint {
                return Ok(ClaimOutcome::KeyReused);
            }
            let (stale_token, locked_at) = match existing.state {
                ClaimState::Completed { status, body } => return Ok(ClaimOutcome::Replay { status, body }),
                ClaimState::InProgress { lock_token, locked_at } => (lock_token, locked_at),
            };
            let held_for = elapsed(locked_at, now);
            if held_for < self.settings.lock_timeout {
                // Most requests finish well within a second; if the holder died instead, the lock
                // timeout bounds how long its key stays blocked.
                return Ok(ClaimOutcome::InProgress {
                    retry_after: Duration::from_secs(1),
                });
            }
            if self
                .store
                .take_over(&request.merchant, &request.key, &stale_token, &token, now)
                .await?
            {
                tracing::warn!(
                    merchant_id = %request.merchant,
                    held_for_ms = u64::try_from(held_for.as_millis()).unwrap_or(u64::MAX),
                    "idempotency claim taken over after its lock timed out"
                );
                let resumed = Resumed {
                    payment_id: existing.payment_id,
                    payment_version: existing.payment_version,
                };
                return Ok(ClaimOutcome::Acquired(Lease {
                    token,
                    resumed: Some(resumed),
                }));
            }
        }
        Ok(ClaimOutcome::InProgress {
            retry_after: Duration::from_secs(1),
        })
    }

    pub async fn complete(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        token: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let stored = self
            .store
            .complete(merchant, key, token, status, body, self.clock.now())
            .await?;
        if !stored {
            tracing::warn!(merchant_id = %merchant, "idempotency claim was taken over before it completed");
        }
        Ok(())
    }

    pub async fn release(&self, merchant: &MerchantId, key: &IdempotencyKey, token: &str) -> Result<(), StoreError> {
        self.store.release(merchant, key, token).await
    }

    /// Deletes claims older than the TTL.
    pub async fn reap(&self) -> Result<u64, StoreError> {
        let ttl = chrono::Duration::from_std(self.settings.ttl).unwrap_or(chrono::Duration::MAX);
        let before = self
            .clock
            .now()
            .checked_sub_signed(ttl)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.store.reap(before).await
    }
}

/// A fresh, unguessable token to hold a claim by.
pub fn new_lock_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or(Duration::ZERO)
}
