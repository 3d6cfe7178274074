//! What the shared store code needs from a database, as a small trait with two impls (SQLite in
//! `sqlite/`, PostgreSQL in `postgres/`): run one statement with its values, write one batch of
//! the group-commit writer, append to the audit chain. Everything else — reads, idempotency,
//! the webhook inbox, the reconciler's scan, contacts — is written once over [`Backend`].
//!
//! [`Store`] is the store proper: a read pool, a write pool and the group-commit writer in front
//! of it; [`SqliteStore`] and [`PostgresStore`] name its two instances.

use std::future::Future;
use std::sync::Arc;

use payrail_core::audit::NewAuditEntry;
use payrail_core::ports::StoreError;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Pool, Postgres, Sqlite};

use crate::store::columns::Value;
use crate::store::error::store_error;
use crate::store::group_commit::{GroupCommit, GroupCommitSettings};
use crate::store::writes::{Applied, StoreWrite};

/// A row type both backends can decode.
pub(crate) trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

/// One database's connection pool, as the store uses it.
pub(crate) trait Backend: Clone + Send + Sync + 'static {
    /// The group-commit writer runs on a thread of its own (`GroupCommit::start_on_own_thread`),
    /// and the audit chain is appended on the writer's pool, not the read pool: SQLite, whose one
    /// writer connection runs a batch as many short statements and is the only connection that
    /// writes on the hot path (so nothing waits on the file lock in SQLite's busy handler).
    const OWN_WRITER_THREAD: bool;

    fn fetch_all<'q, R: Row>(
        &'q self,
        sql: &'q str,
        values: Vec<Value<'q>>,
    ) -> impl Future<Output = Result<Vec<R>, sqlx::Error>> + Send;

    fn fetch_optional<'q, R: Row>(
        &'q self,
        sql: &'q str,
        values: Vec<Value<'q>>,
    ) -> impl Future<Output = Result<Option<R>, sqlx::Error>> + Send;

    /// Runs a statement; the number of rows it changed.
    fn execute<'q>(
        &'q self,
        sql: &'q str,
        values: Vec<Value<'q>>,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// Runs `statements` in order in one transaction: all of them, or none (settlement reports).
    fn execute_all<'q>(
        &'q self,
        statements: Vec<(String, Vec<Value<'q>>)>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Consecutive runs of a batch that [`Backend::write`] writes together, in order.
    fn parts(batch: &[StoreWrite]) -> Vec<&[StoreWrite]>;

    /// Writes one part of a batch atomically; per write, what it did (`writes.rs`).
    fn write<'b>(&'b self, part: &'b [StoreWrite]) -> impl Future<Output = Result<Vec<Applied>, sqlx::Error>> + Send;

    /// Links `entries` after the chain's head and inserts them, in one transaction (`audit.rs`).
    fn append_audit<'b>(&'b self, entries: &'b [NewAuditEntry])
        -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// A store over one database: reads on `pool`, commits through the group-commit writer on
/// `write_pool`'s connections (the same pool on SQLite).
pub struct Store<DB: sqlx::Database> {
    pool: Pool<DB>,
    write_pool: Pool<DB>,
    /// Every transition, idempotency claim and completion goes through here (`writes.rs`).
    pub(crate) writer: Arc<GroupCommit<StoreWrite, Applied>>,
}

/// SQLite in WAL mode with `synchronous = FULL`: a commit is on disk before anyone hears "done".
pub type SqliteStore = Store<Sqlite>;

/// PostgreSQL, the production store; several payrail nodes may share one database.
pub type PostgresStore = Store<Postgres>;

impl<DB: sqlx::Database> Clone for Store<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            write_pool: self.write_pool.clone(),
            writer: Arc::clone(&self.writer),
        }
    }
}

/// A store reading through `pool` whose commits go through a group-commit writer with
/// `settings`, on `write_pool`'s connections; must be called inside a Tokio runtime.
pub(crate) fn start<DB: sqlx::Database>(
    pool: Pool<DB>,
    write_pool: Pool<DB>,
    settings: GroupCommitSettings,
) -> Store<DB>
where
    Pool<DB>: Backend,
{
    let batch_pool = write_pool.clone();
    let write_batch = move |batch| {
        let pool = batch_pool.clone();
        async move { commit_batch(&pool, batch).await }
    };
    let writer = match Pool::<DB>::OWN_WRITER_THREAD {
        // A thread cannot be had (resource limits): the shared runtime still commits, slower.
        true => GroupCommit::start_on_own_thread("payrail-writer", settings, write_batch.clone())
            .unwrap_or_else(|_| GroupCommit::start(settings, write_batch)),
        false => GroupCommit::start(settings, write_batch),
    };
    Store {
        pool,
        write_pool,
        writer: Arc::new(writer),
    }
}

impl<DB: sqlx::Database> Store<DB> {
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The writer's pool (SQLite: its one connection, shared with the audit appends).
    pub(crate) fn write_pool(&self) -> &Pool<DB> {
        &self.write_pool
    }

    /// Closes the read and the write connections.
    pub async fn close(&self) {
        self.pool.close().await;
        self.write_pool.close().await;
    }

    /// (batches, writes) committed through the group-commit writer so far.
    pub fn commit_stats(&self) -> (u64, u64) {
        self.writer.stats()
    }
}

/// Writes one batch of the group-commit writer and answers each write, in order.
pub(crate) async fn commit_batch<B: Backend>(db: &B, batch: Vec<StoreWrite>) -> Vec<Result<Applied, StoreError>> {
    let mut results = Vec::with_capacity(batch.len());
    for part in B::parts(&batch) {
        match db.write(part).await {
            Ok(applied) => results.extend(applied.into_iter().map(Ok)),
            Err(sqlx::Error::Database(error)) if part.len() > 1 => {
                tracing::warn!(%error, size = part.len(), "batch refused; committing its writes one by one");
                for write in part {
                    let alone = db.write(std::slice::from_ref(write)).await;
                    results.push(
                        alone
                            .map(|applied| applied.first().copied().unwrap_or_default())
                            .map_err(store_error),
                    );
                }
            }
            // A lone write refused, or the database unreachable (retrying would only add waits).
            Err(error) => {
                let error = store_error(error);
                results.extend(part.iter().map(|_| Err(error.clone())));
            }
        }
    }
    results
}
