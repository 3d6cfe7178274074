//! [`AuditStore`] for both backends, and [`verify_chain`].
//!
//! Unaudited events are found by an anti-join against `audit_log.event_id`, never by "id greater
//! than the last one seen": on PostgreSQL a transaction that started earlier can commit later, and
//! a high-water mark would skip its event for good. `append` reads the chain's head and writes the
//! batch in one transaction, a few hundred rows a statement (each backend's `audit.rs`: they begin
//! that transaction differently); the primary key on `seq` and the unique `event_id` make a
//! concurrent writer (another node) fail cleanly instead of forking the chain.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use payrail_core::audit::{chain, payment_event_entry, AuditEntry, AuditStore, NewAuditEntry};
use payrail_core::domain::PaymentEvent;
use payrail_core::ports::StoreError;
use sqlx::Pool;

use crate::store::backend::{Backend, Store};
use crate::store::columns::{names, Value, AUDIT_LOG, EVENTS};
use crate::store::error::store_error;
use crate::store::rows::EventRow;
use crate::store::Database;

static UNAUDITED_EVENTS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM payment_events WHERE created_at >= $1 \
         AND NOT EXISTS (SELECT 1 FROM audit_log WHERE audit_log.event_id = payment_events.id) \
         ORDER BY created_at, payment_id, sequence LIMIT $2",
        names(&EVENTS)
    )
});

fn events_by_id_sql(n: usize) -> String {
    let placeholders: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    format!(
        "SELECT {} FROM payment_events WHERE id IN ({})",
        names(&EVENTS),
        placeholders.join(", ")
    )
}

/// The chain's last entry, read inside the append transaction.
pub(crate) const HEAD_SQL: &str = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";

/// `INSERT INTO audit_log (…) `, to which an append adds its rows' `VALUES`.
pub(crate) static INSERT_ENTRIES_SQL: LazyLock<String> =
    LazyLock::new(|| format!("INSERT INTO audit_log ({}) ", names(&AUDIT_LOG)));

/// 7 parameters a row: well inside SQLite's and PostgreSQL's limits on parameters per statement.
pub(crate) const INSERT_ROWS_PER_STATEMENT: usize = 200;

static READ_CHAIN_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        names(&AUDIT_LOG)
    )
});

#[derive(sqlx::FromRow)]
pub(crate) struct EntryRow {
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
pub(crate) fn link(head: Option<(i64, String)>, entries: &[NewAuditEntry]) -> Vec<AuditEntry> {
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

#[async_trait::async_trait]
impl<DB: sqlx::Database> AuditStore for Store<DB>
where
    Pool<DB>: Backend,
{
    async fn unaudited_events(
        &self,
        since: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<PaymentEvent>, StoreError> {
        let pool = self.pool().clone();
        let since = since.map_or(i64::MIN, |at| at.timestamp_micros());
        let rows: Vec<EventRow> = detached(async move {
            let values = vec![Value::int(since), Value::int(i64::from(limit))];
            pool.fetch_all(&UNAUDITED_EVENTS_SQL, values).await
        })
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn append(&self, entries: &[NewAuditEntry]) -> Result<(), StoreError> {
        // SQLite: on the writer's connection, in turn with the batches, so neither waits on the
        // file lock (`Backend::OWN_WRITER_THREAD`).
        let pool = match Pool::<DB>::OWN_WRITER_THREAD {
            true => self.write_pool().clone(),
            false => self.pool().clone(),
        };
        let entries = entries.to_vec();
        detached(async move { pool.append_audit(&entries).await }).await
    }

    async fn read_chain(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let values = vec![Value::int(after), Value::int(i64::from(limit))];
        let rows: Vec<EntryRow> = self
            .pool()
            .fetch_all(&READ_CHAIN_SQL, values)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }

    async fn payment_events(&self, ids: &[String]) -> Result<Vec<PaymentEvent>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = events_by_id_sql(ids.len());
        let values = ids.iter().map(|id| Value::text(id)).collect();
        let rows: Vec<EventRow> = self.pool().fetch_all(&sql, values).await.map_err(store_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}

/// Runs the audit actor's database work as a task of its own: the actor is dropped with its actix
/// system at shutdown, and a connection dropped mid-statement there would be dropped outside the
/// Tokio runtime (a panic in sqlx); a task of its own finishes, or is dropped by the runtime.
async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, sqlx::Error>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work)
        .await
        .map_err(|error| StoreError::Unavailable(format!("audit task: {error}")))?
        .map_err(store_error)
}

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
