//! The webhook inbox: each verified provider event recorded once (dedupe by provider and event
//! id), and forgotten again if processing it failed, so the provider's redelivery is processed.
//! Service-side, outside the core's ports: only the webhook endpoint needs it.

use payrail_core::ports::StoreError;

use crate::store::backend::Backend;
use crate::store::columns::Value;
use crate::store::error::store_error;
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

const INSERT_EVENT_SQL: &str = "INSERT INTO webhook_events (provider, event_id, event_type, payment_id, payload, \
     received_at) VALUES ($1, $2, $3, $4, $5, $6)";

const DELETE_EVENT_SQL: &str = "DELETE FROM webhook_events WHERE provider = $1 AND event_id = $2";

impl Database {
    /// Records an event; `false` when it was already recorded (a redelivery).
    pub async fn record_webhook(&self, event: &InboundEvent<'_>) -> Result<bool, StoreError> {
        let recorded = match self {
            Database::Sqlite(store) => record(store.pool(), event).await,
            Database::Postgres(store) => record(store.pool(), event).await,
        };
        match recorded.map_err(store_error) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Forgets an event whose processing failed, so the provider's redelivery is processed.
    pub async fn forget_webhook(&self, provider: &str, event_id: &str) -> Result<(), StoreError> {
        let values = vec![Value::text(provider), Value::text(event_id)];
        match self {
            Database::Sqlite(store) => store.pool().execute(DELETE_EVENT_SQL, values).await,
            Database::Postgres(store) => store.pool().execute(DELETE_EVENT_SQL, values).await,
        }
        .map(|_| ())
        .map_err(store_error)
    }
}

async fn record(db: &impl Backend, event: &InboundEvent<'_>) -> Result<u64, sqlx::Error> {
    let values = vec![
        Value::text(event.provider),
        Value::text(event.event_id),
        Value::text(event.event_type),
        Value::Text(event.payment_id.map(Into::into)),
        Value::text(event.payload),
        Value::int(event.received_at_micros),
    ];
    db.execute(INSERT_EVENT_SQL, values).await
}
