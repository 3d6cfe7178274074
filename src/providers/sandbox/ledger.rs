//! The sandbox's own ledger: what it charged, captured and refunded, as a real provider keeps its
//! records, so `payrail reconcile-report --provider sandbox` compares payrail's events with an
//! independent record, end to end, without keys. The sandbox writes an entry when it answers
//! (through [`SandboxBook`], which the store implements over the `sandbox_ledger` table), and
//! [`SandboxLedger`] lists a day of them for the reconciliation.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payrail_core::ports::{ProviderError, StoreError};

use crate::reconciliation::ledger::{ProviderLedger, ProviderRecord};

/// Where the sandbox keeps its ledger.
#[async_trait]
pub trait SandboxBook: Send + Sync {
    /// Records `record` (its `payment_id` set) at `at`; a second write of the same record type and
    /// reference is a no-op (a retried capture, a payment retrieved twice).
    async fn write(&self, record: &ProviderRecord, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// The records written in `[from, to)`.
    async fn read(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ProviderRecord>, StoreError>;
}

/// The sandbox's listing: its ledger, read back.
pub struct SandboxLedger {
    book: Arc<dyn SandboxBook>,
}

impl SandboxLedger {
    pub fn new(book: Arc<dyn SandboxBook>) -> Self {
        Self { book }
    }
}

#[async_trait]
impl ProviderLedger for SandboxLedger {
    fn provider(&self) -> &str {
        super::Sandbox::NAME
    }

    /// The sandbox records its declines, as Paystack or Flutterwave list failed transactions.
    fn lists_failures(&self) -> bool {
        true
    }

    async fn records(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ProviderRecord>, ProviderError> {
        self.book
            .read(from, to)
            .await
            .map_err(|e| ProviderError::Unavailable(format!("sandbox ledger: {e}")))
    }
}
