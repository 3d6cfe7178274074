//! The webhook inbox (dedupe by provider and event id) and the reconciler's scan for payments
//! still awaiting their provider. Service-side queries outside the core's `PaymentStore` port:
//! only the service's webhook endpoint and reconciler need them.

use payrail_core::domain::PaymentId;
use payrail_core::ports::StoreError;

use crate::store::sql::store_error;
use crate::store::Database;

/// One received, verified webhook event.
pub struct InboundEvent<'a> {
    pub provider: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub payment_id: Option<&'a str>,
    pub payload: &'a str,
    pub received_at_micros: i64,
}

const INSERT_EVENT: &str = "INSERT INTO webhook_events (provider, event_id, event_type, payment_id, payload, \
     received_at) VALUES ($1, $2, $3, $4, $5, $6)";
const DELETE_EVENT: &str = "DELETE FROM webhook_events WHERE provider = $1 AND event_id = $2";
const AWAITING: &str = "SELECT id FROM payments WHERE status IN ('pending', 'processing') AND updated_at <= $1 \
     ORDER BY updated_at LIMIT $2";

/// Runs the same statement on whichever backend is open.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Database::Sqlite(store) => {
                let $pool = store.pool();
                $body
            }
            Database::Postgres(store) => {
                let $pool = store.pool();
                $body
            }
        }
    };
}

impl Database {
    /// Records an event; `false` when it was already recorded (a redelivery).
    pub async fn record_webhook(&self, event: &InboundEvent<'_>) -> Result<bool, StoreError> {
        let result = on_pool!(self, |pool| sqlx::query(INSERT_EVENT)
            .bind(event.provider)
            .bind(event.event_id)
            .bind(event.event_type)
            .bind(event.payment_id)
            .bind(event.payload)
            .bind(event.received_at_micros)
            .execute(pool)
            .await
            .map(|_| ()));
        match result.map_err(store_error) {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Forgets an event whose processing failed, so the provider's redelivery is processed.
    pub async fn forget_webhook(&self, provider: &str, event_id: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(DELETE_EVENT)
            .bind(provider)
            .bind(event_id)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(store_error)
    }

    /// Payments `pending` or `processing` since at least `updated_before_micros`, oldest first.
    pub async fn awaiting_provider(
        &self,
        updated_before_micros: i64,
        limit: i64,
    ) -> Result<Vec<PaymentId>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self, |pool| sqlx::query_as(AWAITING)
            .bind(updated_before_micros)
            .bind(limit)
            .fetch_all(pool)
            .await)
        .map_err(store_error)?;
        rows.into_iter()
            .map(|(id,)| PaymentId::parse(&id).map_err(|_| StoreError::Corrupt(format!("payment id {id}"))))
            .collect()
    }
}
