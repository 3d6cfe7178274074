//! [`IdempotencyStore`] for both backends. A claim is `INSERT … ON CONFLICT DO NOTHING` on the
//! primary key (merchant, key); every later change is conditional on the lock token.
//!
//! Claims and completions go through the store's group-commit writer (`writes.rs`), in the same
//! batches as payments' transitions: concurrent requests' writes share one transaction (one
//! fsync), and each caller is answered only after that COMMIT, so a replay right after a response
//! still finds the stored response. Each write keeps its own outcome: a claim whose key exists
//! inserts nothing and a completion whose lock token moved on updates nothing, without disturbing
//! their batch-mates. Taking over a stale claim and releasing one are rare, single-row statements
//! on the read pool.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payrail_core::domain::{MerchantId, PaymentId};
use payrail_core::idempotency::{ClaimRequest, ClaimState, IdempotencyKey, IdempotencyStore, StoredClaim};
use payrail_core::ports::StoreError;
use sqlx::Pool;

use crate::store::backend::{Backend, Store};
use crate::store::columns::Value;
use crate::store::columns::{Claim, Completion};
use crate::store::error::store_error;
use crate::store::writes::StoreWrite;
use crate::store::Database;

const SELECT_CLAIM_SQL: &str = "SELECT fingerprint, payment_id, payment_version, lock_token, locked_at, \
     response_status, response_body FROM idempotency_keys WHERE merchant_id = $1 AND idempotency_key = $2";

const TAKE_OVER_SQL: &str = "UPDATE idempotency_keys SET lock_token = $4, locked_at = $5 \
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

/// Response bodies are stored as text; payrail's are always JSON, hence UTF-8.
fn body_text(body: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(body).map_err(|_| StoreError::Corrupt("response body is not UTF-8".into()))
}

#[async_trait::async_trait]
impl<DB: sqlx::Database> IdempotencyStore for Store<DB>
where
    Pool<DB>: Backend,
{
    async fn insert_claim(
        &self,
        claim: &ClaimRequest,
        lock_token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredClaim>, StoreError> {
        // Twice: the existing row may be released between our insert and our read.
        for _ in 0..2 {
            let write = Claim {
                merchant: claim.merchant.as_str().to_owned(),
                key: claim.key.as_str().to_owned(),
                fingerprint: claim.fingerprint.clone(),
                payment_id: claim.payment_id.as_ref().map(|id| id.as_str().to_owned()),
                payment_version: claim.payment_version,
                lock_token: lock_token.to_owned(),
                now: now.timestamp_micros(),
            };
            if self.writer.commit(StoreWrite::Claim(write)).await?.row {
                return Ok(None);
            }
            let values = vec![Value::text(claim.merchant.as_str()), Value::text(claim.key.as_str())];
            let existing: Option<ClaimRow> = self
                .pool()
                .fetch_optional(SELECT_CLAIM_SQL, values)
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
        merchant: &MerchantId,
        key: &IdempotencyKey,
        stale_token: &str,
        new_token: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let values = vec![
            Value::text(merchant.as_str()),
            Value::text(key.as_str()),
            Value::text(stale_token),
            Value::text(new_token),
            Value::int(now.timestamp_micros()),
        ];
        let updated = self.pool().execute(TAKE_OVER_SQL, values).await.map_err(store_error)?;
        Ok(updated == 1)
    }

    async fn complete(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        lock_token: &str,
        status: u16,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let write = Completion {
            merchant: merchant.as_str().to_owned(),
            key: key.as_str().to_owned(),
            lock_token: lock_token.to_owned(),
            status: i64::from(status),
            body: body_text(body)?.to_owned(),
            now: now.timestamp_micros(),
        };
        Ok(self.writer.commit(StoreWrite::Complete(write)).await?.row)
    }

    async fn release(&self, merchant: &MerchantId, key: &IdempotencyKey, lock_token: &str) -> Result<(), StoreError> {
        let values = vec![
            Value::text(merchant.as_str()),
            Value::text(key.as_str()),
            Value::text(lock_token),
        ];
        self.pool().execute(RELEASE_SQL, values).await.map_err(store_error)?;
        Ok(())
    }

    async fn reap(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let values = vec![Value::int(before.timestamp_micros())];
        self.pool().execute(REAP_SQL, values).await.map_err(store_error)
    }
}

impl Database {
    pub fn idempotency_store(&self) -> Arc<dyn IdempotencyStore> {
        match self {
            Database::Sqlite(store) => Arc::new(store.clone()),
            Database::Postgres(store) => Arc::new(store.clone()),
        }
    }
}
