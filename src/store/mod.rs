//! Storage: the [`PaymentStore`] port implemented over sqlx for SQLite (the embedded default) and
//! PostgreSQL (production), with their migrations. [`open`] picks the backend from the URL.

mod audit;
mod batch_pg;
mod batch_sql;
mod contacts;
pub mod group_commit;
mod idempotency;
pub mod merchant_events;
mod rows;
mod sql;
mod webhooks;
mod writes;

pub use audit::verify_chain;
pub use contacts::Contacts;

use std::str::FromStr;
use std::sync::Arc;

use payrail_core::ports::{Page, PaymentStore, StoreError};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::config::DatabaseSettings;

pub use webhooks::InboundEvent;

pub static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
pub static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

sql::sql_store!(
    /// SQLite in WAL mode with `synchronous = FULL`: a commit is on disk before anyone hears "done".
    SqliteStore,
    sqlx::Sqlite
);
sql::sql_store!(
    /// PostgreSQL, the production store; several payrail nodes may share one database.
    PostgresStore,
    sqlx::Postgres
);
batch_sql::batch_apply!(SqliteStore, sqlx::Sqlite);
batch_sql::batch_apply!(PostgresStore, sqlx::Postgres);

/// The newest migration a ready database must have applied.
pub fn latest_migration() -> i64 {
    SQLITE_MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// An opened database, either backend.
#[derive(Clone)]
pub enum Database {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Database {
    /// Applies pending migrations (idempotent).
    pub async fn migrate(&self) -> Result<(), OpenError> {
        match self {
            Database::Sqlite(store) => SQLITE_MIGRATIONS.run(store.pool()).await,
            Database::Postgres(store) => POSTGRES_MIGRATIONS.run(store.pool()).await,
        }
        .map_err(OpenError::Migrate)
    }

    pub fn store(&self) -> Arc<dyn PaymentStore> {
        match self {
            Database::Sqlite(store) => Arc::new(store.clone()),
            Database::Postgres(store) => Arc::new(store.clone()),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }

    /// (batches, writes) committed by the group-commit writer: writes / batches is the mean number
    /// of writes (payments' transitions, idempotency claims and completions) sharing one database
    /// transaction.
    pub fn commit_stats(&self) -> (u64, u64) {
        match self {
            Database::Sqlite(store) => store.commit_stats(),
            Database::Postgres(store) => store.commit_stats(),
        }
    }

    /// Closes every connection (tests that restart on the same database, shutdown).
    pub async fn close(&self) {
        match self {
            Database::Sqlite(store) => store.close().await,
            Database::Postgres(store) => store.close().await,
        }
    }
}

/// Connects to the database named by the settings (creating a SQLite file if it is missing).
pub async fn open(settings: &DatabaseSettings) -> Result<Database, OpenError> {
    let url = settings.url.as_str();
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(OpenError::Connect)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout())
            .connect_with(options)
            .await
            .map_err(OpenError::Connect)?;
        // SQLite has one writer anyway: a second batch would only wait on the file lock.
        Ok(Database::Sqlite(SqliteStore::with_group_commit(
            pool.clone(),
            pool,
            group_commit(1),
        )))
    } else {
        let options = PgConnectOptions::from_str(url).map_err(OpenError::Connect)?;
        let (readers, writers) = split_pool(settings);
        let pool = PgPoolOptions::new()
            .max_connections(readers)
            .acquire_timeout(settings.acquire_timeout())
            .connect_with(options.clone())
            .await
            .map_err(OpenError::Connect)?;
        // The writer's connections run the one batch statement (`batch_pg.rs`), prepared once
        // per connection, plus primary-key writes. PostgreSQL keeps a generic plan for a prepared
        // statement once it has run a few times, costed on the tables as they were then: planned
        // on a young, small table, the batch would join by scanning whole tables for ever after.
        // Every row it touches is found through its primary key, so these connections are told
        // to plan index lookups, whatever the table size when the plan was made.
        let write_options = options.options([
            ("enable_seqscan", "off"),
            ("enable_hashjoin", "off"),
            ("enable_mergejoin", "off"),
        ]);
        let write_pool = PgPoolOptions::new()
            .max_connections(writers)
            .acquire_timeout(settings.acquire_timeout())
            .connect_with(write_options)
            .await
            .map_err(OpenError::Connect)?;
        // Several batches in flight: while one waits on its WAL flush the next is being written,
        // and PostgreSQL flushes concurrent commits together.
        Ok(Database::Postgres(PostgresStore::with_group_commit(
            pool,
            write_pool,
            group_commit(writers as usize),
        )))
    }
}

/// `database.max_connections` split between reads and the group-commit writer: `commit_writers`
/// for the writer (0: half the pool), the rest, at least one, for reads.
fn split_pool(settings: &DatabaseSettings) -> (u32, u32) {
    let total = settings.max_connections.max(2);
    let writers = match settings.commit_writers {
        0 => total / 2,
        n => u32::try_from(n).unwrap_or(u32::MAX).min(total - 1),
    };
    (total - writers, writers.max(1))
}

fn group_commit(writers: usize) -> group_commit::GroupCommitSettings {
    group_commit::GroupCommitSettings {
        max_batch: GROUP_COMMIT_MAX_BATCH,
        writers,
    }
}

/// Transitions per batch at most: enough to amortise an fsync over many payments, small enough
/// that one batch's statements do not hold its callers long.
const GROUP_COMMIT_MAX_BATCH: usize = 64;

/// Turns `limit + 1` fetched rows into a page: the extra row only says there is more.
fn page<R, T>(mut rows: Vec<R>, limit: u32) -> Result<Page<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let data = rows.into_iter().map(T::try_from).collect::<Result<_, _>>()?;
    Ok(Page { data, has_more })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migrations() {
        let versions = |m: &Migrator| {
            m.iter()
                .map(|x| (x.version, x.description.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(&SQLITE_MIGRATIONS), versions(&POSTGRES_MIGRATIONS));
        assert!(latest_migration() >= 1);
    }
}
