//! The retention purge's statements: each deletes at most `limit` merchant-event rows older than
//! a cutoff and returns how many it deleted, so the caller works in bounded batches (short
//! transactions, no long lock on either backend). What they never touch: `payment_events` (the
//! outbox is also the audit chain's and the settlements' source), a delivery still `pending`
//! (being retried or leased), the attempts of such a delivery, and the fan-out marker (with the
//! body every delivery sends) of an event that still has a pending delivery.

use payrail_core::ports::StoreError;

use crate::store::columns::Value;
use crate::store::merchant_events::statements::execute;
use crate::store::Database;

/// Attempts made before `cutoff` whose delivery is no longer pending (or is gone).
pub async fn purge_attempts(db: &Database, cutoff: i64, limit: i64) -> Result<u64, StoreError> {
    let sql = "DELETE FROM webhook_delivery_attempts WHERE id IN (SELECT a.id FROM webhook_delivery_attempts a \
               WHERE a.attempted_at < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
               WHERE d.id = a.delivery_id AND d.status = 'pending') ORDER BY a.attempted_at LIMIT $2)";
    execute(db, sql, vec![Value::int(cutoff), Value::int(limit)]).await
}

/// Delivered or failed deliveries last changed before `cutoff`.
pub async fn purge_deliveries(db: &Database, cutoff: i64, limit: i64) -> Result<u64, StoreError> {
    let sql = "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
               WHERE updated_at < $1 AND status <> 'pending' ORDER BY updated_at LIMIT $2)";
    execute(db, sql, vec![Value::int(cutoff), Value::int(limit)]).await
}

/// Fan-out markers written before `cutoff` of events without a pending delivery. The caller
/// passes a cutoff behind the fan-out's cursor too: the fan-out looks for events without a
/// marker only from its cursor on, so a purged event is never fanned out again.
pub async fn purge_markers(db: &Database, cutoff: i64, limit: i64) -> Result<u64, StoreError> {
    let sql = "DELETE FROM merchant_events WHERE event_id IN (SELECT m.event_id FROM merchant_events m \
               WHERE m.fanned_out_at < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
               WHERE d.event_id = m.event_id AND d.status = 'pending') ORDER BY m.fanned_out_at LIMIT $2)";
    execute(db, sql, vec![Value::int(cutoff), Value::int(limit)]).await
}
