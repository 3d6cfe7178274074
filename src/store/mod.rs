//! Storage: the core's ports ([`PaymentStore`], `IdempotencyStore`, `AuditStore`) and the service's
//! own queries, over sqlx for SQLite (the embedded default) and PostgreSQL (production), with
//! their migrations. [`open`] picks the backend from the URL.
//!
//! # Layout
//! - `columns.rs`: each table's columns, once; `rows.rs`: rows read back into domain values.
//! - `backend.rs`: the [`Store`] and the small `Backend` trait its two databases implement, in
//!   `sqlite/` and `postgres/` (connecting, the write path, the audit append).
//! - By concern, written once over `Backend`: `payments.rs` (the payment port), `idempotency.rs`,
//!   `audit.rs`, `inbox.rs` (webhook inbox), `scan.rs` (the reconciler's scan), `contacts.rs`.
//! - `sealed.rs`: values sealed at rest (receipt emails, webhook endpoint secrets) re-sealed under
//!   the current key, for `payrail rotate-key`.
//! - `settlements.rs`, `reconciliations.rs`: settlement and reconciliation reports (issue 17);
//!   `sandbox_ledger.rs`: the sandbox provider's own books, which reconciliation reads.
//! - `merchant_events/`: webhook endpoints, the fan-out, delivery leases and attempts, over the
//!   same columns and `Backend`.
//! - Commits: `group_commit.rs` (the queue and its writers), `writes.rs` (what a batch carries).
//! - `error.rs`: every database error becomes a `StoreError` in one place, classified by its
//!   SQLSTATE in `sqlstate.rs` (unavailable, conflict, or input the database refused).

mod audit;
mod backend;
mod bind;
mod columns;
mod console;
pub mod console_sessions;
mod contacts;
mod error;
pub mod group_commit;
mod idempotency;
mod inbox;
mod leases;
pub use leases::DatabaseLeases;
pub mod merchant_events;
mod payments;
mod postgres;
pub mod reconciliations;
mod rows;
mod sandbox_ledger;
mod scan;
mod sealed;
pub mod settlements;
mod sqlite;
mod sqlstate;
mod writes;

pub use audit::verify_chain;
pub use backend::{PostgresStore, SqliteStore, Store};
pub use console::{KeyUse, PaymentSearch, PaymentSummary};
pub use contacts::Contacts;
pub use inbox::InboundEvent;

use std::sync::Arc;

use payrail_core::ports::{Page, PaymentStore, StoreError};
use sqlx::migrate::Migrator;

use crate::config::DatabaseSettings;

pub static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
pub static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

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
    if settings.url.starts_with("sqlite:") {
        sqlite::open(settings).await.map(Database::Sqlite)
    } else {
        postgres::open(settings).await.map(Database::Postgres)
    }
}

/// Group commit with `writers` batches in the database at once: one on SQLite (one writer
/// anyway), one per writer connection on PostgreSQL.
fn group_commit_settings(writers: usize) -> group_commit::GroupCommitSettings {
    group_commit::GroupCommitSettings {
        max_batch: GROUP_COMMIT_MAX_BATCH,
        writers,
    }
}

/// Writes per batch at most: enough to amortise an fsync over many payments, small enough that
/// one batch's statements do not hold its callers long.
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
