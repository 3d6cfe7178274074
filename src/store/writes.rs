//! What the store's one group-commit writer (`group_commit.rs`) carries, and how a batch of it is
//! committed: payments' transitions and idempotency claims and completions share the queue, so a
//! request's claim, its payment's transitions and its stored response ride in whatever batch is
//! next instead of paying for transactions of their own.
//!
//! A batch is written together — on PostgreSQL as one statement (`batch_pg.rs`), otherwise in one
//! transaction — and answers each write with whether it applied (`false`: a stale version, an
//! existing payment or key, a lock token that moved on; nothing of it was written). If the
//! database refuses a statement (a constraint), the batch is rolled back and each write is retried
//! in its own transaction, so only the offender fails; if the database is unreachable, every write
//! of the batch gets that error.

use payrail_actors::domain::Transition;
use payrail_actors::ports::StoreError;

use crate::store::idempotency::IdempotencyWrite;
use crate::store::sql::store_error;
use crate::store::{batch_pg, PostgresStore, SqliteStore};

/// One write queued on the store's writer.
// Writes only pass through the queue on their way to the database; boxing the transition would
// cost an allocation per commit to save a few hundred bytes of queue per idempotency write.
#[allow(clippy::large_enum_variant)]
pub(crate) enum StoreWrite {
    Transition(Transition),
    Idempotency(IdempotencyWrite),
}

/// Writes one batch and answers each write, in order (see the module docs).
pub(crate) trait BatchWriter {
    type Db: sqlx::Database;

    /// Commits the whole batch at once; per write, whether it applied.
    async fn write_together(pool: &sqlx::Pool<Self::Db>, batch: &[StoreWrite]) -> Result<Vec<bool>, sqlx::Error>;

    /// Commits one write in its own transaction.
    async fn write_alone(pool: &sqlx::Pool<Self::Db>, write: &StoreWrite) -> Result<bool, StoreError>;

    async fn write_batch(pool: &sqlx::Pool<Self::Db>, batch: Vec<StoreWrite>) -> Vec<Result<bool, StoreError>> {
        match Self::write_together(pool, &batch).await {
            Ok(applied) => applied.into_iter().map(Ok).collect(),
            Err(sqlx::Error::Database(error)) if batch.len() > 1 => {
                tracing::warn!(%error, size = batch.len(), "batch refused; committing its writes one by one");
                let mut results = Vec::with_capacity(batch.len());
                for write in &batch {
                    results.push(Self::write_alone(pool, write).await);
                }
                results
            }
            // A lone write refused, or the database unreachable (retrying would only add waits).
            Err(error) => {
                let error = store_error(error);
                batch.iter().map(|_| Err(error.clone())).collect()
            }
        }
    }
}

/// Stamps out the transactional batch path for one backend: transitions through `apply_many`,
/// then idempotency writes in key order (so concurrent batches lock keys in the same order).
macro_rules! in_transaction {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn write_in_transaction(
                pool: &sqlx::Pool<$db>,
                batch: &[StoreWrite],
            ) -> Result<Vec<bool>, sqlx::Error> {
                let mut tx = pool.begin().await?;
                let mut applied = vec![false; batch.len()];
                let (mut transitions, mut keyed) = (Vec::new(), Vec::new());
                for (i, write) in batch.iter().enumerate() {
                    match write {
                        StoreWrite::Transition(t) => transitions.push((i, t)),
                        StoreWrite::Idempotency(w) => keyed.push((i, w)),
                    }
                }
                let only: Vec<&Transition> = transitions.iter().map(|(_, t)| *t).collect();
                let moved = Self::apply_many(&mut tx, &only).await?;
                for ((i, _), moved) in transitions.iter().zip(moved) {
                    applied[*i] = moved;
                }
                keyed.sort_by(|a, b| a.1.row().cmp(&b.1.row()));
                for (i, write) in keyed {
                    applied[i] = Self::execute_idempotency_write(&mut tx, write).await?;
                }
                tx.commit().await?;
                Ok(applied)
            }
        }
    };
}

in_transaction!(SqliteStore, sqlx::Sqlite);
in_transaction!(PostgresStore, sqlx::Postgres);

impl BatchWriter for SqliteStore {
    type Db = sqlx::Sqlite;

    async fn write_together(pool: &sqlx::SqlitePool, batch: &[StoreWrite]) -> Result<Vec<bool>, sqlx::Error> {
        Self::write_in_transaction(pool, batch).await
    }

    async fn write_alone(pool: &sqlx::SqlitePool, write: &StoreWrite) -> Result<bool, StoreError> {
        let applied = Self::write_in_transaction(pool, std::slice::from_ref(write))
            .await
            .map_err(store_error)?;
        Ok(applied.first().copied().unwrap_or(false))
    }
}

impl BatchWriter for PostgresStore {
    type Db = sqlx::Postgres;

    async fn write_together(pool: &sqlx::PgPool, batch: &[StoreWrite]) -> Result<Vec<bool>, sqlx::Error> {
        if !batch_pg::fits_one_statement(batch) {
            return Self::write_in_transaction(pool, batch).await;
        }
        let mut conn = pool.acquire().await?;
        batch_pg::write(&mut conn, batch).await
    }

    async fn write_alone(pool: &sqlx::PgPool, write: &StoreWrite) -> Result<bool, StoreError> {
        let mut conn = pool.acquire().await.map_err(store_error)?;
        batch_pg::write(&mut conn, std::slice::from_ref(write))
            .await
            .map(|applied| applied.first().copied().unwrap_or(false))
            .map_err(store_error)
    }
}
