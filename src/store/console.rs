//! Reads for the operator console, across merchants (operators see every merchant's payments):
//! the payments search (id, order id, merchant, status, UTC day; newest first, by pages), and a
//! payment's idempotency keys and audit entries. Merchant-facing reads stay merchant-scoped in
//! `payments.rs`; nothing here writes.

use payrail_core::audit::AuditEntry;
use payrail_core::ports::StoreError;

use crate::store::audit::EntryRow;
use crate::store::backend::Backend;
use crate::store::columns::{names, Value, AUDIT_LOG};
use crate::store::error::store_error;
use crate::store::Database;

/// What an operator searches by; every field optional, all given ones must match.
#[derive(Clone, Debug, Default)]
pub struct PaymentSearch {
    pub id: Option<String>,
    pub order_id: Option<String>,
    pub merchant_id: Option<String>,
    pub status: Option<String>,
    /// `[from, to)` in microseconds: one UTC day.
    pub created_between: Option<(i64, i64)>,
    pub offset: i64,
    pub limit: i64,
}

/// One row of the search results.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PaymentSummary {
    pub id: String,
    pub merchant_id: String,
    pub order_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub provider: String,
    pub created_at: i64,
}

/// An idempotency key that named a payment.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct KeyUse {
    pub idempotency_key: String,
    pub response_status: Option<i64>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

impl Database {
    /// Payments matching `search`, newest first; `limit + 1` rows ask whether there is more.
    pub async fn search_payments(&self, search: &PaymentSearch) -> Result<Vec<PaymentSummary>, StoreError> {
        let mut conditions = vec!["1 = 1".to_owned()];
        let mut values = Vec::new();
        for (column, value) in [
            ("id", &search.id),
            ("order_id", &search.order_id),
            ("merchant_id", &search.merchant_id),
            ("status", &search.status),
        ] {
            if let Some(value) = value {
                values.push(Value::text(value));
                conditions.push(format!("{column} = ${}", values.len()));
            }
        }
        if let Some((from, to)) = search.created_between {
            values.push(Value::int(from));
            values.push(Value::int(to));
            conditions.push(format!(
                "created_at >= ${} AND created_at < ${}",
                values.len() - 1,
                values.len()
            ));
        }
        values.push(Value::int(search.limit + 1));
        values.push(Value::int(search.offset));
        let sql = format!(
            "SELECT id, merchant_id, order_id, amount, currency, status, provider, created_at FROM payments \
             WHERE {} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            conditions.join(" AND "),
            values.len() - 1,
            values.len()
        );
        match self {
            Database::Sqlite(store) => store.pool().fetch_all(&sql, values).await,
            Database::Postgres(store) => store.pool().fetch_all(&sql, values).await,
        }
        .map_err(store_error)
    }

    /// The idempotency keys whose requests created or changed `payment_id`, oldest first.
    pub async fn keys_of_payment(&self, payment_id: &str) -> Result<Vec<KeyUse>, StoreError> {
        const SQL: &str = "SELECT idempotency_key, response_status, created_at, completed_at \
             FROM idempotency_keys WHERE payment_id = $1 ORDER BY created_at";
        let values = vec![Value::text(payment_id)];
        match self {
            Database::Sqlite(store) => store.pool().fetch_all(SQL, values).await,
            Database::Postgres(store) => store.pool().fetch_all(SQL, values).await,
        }
        .map_err(store_error)
    }

    /// The audit entries of `event_ids`, in chain order.
    pub async fn audit_entries_of(&self, event_ids: &[String]) -> Result<Vec<AuditEntry>, StoreError> {
        if event_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=event_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {} FROM audit_log WHERE event_id IN ({}) ORDER BY seq",
            names(&AUDIT_LOG),
            placeholders.join(", ")
        );
        let values = event_ids.iter().map(|id| Value::text(id)).collect();
        let rows: Vec<EntryRow> = match self {
            Database::Sqlite(store) => store.pool().fetch_all(&sql, values).await,
            Database::Postgres(store) => store.pool().fetch_all(&sql, values).await,
        }
        .map_err(store_error)?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }
}
