//! Merchant events' tables (issue 11, migration 0005): webhook endpoints, the fan-out of committed
//! payment events into deliveries, delivery leases and attempts. Service-side queries outside the
//! core's `PaymentStore` port; `crate::events` is their only caller.
//!
//! Both backends take the same SQL (`$n` placeholders), so each query is written once and runs
//! through [`execute`], [`execute_all`] or [`fetch_all`], which match on [`Database`] and bind the
//! arguments ([`Arg`]) for that backend. The one statement that differs is the lease: PostgreSQL
//! skips rows another node is claiming (`FOR UPDATE SKIP LOCKED`); SQLite has one node.

use payrail_core::ports::StoreError;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::FromRow;

use crate::store::error::store_error;
use crate::store::Database;

/// A bound argument, typed the way both schemas store it.
#[derive(Clone, Debug)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(Some(value.to_owned()))
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(Some(value))
    }
}

impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Self {
        Arg::Text(value)
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::Int(Some(value))
    }
}

impl From<Option<i64>> for Arg {
    fn from(value: Option<i64>) -> Self {
        Arg::Int(value)
    }
}

/// One statement and its arguments.
pub struct Statement {
    pub sql: String,
    pub args: Vec<Arg>,
}

/// Rows per multi-row `INSERT`: few enough placeholders for either backend.
const ROWS_PER_INSERT: usize = 100;

/// `INSERT INTO {table} ({columns}) VALUES (…), (…) {suffix}` for `rows`, in chunks.
fn insert_rows(table: &str, columns: &str, suffix: &str, rows: Vec<Vec<Arg>>) -> Vec<Statement> {
    let mut statements = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Arg>> = rows.by_ref().take(ROWS_PER_INSERT).collect();
        let mut values = Vec::new();
        let mut args = Vec::new();
        for row in chunk {
            let first = args.len() + 1;
            let placeholders: Vec<String> = (first..first + row.len()).map(|n| format!("${n}")).collect();
            values.push(format!("({})", placeholders.join(", ")));
            args.extend(row);
        }
        statements.push(Statement {
            sql: format!("INSERT INTO {table} ({columns}) VALUES {} {suffix}", values.join(", ")),
            args,
        });
    }
    statements
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_sqlite<'q>(mut query: SqliteQuery<'q>, args: &[Arg]) -> SqliteQuery<'q> {
    for arg in args {
        query = match arg {
            Arg::Text(v) => query.bind(v.clone()),
            Arg::Int(v) => query.bind(*v),
        };
    }
    query
}

fn bind_pg<'q>(mut query: PgQuery<'q>, args: &[Arg]) -> PgQuery<'q> {
    for arg in args {
        query = match arg {
            Arg::Text(v) => query.bind(v.clone()),
            Arg::Int(v) => query.bind(*v),
        };
    }
    query
}

/// Runs one statement; returns the rows it affected.
pub async fn execute(db: &Database, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
    match db {
        Database::Sqlite(store) => bind_sqlite(sqlx::query(sql), args)
            .execute(store.pool())
            .await
            .map(|r| r.rows_affected()),
        Database::Postgres(store) => bind_pg(sqlx::query(sql), args)
            .execute(store.pool())
            .await
            .map(|r| r.rows_affected()),
    }
    .map_err(store_error)
}

/// Runs the statements in one transaction: all of them or none.
pub async fn execute_all(db: &Database, statements: &[Statement]) -> Result<(), StoreError> {
    match db {
        Database::Sqlite(store) => {
            let mut tx = store.pool().begin().await.map_err(store_error)?;
            for s in statements {
                bind_sqlite(sqlx::query(&s.sql), &s.args)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
            }
            tx.commit().await.map_err(store_error)
        }
        Database::Postgres(store) => {
            let mut tx = store.pool().begin().await.map_err(store_error)?;
            for s in statements {
                bind_pg(sqlx::query(&s.sql), &s.args)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
            }
            tx.commit().await.map_err(store_error)
        }
    }
}

/// Runs a query and maps its rows.
pub async fn fetch_all<T>(db: &Database, sql: &str, args: &[Arg]) -> Result<Vec<T>, StoreError>
where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let rows = match db {
        Database::Sqlite(store) => {
            let mut query = sqlx::query_as::<_, T>(sql);
            for arg in args {
                query = match arg {
                    Arg::Text(v) => query.bind(v.clone()),
                    Arg::Int(v) => query.bind(*v),
                };
            }
            query.fetch_all(store.pool()).await
        }
        Database::Postgres(store) => {
            let mut query = sqlx::query_as::<_, T>(sql);
            for arg in args {
                query = match arg {
                    Arg::Text(v) => query.bind(v.clone()),
                    Arg::Int(v) => query.bind(*v),
                };
            }
            query.fetch_all(store.pool()).await
        }
    };
    rows.map_err(store_error)
}

/// The endpoint columns, in the order [`EndpointRow`] reads them.
pub const ENDPOINT_COLUMNS: &str = "id, merchant_id, url, description, enabled_events, status, secret_sealed, \
     secret_key_id, secret_prefix, previous_secret_sealed, previous_secret_key_id, previous_secret_expires_at, \
     failing_since, created_at, updated_at";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: String,
    pub merchant_id: String,
    pub url: String,
    pub description: Option<String>,
    pub enabled_events: String,
    pub status: String,
    pub secret_sealed: String,
    pub secret_key_id: String,
    pub secret_prefix: String,
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_key_id: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const INSERT_ENDPOINT_SQL: &str = "INSERT INTO webhook_endpoints (id, merchant_id, url, description, \
     enabled_events, status, secret_sealed, secret_key_id, secret_prefix, previous_secret_sealed, \
     previous_secret_key_id, previous_secret_expires_at, failing_since, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

pub async fn insert_endpoint(db: &Database, row: &EndpointRow) -> Result<(), StoreError> {
    let args = [
        Arg::from(row.id.clone()),
        row.merchant_id.clone().into(),
        row.url.clone().into(),
        row.description.clone().into(),
        row.enabled_events.clone().into(),
        row.status.clone().into(),
        row.secret_sealed.clone().into(),
        row.secret_key_id.clone().into(),
        row.secret_prefix.clone().into(),
        row.previous_secret_sealed.clone().into(),
        row.previous_secret_key_id.clone().into(),
        row.previous_secret_expires_at.into(),
        row.failing_since.into(),
        row.created_at.into(),
        row.updated_at.into(),
    ];
    execute(db, INSERT_ENDPOINT_SQL, &args).await.map(|_| ())
}

/// Writes every field a merchant or the dispatcher can change, by id and merchant.
pub async fn update_endpoint(db: &Database, row: &EndpointRow) -> Result<bool, StoreError> {
    let sql = "UPDATE webhook_endpoints SET url = $3, description = $4, enabled_events = $5, status = $6, \
               secret_sealed = $7, secret_key_id = $8, secret_prefix = $9, previous_secret_sealed = $10, \
               previous_secret_key_id = $11, previous_secret_expires_at = $12, failing_since = $13, \
               updated_at = $14 WHERE id = $1 AND merchant_id = $2";
    let args = [
        Arg::from(row.id.clone()),
        row.merchant_id.clone().into(),
        row.url.clone().into(),
        row.description.clone().into(),
        row.enabled_events.clone().into(),
        row.status.clone().into(),
        row.secret_sealed.clone().into(),
        row.secret_key_id.clone().into(),
        row.secret_prefix.clone().into(),
        row.previous_secret_sealed.clone().into(),
        row.previous_secret_key_id.clone().into(),
        row.previous_secret_expires_at.into(),
        row.failing_since.into(),
        row.updated_at.into(),
    ];
    execute(db, sql, &args).await.map(|n| n == 1)
}

pub async fn find_endpoint(db: &Database, merchant: &str, id: &str) -> Result<Option<EndpointRow>, StoreError> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2");
    let rows = fetch_all(db, &sql, &[id.into(), merchant.into()]).await?;
    Ok(rows.into_iter().next())
}

pub async fn list_endpoints(db: &Database, merchant: &str) -> Result<Vec<EndpointRow>, StoreError> {
    let sql =
        format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE merchant_id = $1 ORDER BY created_at, id");
    fetch_all(db, &sql, &[merchant.into()]).await
}

/// Every endpoint with pending deliveries due by `now`, enabled or not (the dispatcher skips the
/// disabled ones but still needs their rows).
pub async fn endpoints_with_due_deliveries(db: &Database, now: i64) -> Result<Vec<EndpointRow>, StoreError> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints w WHERE w.status = 'enabled' AND EXISTS (\
         SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.status = 'pending' \
         AND d.next_attempt_at <= $1 AND d.leased_until <= $1)"
    );
    fetch_all(db, &sql, &[now.into()]).await
}

/// Deletes an endpoint and its deliveries (their attempts stay as history).
pub async fn delete_endpoint(db: &Database, merchant: &str, id: &str) -> Result<bool, StoreError> {
    let found = find_endpoint(db, merchant, id).await?.is_some();
    if found {
        execute_all(
            db,
            &[
                Statement {
                    sql: "DELETE FROM webhook_deliveries WHERE endpoint_id = $1".into(),
                    args: vec![id.into()],
                },
                Statement {
                    sql: "DELETE FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2".into(),
                    args: vec![id.into(), merchant.into()],
                },
            ],
        )
        .await?;
    }
    Ok(found)
}

/// A committed payment event, as the fan-out and the events API read it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: String,
    pub payment_id: String,
    pub merchant_id: String,
    pub sequence: i64,
    pub kind: String,
    pub to_status: String,
    pub amount: Option<i64>,
    pub refund_id: Option<String>,
    pub created_at: i64,
    /// The body rendered at fan-out, if the event was fanned out.
    pub payload: Option<String>,
}

const OUTBOX_COLUMNS: &str = "e.id, e.payment_id, e.merchant_id, e.sequence, e.kind, e.to_status, e.amount, \
     e.refund_id, e.created_at, m.payload";

/// Events at or after `since` of merchants with an endpoint that were not fanned out yet, oldest
/// first.
pub async fn events_to_fan_out(db: &Database, since: i64, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
    let sql = format!(
        "SELECT {OUTBOX_COLUMNS} FROM payment_events e LEFT JOIN merchant_events m ON m.event_id = e.id \
         WHERE e.created_at >= $1 AND m.event_id IS NULL \
         AND e.merchant_id IN (SELECT merchant_id FROM webhook_endpoints) \
         ORDER BY e.created_at, e.id LIMIT $2"
    );
    fetch_all(db, &sql, &[since.into(), limit.into()]).await
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
        "SELECT {OUTBOX_COLUMNS} FROM payment_events e LEFT JOIN merchant_events m ON m.event_id = e.id \
         WHERE e.merchant_id = $1 AND e.created_at >= $2 \
         AND (e.created_at < $3 OR (e.created_at = $3 AND e.id < $4)) \
         AND ($5 IS NULL OR e.kind = $5) AND ($6 IS NULL OR e.payment_id = $6) \
         ORDER BY e.created_at DESC, e.id DESC LIMIT $7"
    );
    let args = [
        merchant.into(),
        since.into(),
        before.0.into(),
        before.1.into(),
        kind.into(),
        payment_id.into(),
        limit.into(),
    ];
    fetch_all(db, &sql, &args).await
}

pub async fn find_event(db: &Database, merchant: &str, id: &str) -> Result<Option<OutboxRow>, StoreError> {
    let sql = format!(
        "SELECT {OUTBOX_COLUMNS} FROM payment_events e LEFT JOIN merchant_events m ON m.event_id = e.id \
         WHERE e.id = $1 AND e.merchant_id = $2"
    );
    Ok(fetch_all(db, &sql, &[id.into(), merchant.into()])
        .await?
        .into_iter()
        .next())
}

const DELIVERY_COLUMNS: &str = "id, event_id, endpoint_id, merchant_id, payment_id, sequence, status, attempts, \
     failures, next_attempt_at, leased_until, created_at, updated_at";

/// A pending delivery of `event` to `endpoint_id`, due now.
fn delivery_row(id: String, event: &OutboxRow, endpoint_id: &str, now: i64) -> Vec<Arg> {
    vec![
        id.into(),
        event.id.clone().into(),
        endpoint_id.into(),
        event.merchant_id.clone().into(),
        event.payment_id.clone().into(),
        event.sequence.into(),
        "pending".into(),
        0.into(),
        0.into(),
        now.into(),
        0.into(),
        now.into(),
        now.into(),
    ]
}

/// Delivery rows `(id, event, endpoint id)` to insert, each unless its (event, endpoint) pair
/// has one already.
pub fn insert_deliveries(rows: Vec<(String, &OutboxRow, String)>, now: i64) -> Vec<Statement> {
    let rows = rows
        .into_iter()
        .map(|(id, event, endpoint)| delivery_row(id, event, &endpoint, now))
        .collect();
    insert_rows(
        "webhook_deliveries",
        DELIVERY_COLUMNS,
        "ON CONFLICT (event_id, endpoint_id) DO NOTHING",
        rows,
    )
}

/// The fan-out markers of events, each with its body when a delivery needs it (a body written
/// once is kept: every delivery of an event sends the same bytes).
pub fn insert_markers(rows: Vec<(&OutboxRow, Option<String>)>, now: i64) -> Vec<Statement> {
    let rows = rows
        .into_iter()
        .map(|(event, payload)| {
            vec![
                event.id.clone().into(),
                event.merchant_id.clone().into(),
                payload.into(),
                now.into(),
            ]
        })
        .collect();
    insert_rows(
        "merchant_events",
        "event_id, merchant_id, payload, fanned_out_at",
        "ON CONFLICT (event_id) DO UPDATE SET payload = COALESCE(merchant_events.payload, excluded.payload)",
        rows,
    )
}

/// Asks for (re)delivery of an event to an endpoint now: a new row, or the existing one made
/// pending again with a fresh retry schedule.
pub fn redeliver(id: String, event: &OutboxRow, endpoint_id: &str, now: i64) -> Statement {
    let rows = vec![delivery_row(id, event, endpoint_id, now)];
    let suffix = "ON CONFLICT (event_id, endpoint_id) DO UPDATE SET status = 'pending', failures = 0, \
                  next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at";
    let mut statements = insert_rows("webhook_deliveries", DELIVERY_COLUMNS, suffix, rows);
    statements.remove(0)
}

pub async fn cursor(db: &Database) -> Result<Option<i64>, StoreError> {
    let rows: Vec<(i64,)> = fetch_all(
        db,
        "SELECT position FROM merchant_event_cursor WHERE name = 'fan_out'",
        &[],
    )
    .await?;
    Ok(rows.into_iter().next().map(|(p,)| p))
}

/// Moves the cursor forward (never back, whichever node writes last).
pub async fn advance_cursor(db: &Database, position: i64) -> Result<(), StoreError> {
    let sql = "INSERT INTO merchant_event_cursor (name, position) VALUES ('fan_out', $1) \
               ON CONFLICT (name) DO UPDATE SET position = excluded.position \
               WHERE merchant_event_cursor.position < excluded.position";
    execute(db, sql, &[position.into()]).await.map(|_| ())
}

/// A delivery leased for one attempt, with its event's body.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LeasedDelivery {
    pub id: String,
    pub event_id: String,
    pub payment_id: String,
    pub attempts: i64,
    pub failures: i64,
}

/// The lease: up to `limit` due deliveries of the endpoint, each the oldest pending event of its
/// payment for that endpoint (earlier ones are delivered or failed), leased until `until`.
const LEASE_SQL: &str = "UPDATE webhook_deliveries SET leased_until = $1 WHERE id IN (\
     SELECT d.id FROM webhook_deliveries d WHERE d.endpoint_id = $2 AND d.status = 'pending' \
     AND d.next_attempt_at <= $3 AND d.leased_until <= $3 \
     AND d.sequence = (SELECT MIN(e.sequence) FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id \
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
    let args = [until.into(), endpoint_id.into(), now.into(), limit.into()];
    let sql = match db {
        // Another node may be leasing the same rows: it skips those this statement has locked.
        Database::Postgres(_) => LEASE_SQL.replace("{LOCK}", "FOR UPDATE SKIP LOCKED"),
        Database::Sqlite(_) => LEASE_SQL.replace("{LOCK}", ""),
    };
    fetch_all(db, &sql, &args).await
}

/// One attempt's outcome: the attempt row, and the delivery's new state.
pub struct AttemptRecord {
    pub attempt_id: String,
    pub delivery_id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// `delivered`, `pending` (retry at `next_attempt_at`) or `failed`.
    pub status: &'static str,
    pub failures: i64,
    pub next_attempt_at: Option<i64>,
    pub at: i64,
}

/// Records attempts' outcomes in one transaction: their attempt rows, and each delivery's new
/// state with its lease given back.
pub async fn record_attempts(db: &Database, records: &[AttemptRecord]) -> Result<(), StoreError> {
    let rows = records
        .iter()
        .map(|r| {
            vec![
                r.attempt_id.clone().into(),
                r.delivery_id.clone().into(),
                r.endpoint_id.clone().into(),
                r.event_id.clone().into(),
                r.attempt.into(),
                r.status_code.into(),
                r.latency_ms.into(),
                r.error.clone().into(),
                r.next_attempt_at.into(),
                r.at.into(),
            ]
        })
        .collect();
    let mut statements = insert_rows(
        "webhook_delivery_attempts",
        "id, delivery_id, endpoint_id, event_id, attempt, status_code, latency_ms, error, next_attempt_at, attempted_at",
        "",
        rows,
    );
    for r in records {
        statements.push(Statement {
            sql: "UPDATE webhook_deliveries SET status = $2, attempts = $3, failures = $4, \
                  next_attempt_at = COALESCE($5, next_attempt_at), leased_until = 0, updated_at = $6 WHERE id = $1"
                .into(),
            args: vec![
                r.delivery_id.clone().into(),
                r.status.into(),
                r.attempt.into(),
                r.failures.into(),
                r.next_attempt_at.into(),
                r.at.into(),
            ],
        });
    }
    execute_all(db, &statements).await
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
    let args: Vec<Arg> = event_ids.iter().map(|id| Arg::from(id.clone())).collect();
    fetch_all(db, &sql, &args).await
}

/// Puts leased deliveries back without an attempt (the endpoint's breaker opened meanwhile).
pub async fn release(db: &Database, delivery_id: &str, next_attempt_at: i64) -> Result<(), StoreError> {
    let sql = "UPDATE webhook_deliveries SET leased_until = 0, next_attempt_at = $2 WHERE id = $1";
    execute(db, sql, &[delivery_id.into(), next_attempt_at.into()])
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
    execute(db, sql, &[id.into(), failing_since.into(), i64::from(disable).into()]).await
}

pub async fn pending_deliveries(db: &Database) -> Result<i64, StoreError> {
    let rows: Vec<(i64,)> = fetch_all(
        db,
        "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'",
        &[],
    )
    .await?;
    Ok(rows.into_iter().next().map_or(0, |(n,)| n))
}

/// An attempt as the deliveries listing shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AttemptRow {
    pub id: String,
    pub event_id: String,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub attempted_at: i64,
}

pub async fn list_attempts(db: &Database, endpoint_id: &str, limit: i64) -> Result<Vec<AttemptRow>, StoreError> {
    let sql = "SELECT id, event_id, attempt, status_code, latency_ms, error, next_attempt_at, attempted_at \
               FROM webhook_delivery_attempts WHERE endpoint_id = $1 ORDER BY attempted_at DESC, id DESC LIMIT $2";
    fetch_all(db, sql, &[endpoint_id.into(), limit.into()]).await
}

/// Deliveries by status for an endpoint (tests and the listing's summary).
pub async fn delivery_counts(db: &Database, endpoint_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
    let sql = "SELECT status, COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1 GROUP BY status ORDER BY status";
    fetch_all(db, sql, &[endpoint_id.into()]).await
}
