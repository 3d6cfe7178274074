//! The tamper-evident audit trail (DESIGN §4): every committed payment event, plus security-relevant
//! refusals (authentication failures, idempotency conflicts), appended to a hash-chained log.
//!
//! - [`chain`]: how an entry's hash is computed and how a chain is verified (pure functions).
//! - [`AuditStore`]: the port — unaudited events from the outbox, appending a batch after the head.
//! - [`AuditActor`]: the single writer; batches, and resumes from what is not yet audited.

mod actor;
pub mod chain;
mod record;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::PaymentEvent;
use crate::ports::StoreError;

pub use actor::{AuditActor, AuditSettings, Flush, Record};
pub use record::{payment_event_entry, AuditRecord};

/// Kinds of audit entries, as stored.
pub const KIND_PAYMENT_EVENT: &str = "payment_event";

/// An entry before it is chained: what happened, as canonical JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub kind: String,
    /// The payment event this entry records, if any (at most one entry per event).
    pub event_id: Option<String>,
    pub payload: String,
    pub recorded_at: DateTime<Utc>,
}

/// An entry as stored: its position in the chain, and the hashes that link it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub kind: String,
    pub event_id: Option<String>,
    pub payload: String,
    /// Microseconds since the epoch, as stored and hashed.
    pub recorded_at_micros: i64,
    pub prev_hash: String,
    pub hash: String,
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Committed payment events with no audit entry yet, created at or after `since` (all of them
    /// when `None`), in the order they should be appended, at most `limit`.
    async fn unaudited_events(&self, since: Option<DateTime<Utc>>, limit: u32)
        -> Result<Vec<PaymentEvent>, StoreError>;

    /// Chains `entries` after the current head and appends them in one transaction. `Conflict` if
    /// another writer appended first (or already audited one of the events): nothing is written.
    async fn append(&self, entries: &[NewAuditEntry]) -> Result<(), StoreError>;

    /// Up to `limit` entries with `seq > after`, in chain order.
    async fn read_chain(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// The payment events with these ids, as stored now (to compare with their audited copies).
    async fn payment_events(&self, ids: &[String]) -> Result<Vec<PaymentEvent>, StoreError>;
}
