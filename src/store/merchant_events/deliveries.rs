//! Deliveries at work: the dispatcher's lease on an endpoint's due deliveries (PostgreSQL skips
//! rows another node is claiming; SQLite has one node), the bodies they send, their attempts'
//! outcomes recorded, leases given back, the endpoint's breaker mark, and the listings of
//! attempts (a keyset page on `(attempted_at, id)`) and delivery counts.

use payrail_core::ports::{Page, StoreError};

use crate::store::columns::{Value, ATTEMPTS};
use crate::store::merchant_events::rows::{AttemptRecord, AttemptRow, LeasedDelivery};
use crate::store::merchant_events::statements::{
    execute, execute_all, fetch_all, fetch_optional, insert_rows, Statement,
};
use crate::store::Database;

/// The lease: up to `limit` due deliveries of the endpoint, each the oldest pending event of its
/// payment for that endpoint (earlier ones are delivered or failed), leased until `until`.
///
/// It reads about `limit` rows however long the endpoint's backlog is: the due deliveries in
/// next-attempt order from `webhook_deliveries_due_per_endpoint` (migration 0012, which the
/// always-true `next_attempt_at >= 0` selects), and for each one its payment's oldest pending
/// sequence from `webhook_deliveries_in_order`, as a correlated subquery so that it is always an
/// index lookup per row. Measured with `EXPLAIN ANALYZE` on PostgreSQL: `d.sequence = (SELECT
/// MIN …)` sorted the whole backlog (11.6 ms with 1,457 pending; the equality looked so selective
/// that a sort seemed cheap); a `NOT EXISTS` anti-join was 0.3 ms once analyzed, but on a table
/// not yet analyzed the planner scanned the backlog per row (114 ms with 11,000 pending); this
/// form, `<=` (equal, since the delivery is itself pending), took 0.23 ms on that same table.
const LEASE_SQL: &str = "UPDATE webhook_deliveries SET leased_until = $1 WHERE id IN (\
     SELECT d.id FROM webhook_deliveries d WHERE d.endpoint_id = $2 AND d.status = 'pending' \
     AND d.next_attempt_at >= 0 AND d.next_attempt_at <= $3 AND d.leased_until <= $3 \
     AND d.sequence <= (SELECT MIN(e.sequence) FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id \
       AND e.payment_id = d.payment_id AND e.status = 'pending') \
     ORDER BY d.next_attempt_at LIMIT $4 {LOCK}) \
     RETURNING id, event_id, payment_id, attempts, failures";

pub async fn lease(
    db: &Database,
    endpoint_id: &str,
    now: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<LeasedDelivery>, StoreError> {
    let bound = vec![
        Value::int(until),
        Value::text(endpoint_id),
        Value::int(now),
        Value::int(limit),
    ];
    let sql = match db {
        // Another node may be leasing the same rows: it skips those this statement has locked.
        Database::Postgres(_) => LEASE_SQL.replace("{LOCK}", "FOR UPDATE SKIP LOCKED"),
        Database::Sqlite(_) => LEASE_SQL.replace("{LOCK}", ""),
    };
    fetch_all(db, &sql, bound).await
}

/// Records attempts' outcomes in one transaction: their attempt rows, and each delivery's new
/// state with its lease given back.
pub async fn record_attempts(db: &Database, records: &[AttemptRecord]) -> Result<(), StoreError> {
    let mut statements = insert_rows("webhook_delivery_attempts", &ATTEMPTS, "", records);
    for r in records {
        statements.push(Statement {
            sql: "UPDATE webhook_deliveries SET status = $2, attempts = $3, failures = $4, \
                  next_attempt_at = COALESCE($5, next_attempt_at), leased_until = 0, updated_at = $6 WHERE id = $1"
                .into(),
            values: vec![
                Value::text(&r.delivery_id).into_owned(),
                Value::text(r.status),
                Value::int(r.attempt),
                Value::int(r.failures),
                Value::Int(r.next_attempt_at),
                Value::int(r.at),
            ],
        });
    }
    execute_all(db, statements).await
}

/// The bodies of fanned-out events, by event id.
pub async fn payloads(db: &Database, event_ids: &[String]) -> Result<Vec<(String, Option<String>)>, StoreError> {
    if event_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=event_ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT event_id, payload FROM merchant_events WHERE event_id IN ({})",
        placeholders.join(", ")
    );
    fetch_all(db, &sql, event_ids.iter().map(|id| Value::text(id)).collect()).await
}

/// Puts a leased delivery back without an attempt (the endpoint's breaker opened meanwhile).
pub async fn release(db: &Database, delivery_id: &str, next_attempt_at: i64) -> Result<(), StoreError> {
    let sql = "UPDATE webhook_deliveries SET leased_until = 0, next_attempt_at = $2 WHERE id = $1";
    execute(db, sql, vec![Value::text(delivery_id), Value::int(next_attempt_at)])
        .await
        .map(|_| ())
}

/// Sets or clears the endpoint's failing-since mark, and disables it when asked.
pub async fn mark_endpoint(
    db: &Database,
    id: &str,
    failing_since: Option<i64>,
    disable: bool,
) -> Result<u64, StoreError> {
    let sql = "UPDATE webhook_endpoints SET failing_since = $2, \
               status = CASE WHEN $3 = 1 THEN 'disabled' ELSE status END WHERE id = $1 \
               AND (status = 'enabled' OR $3 = 0)";
    let bound = vec![
        Value::text(id),
        Value::Int(failing_since),
        Value::int(i64::from(disable)),
    ];
    execute(db, sql, bound).await
}

pub async fn pending_deliveries(db: &Database) -> Result<i64, StoreError> {
    let sql = "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'";
    let row: Option<(i64,)> = fetch_optional(db, sql, Vec::new()).await?;
    Ok(row.map_or(0, |(n,)| n))
}

/// The endpoint's attempts, newest first, after the attempt `starting_after` (an id of this
/// endpoint's attempts, or [`StoreError::UnknownCursor`]). Reads `limit + 1` rows: the extra one
/// only says there is more.
pub async fn list_attempts(
    db: &Database,
    endpoint_id: &str,
    starting_after: Option<&str>,
    limit: u32,
) -> Result<Page<AttemptRow>, StoreError> {
    let (before_time, before_id) = match starting_after {
        None => (i64::MAX, String::new()),
        Some(id) => {
            let sql = "SELECT attempted_at, id FROM webhook_delivery_attempts WHERE id = $1 AND endpoint_id = $2";
            let found: Option<(i64, String)> =
                fetch_optional(db, sql, vec![Value::text(id), Value::text(endpoint_id)]).await?;
            found.ok_or(StoreError::UnknownCursor)?
        }
    };
    let sql = "SELECT id, event_id, attempt, status_code, latency_ms, error, next_attempt_at, attempted_at \
               FROM webhook_delivery_attempts WHERE endpoint_id = $1 \
               AND (attempted_at < $2 OR (attempted_at = $2 AND id < $3)) \
               ORDER BY attempted_at DESC, id DESC LIMIT $4";
    let bound = vec![
        Value::text(endpoint_id),
        Value::int(before_time),
        Value::text(&before_id),
        Value::int(i64::from(limit) + 1),
    ];
    let mut data: Vec<AttemptRow> = fetch_all(db, sql, bound).await?;
    let has_more = data.len() > limit as usize;
    data.truncate(limit as usize);
    Ok(Page { data, has_more })
}

/// Deliveries by status for an endpoint (tests and the listing's summary).
pub async fn delivery_counts(db: &Database, endpoint_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
    let sql = "SELECT status, COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1 GROUP BY status ORDER BY status";
    fetch_all(db, sql, vec![Value::text(endpoint_id)]).await
}
