//! The port the idempotency service needs: claims as unique rows keyed by (merchant, key), and
//! the records a keyed request commits with its payment's transitions ([`KeyedRecords`], written
//! by [`crate::ports::PaymentStore::commit_keyed`], which answers with a [`KeyedWrite`]).
//!
//! A claim is held by a lock token. Completing, releasing and taking over are all conditional on
//! the token, so a slow original request that wakes up after its claim was taken over cannot
//! overwrite the answer of the request that took it over.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{IdempotencyKey, MerchantId, PaymentId};
use crate::ports::StoreError;

/// What a request claims: its key, its fingerprint, and the payment it is about, so that a retry
/// after a crash can find out from the payment what already happened.
#[derive(Clone, Debug)]
pub struct ClaimRequest {
    pub merchant: MerchantId,
    pub key: IdempotencyKey,
    /// Keyed hash of method, path and canonical body; never the body itself (it may hold a PAN).
    pub fingerprint: String,
    /// The payment the request creates (its pre-generated id) or changes.
    pub payment_id: Option<PaymentId>,
    /// For a change: the payment's version when the request was claimed.
    pub payment_version: Option<i64>,
}

/// Where a stored claim is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimState {
    /// A request holds it (or held it, if its process died: see `locked_at`).
    InProgress {
        lock_token: String,
        locked_at: DateTime<Utc>,
    },
    /// Finished: the response to replay, byte for byte.
    Completed { status: u16, body: Vec<u8> },
}

/// A claim as stored.
#[derive(Clone, Debug)]
pub struct StoredClaim {
    pub fingerprint: String,
    pub payment_id: Option<PaymentId>,
    pub payment_version: Option<i64>,
    pub state: ClaimState,
}

/// A stored response: status and body, replayed as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What one commit writes besides its transition. A create's claim rides with the new payment's
/// first (`pending`) transition: both are written or neither is (`Conflict`). The reply rides with
/// the operation's last transition and is stored for `lock_token` only if the transition applied.
#[derive(Clone, Debug)]
pub struct KeyedRecords {
    pub merchant: MerchantId,
    pub key: IdempotencyKey,
    pub lock_token: String,
    pub claim: Option<ClaimRequest>,
    pub reply: Option<StoredReply>,
    pub at: DateTime<Utc>,
}

/// What a keyed commit wrote besides the transition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyedWrite {
    /// The claim went in with the transition.
    pub claimed: bool,
    /// The reply was stored (the lock token still held the key).
    pub reply: Option<StoredReply>,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Inserts the claim, held by `lock_token`, unless the key exists: `None` when this call
    /// claimed it, the existing claim otherwise.
    async fn insert_claim(
        &self,
        claim: &ClaimRequest,
        lock_token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredClaim>, StoreError>;

    /// Moves an in-progress claim from `stale_token` to `new_token`; false if it is no longer held
    /// by `stale_token` (completed, released, or taken over by someone else first).
    async fn take_over(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        stale_token: &str,
        new_token: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Stores the response of the request holding `lock_token`; false if it no longer holds it.
    async fn complete(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        lock_token: &str,
        status: u16,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Deletes the claim held by `lock_token` (the request changed nothing; it may be retried).
    async fn release(&self, merchant: &MerchantId, key: &IdempotencyKey, lock_token: &str) -> Result<(), StoreError>;

    /// Deletes every claim created before `before`; returns how many.
    async fn reap(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
