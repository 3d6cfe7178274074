//! The sandbox's ledger (`sandbox_ledger`, migration 0009): the store side of
//! [`SandboxBook`](crate::providers::SandboxBook). The sandbox adapter writes here; payrail's
//! payment code never does, so the table is an independent record to reconcile against.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payrail_core::ports::StoreError;

use crate::providers::SandboxBook;
use crate::reconciliation::ledger::{ProviderRecord, RecordStatus, RecordType};
use crate::store::backend::Backend;
use crate::store::columns::Value;
use crate::store::error::store_error;
use crate::store::Database;

const COLUMNS: &str = "record_type, reference, payment_id, amount, currency, status";

const INSERT_SQL: &str = "INSERT INTO sandbox_ledger (record_type, reference, payment_id, amount, currency, status, \
     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (record_type, reference) DO NOTHING";

#[derive(sqlx::FromRow)]
struct LedgerRow {
    record_type: String,
    reference: String,
    payment_id: String,
    amount: i64,
    currency: String,
    status: String,
}

#[async_trait]
impl SandboxBook for Database {
    async fn write(&self, record: &ProviderRecord, at: DateTime<Utc>) -> Result<(), StoreError> {
        let values = vec![
            Value::text(record.record_type.as_str()),
            Value::text(&record.reference),
            Value::text(record.payment_id.as_deref().unwrap_or_default()),
            Value::int(record.amount),
            Value::text(&record.currency),
            Value::text(record.status.as_str()),
            Value::int(at.timestamp_micros()),
        ];
        match self {
            // On the writer's connection, in turn with the group-commit batches, as the audit
            // appends are: as an autocommit on a reader connection it fought the writer for
            // SQLite's one write lock, and the loser slept in the busy handler (1–100 ms steps).
            Database::Sqlite(store) => store.write_pool().execute(INSERT_SQL, values).await,
            Database::Postgres(store) => store.pool().execute(INSERT_SQL, values).await,
        }
        .map(|_| ())
        .map_err(store_error)
    }

    async fn read(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ProviderRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sandbox_ledger WHERE created_at >= $1 AND created_at < $2 \
             ORDER BY created_at, reference"
        );
        let values = vec![Value::int(from.timestamp_micros()), Value::int(to.timestamp_micros())];
        let rows: Vec<LedgerRow> = match self {
            Database::Sqlite(store) => store.pool().fetch_all(&sql, values).await,
            Database::Postgres(store) => store.pool().fetch_all(&sql, values).await,
        }
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|row| ProviderRecord {
                record_type: if row.record_type == "refund" {
                    RecordType::Refund
                } else {
                    RecordType::Payment
                },
                reference: row.reference,
                payment_id: Some(row.payment_id).filter(|id| !id.is_empty()),
                amount: row.amount,
                currency: row.currency,
                // A status the sandbox never writes reads as pending: it shows up as a difference.
                status: RecordStatus::parse(&row.status).unwrap_or(RecordStatus::Pending),
            })
            .collect())
    }
}
