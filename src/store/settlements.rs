//! Settlement reports in the database (issue 17, migration 0008): the day's money events read
//! from `payment_events` (joined to their payment for its provider, currency and reference, which
//! do not change once money has moved; a refund's `refund.updated` event counts as a reversal when
//! it is the last one of a refund now failed or canceled — states a refund never leaves, so the
//! answer cannot change later), the latest revision of each report, writing a run's new
//! revisions (each report `open`, its lines, then `closed`, all in one transaction; triggers keep
//! a closed one as it is), reading them back for the API and the console, and the job lease.

use std::collections::HashMap;

use payrail_core::ports::StoreError;

use crate::settlements::report::{LineKind, MoneyEvent, Report, ReportKey};
use crate::store::backend::Backend;
use crate::store::columns::Value;
use crate::store::error::store_error;
use crate::store::Database;

const MONEY_EVENTS_SQL: &str = "SELECT e.id AS event_id, e.payment_id, e.refund_id, e.merchant_id, p.provider, \
     p.currency, e.kind, e.amount, COALESCE(r.provider_reference, p.provider_reference) AS provider_reference, \
     e.created_at \
     FROM payment_events e JOIN payments p ON p.id = e.payment_id LEFT JOIN refunds r ON r.id = e.refund_id \
     WHERE e.created_at >= $1 AND e.created_at < $2 \
     AND e.amount > 0 AND (e.kind IN ('payment.succeeded', 'payment.captured', 'payment.refunded') \
     OR (e.kind = 'refund.updated' AND r.status IN ('failed', 'canceled') AND e.sequence = \
     (SELECT MAX(x.sequence) FROM payment_events x WHERE x.payment_id = e.payment_id \
     AND x.refund_id = e.refund_id AND x.kind = 'refund.updated'))) \
     ORDER BY e.created_at, e.id";

const LATEST_SQL: &str = "SELECT provider, currency, merchant_id, revision, digest FROM settlements s \
     WHERE settlement_date = $1 AND status = 'closed' AND revision = (SELECT MAX(revision) FROM settlements l \
     WHERE l.settlement_date = s.settlement_date AND l.provider = s.provider AND l.currency = s.currency \
     AND l.merchant_id = s.merchant_id)";

const SETTLEMENT_COLUMNS: &str = "id, batch_id, settlement_date, provider, currency, merchant_id, revision, \
     captured_amount, captured_count, refunded_amount, refunded_count, fees, net_amount, digest, status, created_at";

const LINE_COLUMNS: &str = "settlement_id, line_no, event_id, kind, payment_id, refund_id, amount, currency, \
     provider_reference, occurred_at";

/// Lines per `INSERT`: 10 parameters a row, well inside both databases' limits.
const LINES_PER_STATEMENT: usize = 200;

#[derive(sqlx::FromRow)]
struct MoneyEventRow {
    event_id: String,
    payment_id: String,
    refund_id: Option<String>,
    merchant_id: String,
    provider: String,
    currency: String,
    kind: String,
    amount: Option<i64>,
    provider_reference: Option<String>,
    created_at: i64,
}

/// A stored report (one revision).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SettlementRecord {
    pub id: String,
    pub batch_id: String,
    pub settlement_date: String,
    pub provider: String,
    pub currency: String,
    pub merchant_id: String,
    pub revision: i64,
    pub captured_amount: i64,
    pub captured_count: i64,
    pub refunded_amount: i64,
    pub refunded_count: i64,
    pub fees: Option<i64>,
    pub net_amount: i64,
    pub digest: String,
    pub status: String,
    pub created_at: i64,
}

/// One stored line of a report.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SettlementLineRecord {
    pub settlement_id: String,
    pub line_no: i64,
    pub event_id: String,
    pub kind: String,
    pub payment_id: String,
    pub refund_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub provider_reference: Option<String>,
    pub occurred_at: i64,
}

/// A report to write as `revision` of its key, under `id`.
pub struct NewRevision<'a> {
    pub id: String,
    pub revision: i64,
    pub report: &'a Report,
}

/// Which reports to list: `merchant` None lists every merchant's (the operator console).
#[derive(Default)]
pub struct SettlementFilter<'a> {
    pub merchant_id: Option<&'a str>,
    pub date: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub limit: i64,
}

impl Database {
    /// Every event committed in `[from, to)` (microseconds) that moved money, oldest first.
    pub async fn money_events(&self, from_micros: i64, to_micros: i64) -> Result<Vec<MoneyEvent>, StoreError> {
        let values = vec![Value::int(from_micros), Value::int(to_micros)];
        let rows: Vec<MoneyEventRow> = match self {
            Database::Sqlite(store) => store.pool().fetch_all(MONEY_EVENTS_SQL, values).await,
            Database::Postgres(store) => store.pool().fetch_all(MONEY_EVENTS_SQL, values).await,
        }
        .map_err(store_error)?;
        Ok(rows.into_iter().filter_map(MoneyEventRow::into_event).collect())
    }

    /// The newest closed revision of each report of `date`, with its digest.
    pub async fn latest_settlements(&self, date: &str) -> Result<HashMap<ReportKey, (i64, String)>, StoreError> {
        let values = vec![Value::text(date)];
        let rows: Vec<(String, String, String, i64, String)> = match self {
            Database::Sqlite(store) => store.pool().fetch_all(LATEST_SQL, values).await,
            Database::Postgres(store) => store.pool().fetch_all(LATEST_SQL, values).await,
        }
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|(provider, currency, merchant_id, revision, digest)| {
                (
                    ReportKey {
                        provider,
                        currency,
                        merchant_id,
                    },
                    (revision, digest),
                )
            })
            .collect())
    }

    /// Writes `revisions` of `date`'s reports as batch `batch_id`, closed, in one transaction. A
    /// concurrent run that wrote the same revision first makes this a `Conflict` (nothing written).
    pub async fn record_settlements(
        &self,
        batch_id: &str,
        date: &str,
        revisions: &[NewRevision<'_>],
        now_micros: i64,
    ) -> Result<(), StoreError> {
        let mut statements = Vec::new();
        for revision in revisions {
            statements.extend(revision_statements(batch_id, date, revision, now_micros));
        }
        match self {
            Database::Sqlite(store) => store.pool().execute_all(statements).await,
            Database::Postgres(store) => store.pool().execute_all(statements).await,
        }
        .map_err(store_error)
    }

    /// Stored reports matching `filter`, newest day first, then provider, currency, merchant and
    /// newest revision first.
    pub async fn settlements(&self, filter: &SettlementFilter<'_>) -> Result<Vec<SettlementRecord>, StoreError> {
        let mut conditions = vec!["status = 'closed'".to_owned()];
        let mut values = Vec::new();
        for (column, value) in [
            ("merchant_id", filter.merchant_id),
            ("settlement_date", filter.date),
            ("provider", filter.provider),
        ] {
            if let Some(value) = value {
                values.push(Value::text(value));
                conditions.push(format!("{column} = ${}", values.len()));
            }
        }
        values.push(Value::int(filter.limit));
        let sql = format!(
            "SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE {} \
             ORDER BY settlement_date DESC, provider, currency, merchant_id, revision DESC LIMIT ${}",
            conditions.join(" AND "),
            values.len()
        );
        match self {
            Database::Sqlite(store) => store.pool().fetch_all(&sql, values).await,
            Database::Postgres(store) => store.pool().fetch_all(&sql, values).await,
        }
        .map_err(store_error)
    }

    /// One report by id; `merchant_id` None reads any merchant's (the operator console).
    pub async fn settlement(
        &self,
        id: &str,
        merchant_id: Option<&str>,
    ) -> Result<Option<(SettlementRecord, Vec<SettlementLineRecord>)>, StoreError> {
        let sql = format!(
            "SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE id = $1 AND status = 'closed' \
             AND ($2 = '' OR merchant_id = $2)"
        );
        let values = vec![Value::text(id), Value::text(merchant_id.unwrap_or(""))];
        let found: Option<SettlementRecord> = match self {
            Database::Sqlite(store) => store.pool().fetch_optional(&sql, values).await,
            Database::Postgres(store) => store.pool().fetch_optional(&sql, values).await,
        }
        .map_err(store_error)?;
        let Some(settlement) = found else { return Ok(None) };
        let sql = format!("SELECT {LINE_COLUMNS} FROM settlement_lines WHERE settlement_id = $1 ORDER BY line_no");
        let values = vec![Value::text(id)];
        let lines: Vec<SettlementLineRecord> = match self {
            Database::Sqlite(store) => store.pool().fetch_all(&sql, values).await,
            Database::Postgres(store) => store.pool().fetch_all(&sql, values).await,
        }
        .map_err(store_error)?;
        Ok(Some((settlement, lines)))
    }
}

impl MoneyEventRow {
    /// `None` for an event that moved no money (filtered in SQL already; kept defensive).
    fn into_event(self) -> Option<MoneyEvent> {
        let kind = match self.kind.as_str() {
            "payment.succeeded" | "payment.captured" => LineKind::Capture,
            "payment.refunded" => LineKind::Refund,
            "refund.updated" => LineKind::RefundReversal,
            _ => return None,
        };
        Some(MoneyEvent {
            event_id: self.event_id,
            payment_id: self.payment_id,
            refund_id: self.refund_id,
            merchant_id: self.merchant_id,
            provider: self.provider,
            currency: self.currency,
            kind,
            amount: self.amount.filter(|a| *a > 0)?,
            provider_reference: self.provider_reference,
            occurred_at_micros: self.created_at,
        })
    }
}

/// The statements that write one revision: the report open, its lines, then closed.
fn revision_statements<'a>(
    batch_id: &'a str,
    date: &'a str,
    revision: &'a NewRevision<'a>,
    now_micros: i64,
) -> Vec<(String, Vec<Value<'a>>)> {
    let report = revision.report;
    let figures = &report.figures;
    let mut statements = vec![(
        format!(
            "INSERT INTO settlements ({SETTLEMENT_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'open', $15)"
        ),
        vec![
            Value::text(&revision.id),
            Value::text(batch_id),
            Value::text(date),
            Value::text(&report.key.provider),
            Value::text(&report.key.currency),
            Value::text(&report.key.merchant_id),
            Value::int(revision.revision),
            Value::int(figures.captured_amount),
            Value::int(figures.captured_count),
            Value::int(figures.refunded_amount),
            Value::int(figures.refunded_count),
            Value::Int(figures.fees),
            Value::int(figures.net_amount),
            Value::text(&report.digest),
            Value::int(now_micros),
        ],
    )];
    for (chunk_no, chunk) in report.lines.chunks(LINES_PER_STATEMENT).enumerate() {
        let mut rows = Vec::new();
        let mut values = Vec::new();
        for (offset, line) in chunk.iter().enumerate() {
            let line_no = (chunk_no * LINES_PER_STATEMENT + offset + 1) as i64;
            let first = values.len() + 1;
            let placeholders: Vec<String> = (first..first + 10).map(|i| format!("${i}")).collect();
            rows.push(format!("({})", placeholders.join(", ")));
            values.extend([
                Value::text(&revision.id),
                Value::int(line_no),
                Value::text(&line.event_id),
                Value::text(line.kind.as_str()),
                Value::text(&line.payment_id),
                Value::Text(line.refund_id.as_deref().map(Into::into)),
                Value::int(line.amount),
                Value::text(&line.currency),
                Value::Text(line.provider_reference.as_deref().map(Into::into)),
                Value::int(line.occurred_at_micros),
            ]);
        }
        statements.push((
            format!(
                "INSERT INTO settlement_lines ({LINE_COLUMNS}) VALUES {}",
                rows.join(", ")
            ),
            values,
        ));
    }
    statements.push((
        "UPDATE settlements SET status = 'closed' WHERE id = $1".to_owned(),
        vec![Value::text(&revision.id)],
    ));
    statements
}
