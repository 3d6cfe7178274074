//! A keyed request's idempotency records, committed in the same transaction as its payment's
//! transitions instead of in transactions of their own.
//!
//! A create's claim rides with the new payment's first (`pending`) transition: the key and the
//! payment are written together or not at all, so a request that loses the race for its key has
//! written nothing and never reached a provider (it then learns who holds the key the usual way).
//! A change's claim cannot ride along — the provider is called before its only transition — so
//! it is taken first, as before. The response rides with the operation's last transition: it is
//! rendered from the outcome about to be committed and stored with it, so the reply the client
//! gets is the one a replay returns, byte for byte, and is durable before the client hears it.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};

use crate::domain::MerchantId;
use crate::idempotency::{ClaimRequest, IdempotencyKey};
use crate::operation::Outcome;

/// A stored response: status and body, replayed as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Renders the response of a successful operation (`None`: this outcome is not answered by it).
pub type RenderReply = Arc<dyn Fn(&Outcome) -> Option<StoredReply> + Send + Sync>;

/// What a keyed request hands its operation, and what it learns back from the store.
#[derive(Clone)]
pub struct KeyedCommit {
    pub merchant: MerchantId,
    pub key: IdempotencyKey,
    pub lock_token: String,
    /// The claim to insert with a create's first transition; `None` when it is already held.
    pub claim: Option<ClaimRequest>,
    render: RenderReply,
    claimed: Arc<AtomicBool>,
    stored: Arc<OnceLock<StoredReply>>,
}

/// What one commit writes besides the transition (see [`crate::ports::PaymentStore::commit_keyed`]).
#[derive(Clone, Debug)]
pub struct KeyedRecords {
    pub merchant: MerchantId,
    pub key: IdempotencyKey,
    pub lock_token: String,
    pub claim: Option<ClaimRequest>,
    pub reply: Option<StoredReply>,
    pub at: DateTime<Utc>,
}

impl KeyedCommit {
    /// For a request holding its claim already (`claim: None`) or claiming with its first commit.
    pub fn new(
        merchant: MerchantId,
        key: IdempotencyKey,
        lock_token: String,
        claim: Option<ClaimRequest>,
        render: RenderReply,
    ) -> Self {
        let claimed = Arc::new(AtomicBool::new(claim.is_none()));
        Self {
            merchant,
            key,
            lock_token,
            claim,
            render,
            claimed,
            stored: Arc::new(OnceLock::new()),
        }
    }

    /// Whether the request holds its key: claimed before the operation, or with its first commit.
    pub fn holds_claim(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }

    /// The response committed with the operation's last transition, if it was.
    pub fn stored_reply(&self) -> Option<&StoredReply> {
        self.stored.get()
    }

    /// The records for a transition that may be the first of a new payment.
    pub(crate) fn first_records(&self, at: DateTime<Utc>) -> Option<KeyedRecords> {
        let claim = self.claim.clone().filter(|_| !self.holds_claim())?;
        Some(self.records(Some(claim), None, at))
    }

    /// The records for the operation's last transition, whose outcome is `outcome`.
    pub(crate) fn last_records(&self, outcome: &Outcome, at: DateTime<Utc>) -> Option<KeyedRecords> {
        if !self.holds_claim() {
            return None;
        }
        let reply = (self.render)(outcome)?;
        Some(self.records(None, Some(reply), at))
    }

    /// Told by the operation what its commit with `records` wrote.
    pub(crate) fn committed(&self, records: KeyedRecords, reply_stored: bool) {
        if records.claim.is_some() {
            self.claimed.store(true, Ordering::Release);
        }
        if let (true, Some(reply)) = (reply_stored, records.reply) {
            let _ = self.stored.set(reply);
        }
    }

    fn records(&self, claim: Option<ClaimRequest>, reply: Option<StoredReply>, at: DateTime<Utc>) -> KeyedRecords {
        KeyedRecords {
            merchant: self.merchant.clone(),
            key: self.key.clone(),
            lock_token: self.lock_token.clone(),
            claim,
            reply,
            at,
        }
    }
}

impl fmt::Debug for KeyedCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCommit")
            .field("merchant", &self.merchant)
            .field("key", &self.key)
            .field("claim", &self.claim.is_some())
            .field("holds_claim", &self.holds_claim())
            .field("stored_reply", &self.stored.get().is_some())
            .finish()
    }
}
