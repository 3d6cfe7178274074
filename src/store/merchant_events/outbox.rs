//! The outbox's merchant side: committed payment events read for the fan-out and for the events
//! API (each with the body rendered at its fan-out), the payments a fan-out batch renders from,
//! the fan-out's writes — a delivery per endpoint and a marker per event — a redelivery asked for
//! through the API, and the fan-out's cursor.

use payrail_core::domain::Payment;
use payrail_core::ports::StoreError;

use crate::store::columns::{names, Value, DELIVERIES, MARKERS, PAYMENTS};
use crate::store::merchant_events::rows::{Marker, NewDelivery, OutboxRow};
use crate::store::merchant_events::statements::{execute, fetch_all, fetch_optional, insert_rows, Statement};
use crate::store::rows::PaymentRow;
use crate::store::Database;

/// Payments read per statement by [`payments`]: well inside either backend's parameter limit.
const PAYMENTS_PER_READ: usize = 100;

/// An event and its fan-out body, as [`OutboxRow`] reads them.
const OUTBOX_SELECT: &str = "SELECT e.id, e.payment_id, e.merchant_id, e.sequence, e.kind, e.to_status, e.amount, \
     e.refund_id, e.created_at, m.payload FROM payment_events e LEFT JOIN merchant_events m ON m.event_id = e.id";

/// Events at or after `since` of merchants with an endpoint that were not fanned out yet, oldest
/// first.
pub async fn events_to_fan_out(db: &Database, since: i64, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
    let sql = format!(
        "{OUTBOX_SELECT} WHERE e.created_at >= $1 AND m.event_id IS NULL \
         AND e.merchant_id IN (SELECT merchant_id FROM webhook_endpoints) \
         ORDER BY e.created_at, e.id LIMIT $2"
    );
    fetch_all(db, &sql, vec![Value::int(since), Value::int(limit)]).await
}

/// The payments named by `ids`, a statement per hundred (one read per payment was the fan-out's
/// slowest step): each id with its payment as stored, or why that row cannot be read. An id
/// with no row is left out.
pub async fn payments(db: &Database, ids: &[&str]) -> Result<Vec<(String, Result<Payment, StoreError>)>, StoreError> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(PAYMENTS_PER_READ) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {} FROM payments WHERE id IN ({})",
            names(&PAYMENTS),
            marks.join(", ")
        );
        let rows: Vec<PaymentRow> = fetch_all(db, &sql, chunk.iter().map(|id| Value::text(id)).collect()).await?;
        found.extend(rows.into_iter().map(|row| (row.id.clone(), Payment::try_from(row))));
    }
    Ok(found)
}

/// A merchant's events, newest first, after the cursor `(created_at, id)`, filtered.
pub async fn list_events(
    db: &Database,
    merchant: &str,
    since: i64,
    before: (i64, String),
    kind: Option<String>,
    payment_id: Option<String>,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    let sql = format!(
        "{OUTBOX_SELECT} WHERE e.merchant_id = $1 AND e.created_at >= $2 \
         AND (e.created_at < $3 OR (e.created_at = $3 AND e.id < $4)) \
         AND ($5 IS NULL OR e.kind = $5) AND ($6 IS NULL OR e.payment_id = $6) \
         ORDER BY e.created_at DESC, e.id DESC LIMIT $7"
    );
    let bound = vec![
        Value::text(merchant),
        Value::int(since),
        Value::int(before.0),
        Value::text(&before.1),
        Value::Text(kind.map(Into::into)),
        Value::Text(payment_id.map(Into::into)),
        Value::int(limit),
    ];
    fetch_all(db, &sql, bound).await
}

pub async fn find_event(db: &Database, merchant: &str, id: &str) -> Result<Option<OutboxRow>, StoreError> {
    let sql = format!("{OUTBOX_SELECT} WHERE e.id = $1 AND e.merchant_id = $2");
    fetch_optional(db, &sql, vec![Value::text(id), Value::text(merchant)]).await
}

/// Delivery rows `(id, event, endpoint id)` to insert, each unless its (event, endpoint) pair
/// has one already.
pub fn insert_deliveries(rows: Vec<(String, &OutboxRow, String)>, now: i64) -> Vec<Statement> {
    let rows: Vec<NewDelivery> = rows
        .into_iter()
        .map(|(id, event, endpoint)| NewDelivery::new(id, event, endpoint, now))
        .collect();
    insert_rows(
        "webhook_deliveries",
        &DELIVERIES,
        "ON CONFLICT (event_id, endpoint_id) DO NOTHING",
        &rows,
    )
}

/// The fan-out markers of events, each with its body when a delivery needs it (a body written
/// once is kept: every delivery of an event sends the same bytes).
pub fn insert_markers(rows: Vec<(&OutboxRow, Option<String>)>, now: i64) -> Vec<Statement> {
    let rows: Vec<Marker> = rows
        .into_iter()
        .map(|(event, payload)| Marker {
            event_id: event.id.clone(),
            merchant_id: event.merchant_id.clone(),
            payload,
            now,
        })
        .collect();
    insert_rows(
        "merchant_events",
        &MARKERS,
        "ON CONFLICT (event_id) DO UPDATE SET payload = COALESCE(merchant_events.payload, excluded.payload)",
        &rows,
    )
}

/// Asks for (re)delivery of an event to an endpoint now: a new row, or the existing one made
/// pending again with a fresh retry schedule.
pub fn redeliver(id: String, event: &OutboxRow, endpoint_id: &str, now: i64) -> Statement {
    let row = [NewDelivery::new(id, event, endpoint_id.to_owned(), now)];
    let suffix = "ON CONFLICT (event_id, endpoint_id) DO UPDATE SET status = 'pending', failures = 0, \
                  next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at";
    let mut statements = insert_rows("webhook_deliveries", &DELIVERIES, suffix, &row);
    statements.remove(0)
}

pub async fn cursor(db: &Database) -> Result<Option<i64>, StoreError> {
    let sql = "SELECT position FROM merchant_event_cursor WHERE name = 'fan_out'";
    let row: Option<(i64,)> = fetch_optional(db, sql, Vec::new()).await?;
    Ok(row.map(|(position,)| position))
}

/// Moves the cursor forward (never back, whichever node writes last).
pub async fn advance_cursor(db: &Database, position: i64) -> Result<(), StoreError> {
    let sql = "INSERT INTO merchant_event_cursor (name, position) VALUES ('fan_out', $1) \
               ON CONFLICT (name) DO UPDATE SET position = excluded.position \
               WHERE merchant_event_cursor.position < excluded.position";
    execute(db, sql, vec![Value::int(position)]).await.map(|_| ())
}
