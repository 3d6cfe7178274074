//! Direct SQL against a test's database, for what the API does not show: audit rows, idempotency
//! claims, and tampering with them.

use payrail::store::Database;

pub async fn count(db: &Database, sql: &str) -> i64 {
    match db {
        Database::Sqlite(store) => sqlx::query_scalar(sql).fetch_one(store.pool()).await,
        Database::Postgres(store) => sqlx::query_scalar(sql).fetch_one(store.pool()).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub async fn execute(db: &Database, sql: &str) -> Result<u64, sqlx::Error> {
    match db {
        Database::Sqlite(store) => sqlx::query(sql).execute(store.pool()).await.map(|r| r.rows_affected()),
        Database::Postgres(store) => sqlx::query(sql).execute(store.pool()).await.map(|r| r.rows_affected()),
    }
}

/// Payment events with no audit entry.
pub const UNAUDITED_SQL: &str =
    "SELECT COUNT(*) FROM payment_events e WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.event_id = e.id)";

/// Waits until the AuditActor has audited every committed payment event, then checks each has
/// exactly one entry.
pub async fn assert_every_event_audited_once(db: &Database) {
    for _ in 0..100 {
        if count(db, UNAUDITED_SQL).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count(db, UNAUDITED_SQL).await, 0, "every payment event is audited");
    let events = count(db, "SELECT COUNT(*) FROM payment_events").await;
    let entries = count(db, "SELECT COUNT(*) FROM audit_log WHERE kind = 'payment_event'").await;
    assert_eq!(entries, events, "exactly one audit entry per payment event");
}
