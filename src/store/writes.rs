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

use payrail_core::domain::Transition;
use payrail_core::idempotency::KeyedRecords;
use payrail_core::ports::StoreError;

use crate::store::idempotency::IdempotencyWrite;
use crate::store::sql::store_error;
use crate::store::{batch_pg, PostgresStore, SqliteStore};

/// One write queued on the store's writer.
// Writes only pass through the queue on their way to the database; boxing the transition would
// cost an allocation per commit to save a few hundred bytes of queue per idempotency write.
#[allow(clippy::large_enum_variant)]
pub(crate) enum StoreWrite {
    /// A payment's transition, with a keyed request's records: `claim` is written with it or
    /// neither is; `completion` is stored only if the transition applied.
    Transition {
        transition: Transition,
        claim: Option<IdempotencyWrite>,
        completion: Option<IdempotencyWrite>,
    },
    /// A claim or completion on its own.
    Idempotency(IdempotencyWrite),
}

impl StoreWrite {
    pub(crate) fn transition(transition: Transition) -> Self {
        StoreWrite::Transition {
            transition,
            claim: None,
            completion: None,
        }
    }

    /// A transition with a keyed request's records (`KeyedRecords`).
    pub(crate) fn keyed(transition: Transition, records: &KeyedRecords) -> Self {
        let merchant = records.merchant.as_str().to_owned();
        let key = records.key.as_str().to_owned();
        let now = records.at.timestamp_micros();
        let claim = records.claim.as_ref().map(|claim| IdempotencyWrite::Claim {
            merchant: merchant.clone(),
            key: key.clone(),
            fingerprint: claim.fingerprint.clone(),
            payment_id: claim.payment_id.as_ref().map(|id| id.as_str().to_owned()),
            payment_version: claim.payment_version,
            lock_token: records.lock_token.clone(),
            now,
        });
        let completion = records.reply.as_ref().map(|reply| IdempotencyWrite::Complete {
            merchant,
            key,
            lock_token: records.lock_token.clone(),
            status: i64::from(reply.status),
            // payrail's responses are JSON, hence UTF-8; anything else would be stored lossily.
            body: String::from_utf8_lossy(&reply.body).into_owned(),
            now,
        });
        StoreWrite::Transition {
            transition,
            claim,
            completion,
        }
    }
}

/// What a write did: `row` — the transition applied (or the claim was inserted, the completion
/// stored); `reply` — a transition's attached completion was stored too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub row: bool,
    pub reply: bool,
}

impl Applied {
    pub(crate) fn row(row: bool) -> Self {
        Applied { row, reply: false }
    }
}

/// Writes one batch and answers each write, in order (see the module docs).
pub(crate) trait BatchWriter {
    type Db: sqlx::Database;

    /// Commits the whole batch at once; per write, what it did.
    async fn write_together(pool: &sqlx::Pool<Self::Db>, batch: &[StoreWrite]) -> Result<Vec<Applied>, sqlx::Error>;

    /// Commits one write in its own transaction.
    async fn write_alone(pool: &sqlx::Pool<Self::Db>, write: &StoreWrite) -> Result<Applied, StoreError>;

    async fn write_batch(pool: &sqlx::Pool<Self::Db>, batch: Vec<StoreWrite>) -> Vec<Result<Applied, StoreError>> {
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

/// A new payment's sealed receipt email, written with the payment (its first transition's
/// `contact`). A retry of the same create finds the row there and leaves it.
const INSERT_CONTACT_SQL: &str =
    "INSERT INTO payment_contacts (payment_id, merchant_id, receipt_email_sealed, key_id, \
     created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payment_id) DO NOTHING";

/// Stamps out the transactional batch path for one backend: plain transitions through
/// `apply_many`; a transition with a claim in a savepoint of its own (claim, then transition, or
/// neither); the sealed contacts of applied new payments; attached completions of applied transitions; then lone idempotency writes in key
/// order (so concurrent batches lock keys in the same order).
macro_rules! in_transaction {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn write_in_transaction(
                pool: &sqlx::Pool<$db>,
                batch: &[StoreWrite],
            ) -> Result<Vec<Applied>, sqlx::Error> {
                use sqlx::Connection;
                let mut tx = pool.begin().await?;
                let mut applied = vec![Applied::default(); batch.len()];
                let (mut plain, mut claiming, mut lone) = (Vec::new(), Vec::new(), Vec::new());
                for (i, write) in batch.iter().enumerate() {
                    match write {
                        StoreWrite::Transition {
                            transition,
                            claim: None,
                            ..
                        } => plain.push((i, transition)),
                        StoreWrite::Transition {
                            transition,
                            claim: Some(claim),
                            ..
                        } => claiming.push((i, transition, claim)),
                        StoreWrite::Idempotency(w) => lone.push((i, w)),
                    }
                }
                let only: Vec<&Transition> = plain.iter().map(|(_, t)| *t).collect();
                let moved = Self::apply_many(&mut tx, &only).await?;
                for ((i, _), moved) in plain.iter().zip(moved) {
                    applied[*i].row = moved;
                }
                for (i, transition, claim) in claiming {
                    let mut savepoint = tx.begin().await?;
                    let moved = Self::execute_idempotency_write(&mut savepoint, claim).await?
                        && Self::apply(&mut savepoint, transition).await?;
                    if moved {
                        savepoint.commit().await?;
                    } else {
                        savepoint.rollback().await?;
                    }
                    applied[i].row = moved;
                }
                for (i, write) in batch.iter().enumerate() {
                    if let StoreWrite::Transition { transition, .. } = write {
                        if let (true, Some(contact)) = (applied[i].row, &transition.contact) {
                            let p = &transition.payment;
                            sqlx::query(INSERT_CONTACT_SQL)
                                .bind(p.id.as_str())
                                .bind(p.merchant_id.as_str())
                                .bind(contact.ciphertext.as_str())
                                .bind(contact.key_id.as_str())
                                .bind(p.created_at.timestamp_micros())
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                }
                for (i, write) in batch.iter().enumerate() {
                    if let StoreWrite::Transition {
                        completion: Some(completion),
                        ..
                    } = write
                    {
                        if applied[i].row {
                            applied[i].reply = Self::execute_idempotency_write(&mut tx, completion).await?;
                        }
                    }
                }
                lone.sort_by(|a, b| a.1.row().cmp(&b.1.row()));
                for (i, write) in lone {
                    applied[i].row = Self::execute_idempotency_write(&mut tx, write).await?;
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

    async fn write_together(pool: &sqlx::SqlitePool, batch: &[StoreWrite]) -> Result<Vec<Applied>, sqlx::Error> {
        Self::write_in_transaction(pool, batch).await
    }

    async fn write_alone(pool: &sqlx::SqlitePool, write: &StoreWrite) -> Result<Applied, StoreError> {
        let applied = Self::write_in_transaction(pool, std::slice::from_ref(write))
            .await
            .map_err(store_error)?;
        Ok(applied.first().copied().unwrap_or_default())
    }
}

impl BatchWriter for PostgresStore {
    type Db = sqlx::Postgres;

    async fn write_together(pool: &sqlx::PgPool, batch: &[StoreWrite]) -> Result<Vec<Applied>, sqlx::Error> {
        if !batch_pg::fits_one_statement(batch) {
            return Self::write_in_transaction(pool, batch).await;
        }
        let mut conn = pool.acquire().await?;
        batch_pg::write(&mut conn, batch).await
    }

    async fn write_alone(pool: &sqlx::PgPool, write: &StoreWrite) -> Result<Applied, StoreError> {
        let batch = std::slice::from_ref(write);
        let applied = if batch_pg::fits_one_statement(batch) {
            let mut conn = pool.acquire().await.map_err(store_error)?;
            batch_pg::write(&mut conn, batch).await
        } else {
            Self::write_in_transaction(pool, batch).await
        };
        Ok(applied.map_err(store_error)?.first().copied().unwrap_or_default())
    }
}
