//! SQLite, the embedded default: WAL mode with `synchronous = FULL`, so a commit is on disk
//! before anyone hears "done". SQLite has one writer at a time anyway, so the group-commit writer
//! runs one batch at a time, as a transaction of a few multi-row statements (`batch.rs`,
//! `multirow.rs`).

mod audit;
mod batch;
mod multirow;
#[cfg(test)]
mod tests;

use std::str::FromStr;

use payrail_core::audit::NewAuditEntry;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use crate::config::DatabaseSettings;
use crate::store::backend::{self, Backend, Row, SqliteStore};
use crate::store::bind::arguments;
use crate::store::columns::Value;
use crate::store::writes::{Applied, StoreWrite};
use crate::store::OpenError;

/// Opens (creating if missing) the SQLite file named by `settings.url`.
pub(crate) async fn open(settings: &DatabaseSettings) -> Result<SqliteStore, OpenError> {
    let options = SqliteConnectOptions::from_str(&settings.url)
        .map_err(OpenError::Connect)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout())
        .connect_with(options.clone())
        .await
        .map_err(OpenError::Connect)?;
    // The one writer connection: every batch, and the audit appends, in turn. Readers have the
    // other pool; in WAL mode they never wait for it. No ping before each batch: a broken
    // connection fails the batch, and the pool replaces it.
    let write_pool = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(settings.acquire_timeout())
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(OpenError::Connect)?;
    Ok(backend::start(pool, write_pool, crate::store::group_commit_settings(1)))
}

impl Backend for SqlitePool {
    const OWN_WRITER_THREAD: bool = true;

    async fn fetch_all<'q, R: Row>(&'q self, sql: &'q str, values: Vec<Value<'q>>) -> Result<Vec<R>, sqlx::Error> {
        sqlx::query_as_with(sql, arguments::<Sqlite>(values)?)
            .fetch_all(self)
            .await
    }

    async fn fetch_optional<'q, R: Row>(
        &'q self,
        sql: &'q str,
        values: Vec<Value<'q>>,
    ) -> Result<Option<R>, sqlx::Error> {
        sqlx::query_as_with(sql, arguments::<Sqlite>(values)?)
            .fetch_optional(self)
            .await
    }

    async fn execute<'q>(&'q self, sql: &'q str, values: Vec<Value<'q>>) -> Result<u64, sqlx::Error> {
        let done = sqlx::query_with(sql, arguments::<Sqlite>(values)?)
            .execute(self)
            .await?;
        Ok(done.rows_affected())
    }

    /// `BEGIN IMMEDIATE`: the write lock is taken (waiting up to the busy timeout) before the
    /// first statement, so a statement that reads before it writes (a trigger's check) cannot
    /// fail at once with `SQLITE_BUSY_SNAPSHOT` because another writer committed in between.
    async fn execute_all<'q>(&'q self, statements: Vec<(String, Vec<Value<'q>>)>) -> Result<(), sqlx::Error> {
        let mut transaction = self.begin_with("BEGIN IMMEDIATE").await?;
        for (sql, values) in statements {
            sqlx::query_with(&sql, arguments::<Sqlite>(values)?)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await
    }

    /// A whole batch is one transaction.
    fn parts(batch: &[StoreWrite]) -> Vec<&[StoreWrite]> {
        vec![batch]
    }

    async fn write<'b>(&'b self, part: &'b [StoreWrite]) -> Result<Vec<Applied>, sqlx::Error> {
        batch::write(self, part).await
    }

    async fn append_audit<'b>(&'b self, entries: &'b [NewAuditEntry]) -> Result<(), sqlx::Error> {
        audit::append(self, entries).await
    }
}
