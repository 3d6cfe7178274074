//! [`AuditStore`] over sqlx, for both backends (stamped out by `audit_store!`).
//!
//! Unaudited events are found by an anti-join against `audit_log.event_id`, never by "id greater
//! than the last one seen": on PostgreSQL a transaction that started earlier can commit later, and
//! a high-water mark would skip its event for good. `append` reads the chain's head and writes the
//! batch in one transaction, a few hundred rows a statement; the primary key on `seq` and the unique `event_id` make a concurrent
//! writer (another node) fail cleanly instead of forking the chain.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use payrail_core::audit::{chain, payment_event_entry, AuditEntry, AuditStore, NewAuditEntry};
use payrail_core::domain::PaymentEvent;
use payrail_core::ports::StoreError;

use crate::store::rows::{EventRow, EVENT_COLUMNS};
use crate::store::{Database, PostgresStore, SqliteStore};

fn unaudited_events_sql() -> String {
    format!(
        "SELECT {EVENT_COLUMNS} FROM payment_events WHERE created_at >= $1 \
         AND NOT EXISTS (SELECT 1 FROM audit_log WHERE audit_log.event_id = payment_events.id) \
         ORDER BY created_at, payment_id, sequence LIMIT $2"
    )
}

fn events_by_id_sql(n: usize) -> String {
    let placeholders: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    format!(
        "SELECT {EVENT_COLUMNS} FROM payment_events WHERE id IN ({})",
        placeholders.join(", ")
    )
}

const HEAD_SQL: &str = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";

const INSERT_ENTRIES_SQL: &str = "INSERT INTO audit_log (seq, kind, event_id, payload, recorded_at, prev_hash, hash) ";

/// 7 parameters a row: well inside SQLite's and PostgreSQL's limits on parameters per statement.
const INSERT_ROWS_PER_STATEMENT: usize = 200;

const READ_CHAIN_SQL: &str = "SELECT seq, kind, event_id, payload, recorded_at, prev_hash, hash FROM audit_log \
     WHERE seq > $1 ORDER BY seq LIMIT $2";

#[derive(sqlx::FromRow)]
struct EntryRow {
    seq: i64,
    kind: String,
    event_id: Option<String>,
    payload: String,
    recorded_at: i64,
    prev_hash: String,
    hash: String,
}

impl From<EntryRow> for AuditEntry {
    fn from(row: EntryRow) -> Self {
        AuditEntry {
            seq: row.seq,
            kind: row.kind,
            event_id: row.event_id,
            payload: row.payload,
            recorded_at_micros: row.recorded_at,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

/// `entries` linked after the head (`seq`, `hash`), ready to insert.
fn link(head: Option<(i64, String)>, entries: &[NewAuditEntry]) -> Vec<AuditEntry> {
    let (mut seq, mut prev) = head.unwrap_or_else(|| (0, chain::GENESIS.to_owned()));
    entries
        .iter()
        .map(|entry| {
            seq += 1;
            let recorded_at_micros = entry.recorded_at.timestamp_micros();
            let hash = chain::entry_hash(
                seq,
                &entry.kind,
                entry.event_id.as_deref(),
                &entry.payload,
                recorded_at_micros,
                &prev,
            );
            AuditEntry {
                seq,
                kind: entry.kind.clone(),
                event_id: entry.event_id.clone(),
                payload: entry.payload.clone(),
                recorded_at_micros,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect()
}

/// `$begin` starts the append transaction: SQLite needs `BEGIN IMMEDIATE`, or reading the head and
/// then writing would fail with `SQLITE_BUSY_SNAPSHOT` whenever a payment committed in between.
macro_rules! audit_store {
    ($store:ty, $begin:literal) => {
        #[async_trait::async_trait]
        impl AuditStore for $store {
            async fn unaudited_events(
                &self,
                since: Option<DateTime<Utc>>,
                limit: u32,
            ) -> Result<Vec<PaymentEvent>, StoreError> {
                let rows: Vec<EventRow> = sqlx::query_as(&unaudited_events_sql())
                    .bind(since.map_or(i64::MIN, |at| at.timestamp_micros()))
                    .bind(i64::from(limit))
                    .fetch_all(self.pool())
                    .await
                    .map_err(crate::store::sql::store_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn append(&self, entries: &[NewAuditEntry]) -> Result<(), StoreError> {
                use crate::store::sql::store_error;
                let mut tx = self.pool().begin_with($begin).await.map_err(store_error)?;
                let head: Option<(i64, String)> = sqlx::query_as(HEAD_SQL)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                // Multi-row INSERTs: a batch of a few hundred entries is a few statements, not a
                // few hundred. Their text varies with the row count, so they are not cached.
                for rows in link(head, entries).chunks(INSERT_ROWS_PER_STATEMENT) {
                    let mut insert = sqlx::QueryBuilder::new(INSERT_ENTRIES_SQL);
                    insert.push_values(rows, |mut row, entry| {
                        row.push_bind(entry.seq)
                            .push_bind(&entry.kind)
                            .push_bind(entry.event_id.as_deref())
                            .push_bind(&entry.payload)
                            .push_bind(entry.recorded_at_micros)
                            .push_bind(&entry.prev_hash)
                            .push_bind(&entry.hash);
                    });
                    insert
                        .build()
                        .persistent(false)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)
            }

            async fn read_chain(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
                let rows: Vec<EntryRow> = sqlx::query_as(READ_CHAIN_SQL)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(self.pool())
                    .await
                    .map_err(crate::store::sql::store_error)?;
                Ok(rows.into_iter().map(AuditEntry::from).collect())
            }

            async fn payment_events(&self, ids: &[String]) -> Result<Vec<PaymentEvent>, StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = events_by_id_sql(ids.len());
                let mut query = sqlx::query_as::<_, EventRow>(&sql);
                for id in ids {
                    query = query.bind(id.as_str());
                }
                let rows = query
                    .fetch_all(self.pool())
                    .await
                    .map_err(crate::store::sql::store_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        }
    };
}

audit_store!(SqliteStore, "BEGIN IMMEDIATE");
audit_store!(PostgresStore, "BEGIN");

impl Database {
    pub fn audit_store(&self) -> Arc<dyn AuditStore> {
        match self {
            Database::Sqlite(store) => Arc::new(store.clone()),
            Database::Postgres(store) => Arc::new(store.clone()),
        }
    }
}

/// Walks the whole chain, and checks every audited payment event against its row in
/// `payment_events` (so a changed or deleted event is caught too); `Ok(entries checked)` or the
/// first broken entry.
pub async fn verify_chain(store: &dyn AuditStore) -> Result<Result<u64, chain::BrokenLink>, StoreError> {
    let mut verifier = chain::Verifier::default();
    loop {
        let page = store.read_chain(verifier.last_seq(), 500).await?;
        if page.is_empty() {
            return Ok(Ok(verifier.checked()));
        }
        for entry in &page {
            if let Err(broken) = verifier.check(entry) {
                return Ok(Err(broken));
            }
        }
        if let Some(broken) = compare_with_events(store, &page).await? {
            return Ok(Err(broken));
        }
    }
}

async fn compare_with_events(
    store: &dyn AuditStore,
    entries: &[AuditEntry],
) -> Result<Option<chain::BrokenLink>, StoreError> {
    let ids: Vec<String> = entries.iter().filter_map(|e| e.event_id.clone()).collect();
    let events: HashMap<String, PaymentEvent> = store
        .payment_events(&ids)
        .await?
        .into_iter()
        .map(|event| (event.id.as_str().to_owned(), event))
        .collect();
    for entry in entries {
        let Some(event_id) = &entry.event_id else { continue };
        let reason = match events.get(event_id) {
            None => format!("payment event {event_id} is missing from payment_events"),
            Some(event) if payment_event_entry(event, Utc::now()).payload != entry.payload => {
                format!("payment event {event_id} no longer matches its audited copy")
            }
            Some(_) => continue,
        };
        return Ok(Some(chain::BrokenLink { seq: entry.seq, reason }));
    }
    Ok(None)
}
