//! PostgreSQL, the production store; several payrail nodes may share one database. Reads go to
//! their own pool; the group-commit writer has its own connections, on which each batch is one
//! statement (`batch.rs`, built by `binder.rs`), and several batches are in flight at once. A
//! replicated database is followed to its primary across failovers (`primary.rs`).

mod audit;
mod batch;
mod binder;
mod primary;
mod statement;

use payrail_core::audit::NewAuditEntry;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::config::DatabaseSettings;
use crate::store::backend::{self, Backend, PostgresStore, Row};
use crate::store::bind::arguments;
use crate::store::columns::Value;
use crate::store::writes::{Applied, StoreWrite};
use crate::store::OpenError;
use primary::Hosts;

/// Connects the read pool and the writer's pool named by `settings`. A `DATABASE_URL` naming
/// several hosts is followed to its primary (`primary.rs`).
pub(crate) async fn open(settings: &DatabaseSettings) -> Result<PostgresStore, OpenError> {
    let hosts = Hosts::parse(&settings.url).map_err(OpenError::Connect)?;
    let current = hosts.find_primary().await.unwrap_or(0);
    let options = hosts.candidates[current].clone();
    let (readers, writers) = split_pool(settings);
    let pool = pool_options(readers, settings, hosts.read_write)
        .connect_with(options.clone())
        .await
        .map_err(OpenError::Connect)?;
    let write_pool = pool_options(writers, settings, hosts.read_write)
        .connect_with(writer_options(options))
        .await
        .map_err(OpenError::Connect)?;
    if hosts.candidates.len() > 1 {
        let same = |options| options;
        primary::follow(
            hosts,
            current,
            vec![(pool.clone(), same), (write_pool.clone(), writer_options)],
        );
    }
    // One batch in flight per writer connection: while one waits on its WAL flush the next is
    // being written, and PostgreSQL flushes concurrent commits together.
    Ok(backend::start(
        pool,
        write_pool,
        crate::store::group_commit_settings(writers as usize),
    ))
}

/// A pool of `size` connections; where a primary is required, a connection that opens on a
/// standby is refused (`primary::refuse_standby`).
fn pool_options(size: u32, settings: &DatabaseSettings, read_write: bool) -> PgPoolOptions {
    let options = PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(settings.acquire_timeout());
    if !read_write {
        return options;
    }
    options.after_connect(|connection, _| Box::pin(primary::refuse_standby(connection)))
}

/// The writer's connections run the one batch statement (`batch.rs`), prepared once per
/// connection, plus primary-key writes. PostgreSQL keeps a generic plan for a prepared statement
/// once it has run a few times, costed on the tables as they were then: planned on a young, small
/// table, the batch would join by scanning whole tables for ever after. Every row it touches is
/// found through its primary key, so these connections are told to plan index lookups, whatever
/// the table size when the plan was made.
fn writer_options(options: PgConnectOptions) -> PgConnectOptions {
    options.options([
        ("enable_seqscan", "off"),
        ("enable_hashjoin", "off"),
        ("enable_mergejoin", "off"),
    ])
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

impl Backend for PgPool {
    const OWN_WRITER_THREAD: bool = false;

    async fn fetch_all<'q, R: Row>(&'q self, sql: &'q str, values: Vec<Value<'q>>) -> Result<Vec<R>, sqlx::Error> {
        sqlx::query_as_with(sql, arguments::<Postgres>(values)?)
            .fetch_all(self)
            .await
    }

    async fn fetch_optional<'q, R: Row>(
        &'q self,
        sql: &'q str,
        values: Vec<Value<'q>>,
    ) -> Result<Option<R>, sqlx::Error> {
        sqlx::query_as_with(sql, arguments::<Postgres>(values)?)
            .fetch_optional(self)
            .await
    }

    async fn execute<'q>(&'q self, sql: &'q str, values: Vec<Value<'q>>) -> Result<u64, sqlx::Error> {
        let done = sqlx::query_with(sql, arguments::<Postgres>(values)?)
            .execute(self)
            .await?;
        Ok(done.rows_affected())
    }

    async fn execute_all<'q>(&'q self, statements: Vec<(String, Vec<Value<'q>>)>) -> Result<(), sqlx::Error> {
        let mut transaction = self.begin().await?;
        for (sql, values) in statements {
            sqlx::query_with(&sql, arguments::<Postgres>(values)?)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await
    }

    fn parts(batch: &[StoreWrite]) -> Vec<&[StoreWrite]> {
        batch::parts(batch)
    }

    async fn write<'b>(&'b self, part: &'b [StoreWrite]) -> Result<Vec<Applied>, sqlx::Error> {
        batch::write(self, part).await
    }

    async fn append_audit<'b>(&'b self, entries: &'b [NewAuditEntry]) -> Result<(), sqlx::Error> {
        audit::append(self, entries).await
    }
}
