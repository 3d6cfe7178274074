//! Running merchant events' statements on whichever database is open, through its [`Backend`]
//! (which binds the values): one query or update now, or statements built now and run later in
//! one transaction — the fan-out writes its deliveries and markers together, a redelivery its
//! delivery and marker, an endpoint's deletion its deliveries and itself. Multi-row inserts take
//! their column list from `columns.rs`.

use payrail_core::ports::StoreError;

use crate::store::backend::{Backend, Row};
use crate::store::columns::{names, placeholders, values, Column, Value};
use crate::store::error::store_error;
use crate::store::Database;

/// One statement and its values.
pub struct Statement {
    pub(crate) sql: String,
    pub(crate) values: Vec<Value<'static>>,
}

/// Rows per multi-row `INSERT`: few enough placeholders for either backend.
const ROWS_PER_INSERT: usize = 100;

/// `INSERT INTO {table} ({columns}) VALUES (…), (…) {suffix}` for `rows`, in chunks.
pub(crate) fn insert_rows<T>(table: &str, columns: &[Column<T>], suffix: &str, rows: &[T]) -> Vec<Statement> {
    rows.chunks(ROWS_PER_INSERT)
        .map(|chunk| {
            let mut tuples = Vec::with_capacity(chunk.len());
            let mut bound = Vec::with_capacity(chunk.len() * columns.len());
            for row in chunk {
                tuples.push(format!("({})", placeholders(columns, bound.len() + 1)));
                bound.extend(values(columns, row).into_iter().map(Value::into_owned));
            }
            Statement {
                sql: format!(
                    "INSERT INTO {table} ({}) VALUES {} {suffix}",
                    names(columns),
                    tuples.join(", ")
                ),
                values: bound,
            }
        })
        .collect()
}

/// Runs the statements in one transaction: all of them or none.
pub async fn execute_all(db: &Database, statements: Vec<Statement>) -> Result<(), StoreError> {
    let statements: Vec<(String, Vec<Value<'static>>)> = statements.into_iter().map(|s| (s.sql, s.values)).collect();
    match db {
        Database::Sqlite(store) => store.pool().execute_all(statements).await,
        Database::Postgres(store) => store.pool().execute_all(statements).await,
    }
    .map_err(store_error)
}

/// Runs a query and reads its rows.
pub(crate) async fn fetch_all<R: Row>(db: &Database, sql: &str, bound: Vec<Value<'_>>) -> Result<Vec<R>, StoreError> {
    match db {
        Database::Sqlite(store) => store.pool().fetch_all(sql, bound).await,
        Database::Postgres(store) => store.pool().fetch_all(sql, bound).await,
    }
    .map_err(store_error)
}

/// Runs a query and reads its one row, if any.
pub(crate) async fn fetch_optional<R: Row>(
    db: &Database,
    sql: &str,
    bound: Vec<Value<'_>>,
) -> Result<Option<R>, StoreError> {
    match db {
        Database::Sqlite(store) => store.pool().fetch_optional(sql, bound).await,
        Database::Postgres(store) => store.pool().fetch_optional(sql, bound).await,
    }
    .map_err(store_error)
}

/// Runs one statement; the rows it changed.
pub(crate) async fn execute(db: &Database, sql: &str, bound: Vec<Value<'_>>) -> Result<u64, StoreError> {
    match db {
        Database::Sqlite(store) => store.pool().execute(sql, bound).await,
        Database::Postgres(store) => store.pool().execute(sql, bound).await,
    }
    .map_err(store_error)
}
