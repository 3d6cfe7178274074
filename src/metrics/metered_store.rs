//! [`MeteredStore`]: a `PaymentStore` decorator that counts every call into
//! `database_operations_total{operation, outcome}`.
//!
//! It lives with the metrics rather than in `store/`: it decorates the `PaymentStore` port, not
//! either SQL backend, so the store stays unaware of Prometheus and the metric names stay in one
//! directory.

use std::sync::Arc;

use async_trait::async_trait;
use payrail_core::domain::{EventId, MerchantId, Payment, PaymentEvent, PaymentId, Refund, Transition};
use payrail_core::ports::{KeyedRecords, KeyedWrite, Page, PageRequest, PaymentFilter, PaymentStore, StoreError};

use super::Metrics;

/// A `PaymentStore` that counts every call into `database_operations_total`.
pub struct MeteredStore {
    store: Arc<dyn PaymentStore>,
    metrics: Metrics,
}

impl MeteredStore {
    pub fn new(store: Arc<dyn PaymentStore>, metrics: Metrics) -> Self {
        Self { store, metrics }
    }

    fn count<T>(&self, operation: &str, result: Result<T, StoreError>) -> Result<T, StoreError> {
        let outcome = match &result {
            Ok(_) => "ok",
            Err(StoreError::Conflict) => "conflict",
            Err(StoreError::UnknownCursor) => "rejected",
            Err(StoreError::RejectedInput { .. }) => "rejected_input",
            Err(_) => "error",
        };
        self.metrics.database_operation(operation, outcome);
        result
    }
}

#[async_trait]
impl PaymentStore for MeteredStore {
    async fn commit(&self, transition: &Transition) -> Result<(), StoreError> {
        self.count("commit", self.store.commit(transition).await)
    }

    async fn commit_keyed(&self, transition: &Transition, records: &KeyedRecords) -> Result<KeyedWrite, StoreError> {
        self.count("commit", self.store.commit_keyed(transition, records).await)
    }

    async fn load(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        self.count("load", self.store.load(id).await)
    }

    async fn find(&self, merchant: &MerchantId, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        self.count("find", self.store.find(merchant, id).await)
    }

    async fn list_payments(
        &self,
        merchant: &MerchantId,
        filter: &PaymentFilter,
        page: &PageRequest<PaymentId>,
    ) -> Result<Page<Payment>, StoreError> {
        self.count("list_payments", self.store.list_payments(merchant, filter, page).await)
    }

    async fn list_events(
        &self,
        merchant: &MerchantId,
        payment: &PaymentId,
        page: &PageRequest<EventId>,
    ) -> Result<Option<Page<PaymentEvent>>, StoreError> {
        self.count("list_events", self.store.list_events(merchant, payment, page).await)
    }

    async fn list_refunds(&self, payment: &PaymentId) -> Result<Vec<Refund>, StoreError> {
        self.count("list_refunds", self.store.list_refunds(payment).await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.count("ping", self.store.ping().await)
    }
}
