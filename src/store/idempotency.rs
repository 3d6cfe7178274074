//! [`IdempotencyStore`] over sqlx, for both backends (stamped out by `idempotency_store!`, like
//! `sql_store!` does for payments). A claim is `INSERT … ON CONFLICT DO NOTHING` on the primary key
//! (merchant, key); every later change is conditional on the lock token.
//!
//! Claims and completions go through the store's group-commit writer (`writes.rs`), in the same
//! batches as payments' transitions: concurrent requests' writes share one transaction (one
//! fsync), and each caller is answered only after that COMMIT, so a replay right after a response
//! still finds the stored response. Each write keeps its own outcome: a claim whose key exists
//! inserts nothing (`ON CONFLICT DO NOTHING`) and a completion whose lock token moved on updates
//! nothing, without disturbing their batch-mates.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payrail_core::domain::PaymentId;
use payrail_core::idempotency::{ClaimState, IdempotencyStore, StoredClaim};
use payrail_core::ports::StoreError;

use crate::store::{Database, PostgresStore, SqliteStore};

const INSERT_CLAIM_SQL: &str = "INSERT INTO idempotency_keys (merchant_id, idempotency_key, fingerprint, payment_id, \
     payment_version, lock_token, locked_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
     ON CONFLICT (merchant_id, idempotency_key) DO NOTHING";

const SELECT_CLAIM_SQL: &str = "SELECT fingerprint, payment_id, payment_version, lock_token, locked_at, \
     response_status, response_body FROM idempotency_keys WHERE merchant_id = $1 AND idempotency_key = $2";

const TAKE_OVER_SQL: &str = "UPDATE idempotency_keys SET lock_token = $4, locked_at = $5 \
     WHERE merchant_id = $1 AND idempotency_key = $2 AND lock_token = $3 AND response_status IS NULL";

const COMPLETE_SQL: &str = "UPDATE idempotency_keys SET response_status = $4, response_body = $5, completed_at = $6 \
     WHERE merchant_id = $1 AND idempotency_key = $2 AND lock_token = $3 AND response_status IS NULL";

const RELEASE_SQL: &str = "DELETE FROM idempotency_keys \
     WHERE merchant_id = $1 AND idempotency_key = $2 AND lock_token = $3 AND response_status IS NULL";

const REAP_SQL: &str = "DELETE FROM idempotency_keys WHERE created_at < $1";

#[derive(sqlx::FromRow)]
struct ClaimRow {
    fingerprint: String,
    payment_id: Option<String>,
    payment_version: Option<i64>,
    lock_token: String,
    locked_at: i64,
    response_status: Option<i64>,
    response_body: Option<String>,
}

impl TryFrom<ClaimRow> for StoredClaim {
    type Error = StoreError;

    fn try_from(row: ClaimRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("idempotency key row: {what}"));
        let state = match (row.response_status, row.response_body) {
            (Some(status), Some(body)) => ClaimState::Completed {
                status: u16::try_from(status).map_err(|_| corrupt("status"))?,
                body: body.into_bytes(),
            },
            (None, _) => ClaimState::InProgress {
                lock_token: row.lock_token,
                locked_at: DateTime::from_timestamp_micros(row.locked_at).ok_or_else(|| corrupt("locked_at"))?,
            },
            (Some(_), None) => return Err(corrupt("status without body")),
        };
        Ok(StoredClaim {
            fingerprint: row.fingerprint,
            payment_id: row
                .payment_id
                .map(|id| PaymentId::parse(&id))
                .transpose()
                .map_err(|_| corrupt("payment_id"))?,
            payment_version: row.payment_version,
            state,
        })
    }
}

/// One write queued on the idempotency writer; its result says whether it changed a row (claim:
/// inserted; completion: still held by the token and now completed).
pub(crate) enum IdempotencyWrite {
    Claim {
        merchant: String,
        key: String,
        fingerprint: String,
        payment_id: Option<String>,
        payment_version: Option<i64>,
        lock_token: String,
        now: i64,
    },
    Complete {
        merchant: String,
        key: String,
        lock_token: String,
        status: i64,
        body: String,
        now: i64,
    },
}

impl IdempotencyWrite {
    /// The row it touches: a batch writes in this order, so two concurrent batches lock rows in
    /// the same order and cannot deadlock each other.
    pub(crate) fn row(&self) -> (&str, &str) {
        match self {
            IdempotencyWrite::Claim { merchant, key, .. } | IdempotencyWrite::Complete { merchant, key, .. } => {
                (merchant, key)
            }
        }
    }
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// Response bodies are stored as text; payrail's are always JSON, hence UTF-8.
fn body_text(body: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(body).map_err(|_| StoreError::Corrupt("response body is not UTF-8".into()))
}

macro_rules! idempotency_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Runs one write's statement on `conn`; true if it changed a row.
            pub(crate) async fn execute_idempotency_write(
                conn: &mut <$db as sqlx::Database>::Connection,
                write: &IdempotencyWrite,
            ) -> Result<bool, sqlx::Error> {
                let done = match write {
                    IdempotencyWrite::Claim {
                        merchant,
                        key,
                        fingerprint,
                        payment_id,
                        payment_version,
                        lock_token,
                        now,
                    } => {
                        sqlx::query(INSERT_CLAIM_SQL)
                            .bind(merchant.as_str())
                            .bind(key.as_str())
                            .bind(fingerprint.as_str())
                            .bind(payment_id.as_deref())
                            .bind(*payment_version)
                            .bind(lock_token.as_str())
                            .bind(*now)
                            .execute(&mut *conn)
                            .await?
                    }
                    IdempotencyWrite::Complete {
                        merchant,
                        key,
                        lock_token,
                        status,
                        body,
                        now,
                    } => {
                        sqlx::query(COMPLETE_SQL)
                            .bind(merchant.as_str())
                            .bind(key.as_str())
                            .bind(lock_token.as_str())
                            .bind(*status)
                            .bind(body.as_str())
                            .bind(*now)
                            .execute(&mut *conn)
                            .await?
                    }
                };
                Ok(done.rows_affected() == 1)
            }
        }

        #[async_trait::async_trait]
        impl IdempotencyStore for $store {
            async fn insert_claim(
                &self,
                claim: &payrail_core::idempotency::ClaimRequest,
                lock_token: &str,
                now: DateTime<Utc>,
            ) -> Result<Option<StoredClaim>, StoreError> {
                use crate::store::sql::store_error;
                // Twice: the existing row may be released between our insert and our read.
                for _ in 0..2 {
                    let write = IdempotencyWrite::Claim {
                        merchant: claim.merchant.as_str().to_owned(),
                        key: claim.key.as_str().to_owned(),
                        fingerprint: claim.fingerprint.clone(),
                        payment_id: claim.payment_id.as_ref().map(|id| id.as_str().to_owned()),
                        payment_version: claim.payment_version,
                        lock_token: lock_token.to_owned(),
                        now: micros(now),
                    };
                    if self
                        .writer
                        .commit(crate::store::writes::StoreWrite::Idempotency(write))
                        .await?
                        .row
                    {
                        return Ok(None);
                    }
                    let existing: Option<ClaimRow> = sqlx::query_as(SELECT_CLAIM_SQL)
                        .bind(claim.merchant.as_str())
                        .bind(claim.key.as_str())
                        .fetch_optional(self.pool())
                        .await
                        .map_err(store_error)?;
                    if let Some(row) = existing {
                        return row.try_into().map(Some);
                    }
                }
                Err(StoreError::Conflict)
            }

            async fn take_over(
                &self,
                merchant: &payrail_core::domain::MerchantId,
                key: &payrail_core::idempotency::IdempotencyKey,
                stale_token: &str,
                new_token: &str,
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let updated = sqlx::query(TAKE_OVER_SQL)
                    .bind(merchant.as_str())
                    .bind(key.as_str())
                    .bind(stale_token)
                    .bind(new_token)
                    .bind(micros(now))
                    .execute(self.pool())
                    .await
                    .map_err(crate::store::sql::store_error)?;
                Ok(updated.rows_affected() == 1)
            }

            async fn complete(
                &self,
                merchant: &payrail_core::domain::MerchantId,
                key: &payrail_core::idempotency::IdempotencyKey,
                lock_token: &str,
                status: u16,
                body: &[u8],
                now: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let write = IdempotencyWrite::Complete {
                    merchant: merchant.as_str().to_owned(),
                    key: key.as_str().to_owned(),
                    lock_token: lock_token.to_owned(),
                    status: i64::from(status),
                    body: body_text(body)?.to_owned(),
                    now: micros(now),
                };
                let applied = self
                    .writer
                    .commit(crate::store::writes::StoreWrite::Idempotency(write))
                    .await?;
                Ok(applied.row)
            }

            async fn release(
                &self,
                merchant: &payrail_core::domain::MerchantId,
                key: &payrail_core::idempotency::IdempotencyKey,
                lock_token: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(RELEASE_SQL)
                    .bind(merchant.as_str())
                    .bind(key.as_str())
                    .bind(lock_token)
                    .execute(self.pool())
                    .await
                    .map_err(crate::store::sql::store_error)?;
                Ok(())
            }

            async fn reap(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
                let deleted = sqlx::query(REAP_SQL)
                    .bind(micros(before))
                    .execute(self.pool())
                    .await
                    .map_err(crate::store::sql::store_error)?;
                Ok(deleted.rows_affected())
            }
        }
    };
}

idempotency_store!(SqliteStore, sqlx::Sqlite);
idempotency_store!(PostgresStore, sqlx::Postgres);

impl Database {
    pub fn idempotency_store(&self) -> Arc<dyn IdempotencyStore> {
        match self {
            Database::Sqlite(store) => Arc::new(store.clone()),
            Database::Postgres(store) => Arc::new(store.clone()),
        }
    }
}
