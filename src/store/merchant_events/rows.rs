//! The rows merchant events' tables hold, as this store reads and writes them: an endpoint, a
//! committed event with its fan-out body, a leased delivery, an attempt's outcome and listing, and
//! the delivery and marker rows the fan-out inserts. Their columns are listed in `columns.rs`.

/// A `webhook_endpoints` row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: String,
    pub merchant_id: String,
    pub url: String,
    pub description: Option<String>,
    pub enabled_events: String,
    pub status: String,
    pub secret_sealed: String,
    pub secret_key_id: String,
    pub secret_prefix: String,
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_key_id: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A committed payment event, as the fan-out and the events API read it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: String,
    pub payment_id: String,
    pub merchant_id: String,
    pub sequence: i64,
    pub kind: String,
    pub to_status: String,
    pub amount: Option<i64>,
    pub refund_id: Option<String>,
    pub created_at: i64,
    /// The body rendered at fan-out, if the event was fanned out.
    pub payload: Option<String>,
}

/// A delivery leased for one attempt.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LeasedDelivery {
    pub id: String,
    pub event_id: String,
    pub payment_id: String,
    pub attempts: i64,
    pub failures: i64,
}

/// One attempt's outcome: the attempt row, and the delivery's new state.
pub struct AttemptRecord {
    pub attempt_id: String,
    pub delivery_id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// `delivered`, `pending` (retry at `next_attempt_at`) or `failed`.
    pub status: &'static str,
    pub failures: i64,
    pub next_attempt_at: Option<i64>,
    pub at: i64,
}

/// An attempt as the deliveries listing shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AttemptRow {
    pub id: String,
    pub event_id: String,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub attempted_at: i64,
}

/// A pending delivery of an event to an endpoint, due now.
pub(crate) struct NewDelivery {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub merchant_id: String,
    pub payment_id: String,
    pub sequence: i64,
    pub now: i64,
}

impl NewDelivery {
    pub(crate) fn new(id: String, event: &OutboxRow, endpoint_id: String, now: i64) -> Self {
        NewDelivery {
            id,
            event_id: event.id.clone(),
            endpoint_id,
            merchant_id: event.merchant_id.clone(),
            payment_id: event.payment_id.clone(),
            sequence: event.sequence,
            now,
        }
    }
}

/// An event's fan-out marker.
pub(crate) struct Marker {
    pub event_id: String,
    pub merchant_id: String,
    pub payload: Option<String>,
    pub now: i64,
}
