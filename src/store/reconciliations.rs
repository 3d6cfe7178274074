//! Reconciliation reports in the database (issue 17, migration 0009): payrail's side of a day
//! beyond the settlement's money events (the failed charges, from `payment.failed` events), which
//! merchant a provider-only record's payment belongs to, writing a run (one report per merchant
//! and its mismatches, in one transaction) and reading reports back for the API and the console.

use std::collections::HashMap;

use payrail_core::ports::StoreError;

use crate::reconciliation::report::{FailedCharge, MerchantReconciliation};
use crate::store::backend::Backend;
use crate::store::columns::Value;
use crate::store::error::store_error;
use crate::store::Database;

const FAILED_SQL: &str = "SELECT e.payment_id, e.merchant_id, p.currency, p.amount, p.provider_reference \
     FROM payment_events e JOIN payments p ON p.id = e.payment_id \
     WHERE e.created_at >= $1 AND e.created_at < $2 AND e.kind = 'payment.failed' AND p.provider = $3 \
     ORDER BY e.created_at, e.id";

const RECONCILIATION_COLUMNS: &str = "id, run_id, reconciliation_date, provider, merchant_id, payrail_count, \
     provider_count, matched_count, mismatch_count, status, created_at";

const ITEM_COLUMNS: &str = "reconciliation_id, item_no, mismatch, record_type, provider_reference, payment_id, \
     refund_id, payrail_amount, provider_amount, payrail_currency, provider_currency, payrail_status, provider_status";

/// 13 parameters an item: well inside both databases' limits.
const ITEMS_PER_STATEMENT: usize = 100;

/// A stored report: one merchant's share of a run.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReconciliationRecord {
    pub id: String,
    pub run_id: String,
    pub reconciliation_date: String,
    pub provider: String,
    pub merchant_id: Option<String>,
    pub payrail_count: i64,
    pub provider_count: i64,
    pub matched_count: i64,
    pub mismatch_count: i64,
    pub status: String,
    pub created_at: i64,
}

/// One stored mismatch.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReconciliationItemRecord {
    pub reconciliation_id: String,
    pub item_no: i64,
    pub mismatch: String,
    pub record_type: String,
    pub provider_reference: String,
    pub payment_id: Option<String>,
    pub refund_id: Option<String>,
    pub payrail_amount: Option<i64>,
    pub provider_amount: Option<i64>,
    pub payrail_currency: Option<String>,
    pub provider_currency: Option<String>,
    pub payrail_status: Option<String>,
    pub provider_status: Option<String>,
}

/// Which reports to list. `merchant_id` None lists everyone's, unattributed ones included (the
/// operator console); a merchant never sees the unattributed ones.
#[derive(Default)]
pub struct ReconciliationFilter<'a> {
    pub merchant_id: Option<&'a str>,
    pub date: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub limit: i64,
}

#[derive(sqlx::FromRow)]
struct FailedRow {
    payment_id: String,
    merchant_id: String,
    currency: String,
    amount: i64,
    provider_reference: Option<String>,
}

impl Database {
    /// The charges on `provider` that failed in `[from, to)` (microseconds).
    pub async fn failed_charges(
        &self,
        from_micros: i64,
        to_micros: i64,
        provider: &str,
    ) -> Result<Vec<FailedCharge>, StoreError> {
        let values = vec![Value::int(from_micros), Value::int(to_micros), Value::text(provider)];
        let rows: Vec<FailedRow> = match self {
            Database::Sqlite(store) => store.pool().fetch_all(FAILED_SQL, values).await,
            Database::Postgres(store) => store.pool().fetch_all(FAILED_SQL, values).await,
        }
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|row| FailedCharge {
                payment_id: row.payment_id,
                merchant_id: row.merchant_id,
                currency: row.currency,
                amount: row.amount,
                provider_reference: row.provider_reference,
            })
            .collect())
    }

    /// The merchant of each of these payments that exists (a payment's merchant never changes).
    pub async fn payment_owners(&self, payment_ids: &[String]) -> Result<HashMap<String, String>, StoreError> {
        let mut owners = HashMap::new();
        for chunk in payment_ids.chunks(200) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, merchant_id FROM payments WHERE id IN ({})",
                placeholders.join(", ")
            );
            let values = chunk.iter().map(|id| Value::text(id)).collect();
            let rows: Vec<(String, String)> = match self {
                Database::Sqlite(store) => store.pool().fetch_all(&sql, values).await,
                Database::Postgres(store) => store.pool().fetch_all(&sql, values).await,
            }
            .map_err(store_error)?;
            owners.extend(rows);
        }
        Ok(owners)
    }

    /// Writes a run: `reports[i]` under `ids[i]`, with its mismatches, in one transaction.
    pub async fn record_reconciliation(
        &self,
        run_id: &str,
        date: &str,
        provider: &str,
        reports: &[(String, MerchantReconciliation)],
        now_micros: i64,
    ) -> Result<(), StoreError> {
        let mut statements = Vec::new();
        for (id, report) in reports {
            statements.extend(report_statements(id, run_id, date, provider, report, now_micros));
        }
        match self {
            Database::Sqlite(store) => store.pool().execute_all(statements).await,
            Database::Postgres(store) => store.pool().execute_all(statements).await,
        }
        .map_err(store_error)
    }

    /// Stored reports matching `filter`, newest first.
    pub async fn reconciliations(
        &self,
        filter: &ReconciliationFilter<'_>,
    ) -> Result<Vec<ReconciliationRecord>, StoreError> {
        let mut conditions = vec!["1 = 1".to_owned()];
        let mut values = Vec::new();
        for (column, value) in [
            ("merchant_id", filter.merchant_id),
            ("reconciliation_date", filter.date),
            ("provider", filter.provider),
        ] {
            if let Some(value) = value {
                values.push(Value::text(value));
                conditions.push(format!("{column} = ${}", values.len()));
            }
        }
        values.push(Value::int(filter.limit));
        let sql = format!(
            "SELECT {RECONCILIATION_COLUMNS} FROM reconciliations WHERE {} \
             ORDER BY created_at DESC, id LIMIT ${}",
            conditions.join(" AND "),
            values.len()
        );
        match self {
            Database::Sqlite(store) => store.pool().fetch_all(&sql, values).await,
            Database::Postgres(store) => store.pool().fetch_all(&sql, values).await,
        }
        .map_err(store_error)
    }

    /// One report and its mismatches; `merchant_id` None reads any (the operator console).
    pub async fn reconciliation(
        &self,
        id: &str,
        merchant_id: Option<&str>,
    ) -> Result<Option<(ReconciliationRecord, Vec<ReconciliationItemRecord>)>, StoreError> {
        let (sql, values) = match merchant_id {
            Some(merchant) => (
                format!("SELECT {RECONCILIATION_COLUMNS} FROM reconciliations WHERE id = $1 AND merchant_id = $2"),
                vec![Value::text(id), Value::text(merchant)],
            ),
            None => (
                format!("SELECT {RECONCILIATION_COLUMNS} FROM reconciliations WHERE id = $1"),
                vec![Value::text(id)],
            ),
        };
        let found: Option<ReconciliationRecord> = match self {
            Database::Sqlite(store) => store.pool().fetch_optional(&sql, values).await,
            Database::Postgres(store) => store.pool().fetch_optional(&sql, values).await,
        }
        .map_err(store_error)?;
        let Some(report) = found else { return Ok(None) };
        let sql =
            format!("SELECT {ITEM_COLUMNS} FROM reconciliation_items WHERE reconciliation_id = $1 ORDER BY item_no");
        let values = vec![Value::text(id)];
        let items: Vec<ReconciliationItemRecord> = match self {
            Database::Sqlite(store) => store.pool().fetch_all(&sql, values).await,
            Database::Postgres(store) => store.pool().fetch_all(&sql, values).await,
        }
        .map_err(store_error)?;
        Ok(Some((report, items)))
    }
}

fn report_statements<'a>(
    id: &'a str,
    run_id: &'a str,
    date: &'a str,
    provider: &'a str,
    report: &'a MerchantReconciliation,
    now_micros: i64,
) -> Vec<(String, Vec<Value<'a>>)> {
    let mismatches = report.mismatches.len() as i64;
    let mut statements = vec![(
        format!(
            "INSERT INTO reconciliations ({RECONCILIATION_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ),
        vec![
            Value::text(id),
            Value::text(run_id),
            Value::text(date),
            Value::text(provider),
            Value::Text(report.merchant_id.as_deref().map(Into::into)),
            Value::int(report.payrail_count),
            Value::int(report.provider_count),
            Value::int(report.matched_count),
            Value::int(mismatches),
            Value::text(if mismatches == 0 { "matched" } else { "mismatched" }),
            Value::int(now_micros),
        ],
    )];
    for (chunk_no, chunk) in report.mismatches.chunks(ITEMS_PER_STATEMENT).enumerate() {
        let mut rows = Vec::new();
        let mut values = Vec::new();
        for (offset, item) in chunk.iter().enumerate() {
            let item_no = (chunk_no * ITEMS_PER_STATEMENT + offset + 1) as i64;
            let first = values.len() + 1;
            let placeholders: Vec<String> = (first..first + 13).map(|i| format!("${i}")).collect();
            rows.push(format!("({})", placeholders.join(", ")));
            let text = |value: Option<&'a str>| Value::Text(value.map(Into::into));
            values.extend([
                Value::text(id),
                Value::int(item_no),
                Value::text(item.kind.as_str()),
                Value::text(item.record_type.as_str()),
                Value::text(&item.reference),
                text(item.payment_id.as_deref()),
                text(item.refund_id.as_deref()),
                Value::Int(item.payrail.as_ref().map(|s| s.amount)),
                Value::Int(item.provider.as_ref().map(|s| s.amount)),
                text(item.payrail.as_ref().map(|s| s.currency.as_str())),
                text(item.provider.as_ref().map(|s| s.currency.as_str())),
                text(item.payrail.as_ref().map(|s| s.status.as_str())),
                text(item.provider.as_ref().map(|s| s.status.as_str())),
            ]);
        }
        statements.push((
            format!(
                "INSERT INTO reconciliation_items ({ITEM_COLUMNS}) VALUES {}",
                rows.join(", ")
            ),
            values,
        ));
    }
    statements
}
