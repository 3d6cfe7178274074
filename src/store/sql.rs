//! The one implementation of [`PaymentStore`] over sqlx, instantiated for SQLite and PostgreSQL.
//!
//! Both schemas are the same and both drivers accept `$n` placeholders, so the SQL and the code are
//! written once; `sql_store!` stamps them out per backend because sqlx's generic bounds across
//! databases would bury the logic. Runtime-checked queries (`query_as` + `FromRow`) keep the build
//! free of a live database. sqlx prepares each statement once per connection and caches it.
//!
//! Commits go through a group-commit writer (`group_commit.rs`) that writes many payments'
//! transitions — and idempotency claims and completions — together (`writes.rs`), each guarded by
//! its own version check.

use std::sync::LazyLock;

use payrail_core::ports::StoreError;

use crate::store::rows::{EVENT_COLUMNS, PAYMENT_COLUMNS, REFUND_COLUMNS};

/// A new payment; an existing id inserts nothing (0 rows), which the writer reports as a conflict
/// without aborting the batch's transaction.
pub(crate) static INSERT_PAYMENT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) \
         ON CONFLICT DO NOTHING"
    )
});

/// Everything that can change after creation, guarded by the version read before the change.
pub(crate) const UPDATE_PAYMENT_SQL: &str = "UPDATE payments SET status = $3, captured_amount = $4, \
     refunded_amount = $5, provider_reference = $6, failure_code = $7, failure_message = $8, version = $9, \
     updated_at = $10 WHERE id = $1 AND version = $2";

pub(crate) static INSERT_EVENT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!("INSERT INTO payment_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
});

pub(crate) static UPSERT_REFUND_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
         provider_reference = excluded.provider_reference, updated_at = excluded.updated_at"
    )
});

pub(crate) fn select_payment_sql(condition: &str) -> String {
    format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE {condition}")
}

/// Newest first, keyset-paginated on (created_at, id) so pages are stable under inserts.
pub(crate) fn list_payments_sql(by_order: bool) -> String {
    let order_filter = if by_order { "AND order_id = $5 " } else { "" };
    format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE merchant_id = $1 {order_filter}\
         AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    )
}

pub(crate) fn list_events_sql() -> String {
    format!(
        "SELECT {EVENT_COLUMNS} FROM payment_events WHERE payment_id = $1 AND sequence > $2 \
         ORDER BY sequence LIMIT $3"
    )
}

pub(crate) fn list_refunds_sql() -> String {
    format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_at, id")
}

/// Maps a driver error by its SQLSTATE (`sqlstate.rs`).
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    crate::store::sqlstate::classify(&error)
}

/// Stamps out a `PaymentStore` for one sqlx backend.
macro_rules! sql_store {
    ($(#[$doc:meta])* $store:ident, $db:ty) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $store {
            /// Reads and the rarer one-off writes.
            pool: sqlx::Pool<$db>,
            /// The group-commit writer's connections (the same pool on SQLite).
            write_pool: sqlx::Pool<$db>,
            /// Every write goes through here (group commit): payments' transitions and
            /// idempotency claims and completions (`writes.rs`).
            pub(crate) writer: std::sync::Arc<
                crate::store::group_commit::GroupCommit<crate::store::writes::StoreWrite, crate::store::writes::Applied>,
            >,
        }

        impl $store {
            /// A store with one batch writer; must be called inside a Tokio runtime.
            pub fn new(pool: sqlx::Pool<$db>) -> Self {
                let settings = crate::store::group_commit::GroupCommitSettings { max_batch: 64, writers: 1 };
                Self::with_group_commit(pool.clone(), pool, settings)
            }

            pub fn pool(&self) -> &sqlx::Pool<$db> {
                &self.pool
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

            /// A store reading through `pool` whose commits go through a group-commit writer with
            /// `settings`, on `write_pool`'s connections.
            pub fn with_group_commit(
                pool: sqlx::Pool<$db>,
                write_pool: sqlx::Pool<$db>,
                settings: crate::store::group_commit::GroupCommitSettings,
            ) -> Self {
                use crate::store::writes::BatchWriter;
                let batch_pool = write_pool.clone();
                let writer = crate::store::group_commit::GroupCommit::start(settings, move |batch| {
                    let pool = batch_pool.clone();
                    async move { Self::write_batch(&pool, batch).await }
                });
                Self {
                    pool,
                    write_pool,
                    writer: std::sync::Arc::new(writer),
                }
            }

            /// Writes one transition inside the caller's transaction: the payment row, its event and
            /// its refund. `Ok(false)` when the row is not at the expected version (or the payment
            /// already exists): then nothing of it is written, and the transaction stays usable.
            async fn apply(
                conn: &mut <$db as sqlx::Database>::Connection,
                t: &payrail_core::domain::Transition,
            ) -> Result<bool, sqlx::Error> {
                use crate::store::rows::{metadata_json, micros};
                use crate::store::sql::{INSERT_EVENT_SQL, INSERT_PAYMENT_SQL, UPDATE_PAYMENT_SQL, UPSERT_REFUND_SQL};
                let p = &t.payment;
                let written = match t.expected_version {
                    None => {
                        let card = p.card.as_ref();
                        sqlx::query(&INSERT_PAYMENT_SQL)
                            .bind(p.id.as_str())
                            .bind(p.merchant_id.as_str())
                            .bind(p.amount.minor_units())
                            .bind(p.currency.code())
                            .bind(p.status.as_str())
                            .bind(p.capture_method.as_str())
                            .bind(p.captured_amount)
                            .bind(p.refunded_amount)
                            .bind(p.provider.as_str())
                            .bind(p.provider_reference.as_deref())
                            .bind(p.order_id.as_deref())
                            .bind(p.description.as_deref())
                            .bind(metadata_json(&p.metadata))
                            .bind(card.map(|c| c.brand.as_str()))
                            .bind(card.map(|c| c.last4.as_str()))
                            .bind(card.map(|c| i64::from(c.exp_month)))
                            .bind(card.map(|c| i64::from(c.exp_year)))
                            .bind(p.failure_code.as_deref())
                            .bind(p.failure_message.as_deref())
                            .bind(p.version)
                            .bind(micros(p.created_at))
                            .bind(micros(p.updated_at))
                            .bind(card.and_then(|c| c.fingerprint.as_deref()))
                            .execute(&mut *conn)
                            .await?
                    }
                    Some(expected) => {
                        sqlx::query(UPDATE_PAYMENT_SQL)
                            .bind(p.id.as_str())
                            .bind(expected)
                            .bind(p.status.as_str())
                            .bind(p.captured_amount)
                            .bind(p.refunded_amount)
                            .bind(p.provider_reference.as_deref())
                            .bind(p.failure_code.as_deref())
                            .bind(p.failure_message.as_deref())
                            .bind(p.version)
                            .bind(micros(p.updated_at))
                            .execute(&mut *conn)
                            .await?
                    }
                };
                if written.rows_affected() != 1 {
                    // Another writer moved the row on (or created it first).
                    return Ok(false);
                }
                let e = &t.event;
                sqlx::query(&INSERT_EVENT_SQL)
                    .bind(e.id.as_str())
                    .bind(e.payment_id.as_str())
                    .bind(e.merchant_id.as_str())
                    .bind(e.sequence)
                    .bind(e.kind.as_str())
                    .bind(e.from_status.map(|s| s.as_str()))
                    .bind(e.to_status.as_str())
                    .bind(e.amount)
                    .bind(e.refund_id.as_ref().map(|r| r.as_str()))
                    .bind(e.failure_code.as_deref())
                    .bind(micros(e.created_at))
                    .execute(&mut *conn)
                    .await?;
                if let Some(r) = &t.refund {
                    sqlx::query(&UPSERT_REFUND_SQL)
                        .bind(r.id.as_str())
                        .bind(r.payment_id.as_str())
                        .bind(r.merchant_id.as_str())
                        .bind(r.amount.minor_units())
                        .bind(r.status.as_str())
                        .bind(r.reason.map(|x| x.as_str()))
                        .bind(r.provider_reference.as_deref())
                        .bind(micros(r.created_at))
                        .bind(micros(r.updated_at))
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(true)
            }
        }

        #[async_trait::async_trait]
        impl payrail_core::ports::PaymentStore for $store {
            async fn commit(&self, t: &payrail_core::domain::Transition) -> Result<(), payrail_core::ports::StoreError> {
                let write = crate::store::writes::StoreWrite::transition(t.clone());
                match self.writer.commit(write).await?.row {
                    true => Ok(()),
                    // The version moved on, or the payment exists: nothing of it was written.
                    false => Err(payrail_core::ports::StoreError::Conflict),
                }
            }

            async fn commit_keyed(
                &self,
                t: &payrail_core::domain::Transition,
                records: &payrail_core::idempotency::KeyedRecords,
            ) -> Result<bool, payrail_core::ports::StoreError> {
                let write = crate::store::writes::StoreWrite::keyed(t.clone(), records);
                let applied = self.writer.commit(write).await?;
                match applied.row {
                    true => Ok(applied.reply),
                    // Nothing written: the version moved on, the payment exists, or the key is taken.
                    false => Err(payrail_core::ports::StoreError::Conflict),
                }
            }

            async fn load(
                &self,
                id: &payrail_core::domain::PaymentId,
            ) -> Result<Option<payrail_core::domain::Payment>, payrail_core::ports::StoreError> {
                let row: Option<crate::store::rows::PaymentRow> =
                    sqlx::query_as(&crate::store::sql::select_payment_sql("id = $1"))
                        .bind(id.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(crate::store::sql::store_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn find(
                &self,
                merchant: &payrail_core::domain::MerchantId,
                id: &payrail_core::domain::PaymentId,
            ) -> Result<Option<payrail_core::domain::Payment>, payrail_core::ports::StoreError> {
                let row: Option<crate::store::rows::PaymentRow> =
                    sqlx::query_as(&crate::store::sql::select_payment_sql("id = $1 AND merchant_id = $2"))
                        .bind(id.as_str())
                        .bind(merchant.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(crate::store::sql::store_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list_payments(
                &self,
                merchant: &payrail_core::domain::MerchantId,
                filter: &payrail_core::ports::PaymentFilter,
                page: &payrail_core::ports::PageRequest<payrail_core::domain::PaymentId>,
            ) -> Result<payrail_core::ports::Page<payrail_core::domain::Payment>, payrail_core::ports::StoreError> {
                use crate::store::sql::store_error;
                let (before_time, before_id) = match &page.starting_after {
                    None => (i64::MAX, String::new()),
                    Some(cursor) => {
                        let found: Option<(i64, String)> =
                            sqlx::query_as("SELECT created_at, id FROM payments WHERE id = $1 AND merchant_id = $2")
                                .bind(cursor.as_str())
                                .bind(merchant.as_str())
                                .fetch_optional(&self.pool)
                                .await
                                .map_err(store_error)?;
                        found.ok_or(payrail_core::ports::StoreError::UnknownCursor)?
                    }
                };
                let sql = crate::store::sql::list_payments_sql(filter.order_id.is_some());
                let mut query = sqlx::query_as::<_, crate::store::rows::PaymentRow>(&sql)
                    .bind(merchant.as_str())
                    .bind(before_time)
                    .bind(before_id)
                    .bind(i64::from(page.limit) + 1);
                if let Some(order_id) = &filter.order_id {
                    query = query.bind(order_id.as_str());
                }
                let rows = query.fetch_all(&self.pool).await.map_err(store_error)?;
                crate::store::page(rows, page.limit)
            }

            async fn list_events(
                &self,
                merchant: &payrail_core::domain::MerchantId,
                payment: &payrail_core::domain::PaymentId,
                page: &payrail_core::ports::PageRequest<payrail_core::domain::EventId>,
            ) -> Result<Option<payrail_core::ports::Page<payrail_core::domain::PaymentEvent>>, payrail_core::ports::StoreError> {
                use crate::store::sql::store_error;
                let owned: Option<(String,)> = sqlx::query_as("SELECT id FROM payments WHERE id = $1 AND merchant_id = $2")
                    .bind(payment.as_str())
                    .bind(merchant.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                if owned.is_none() {
                    return Ok(None);
                }
                let after = match &page.starting_after {
                    None => 0,
                    Some(cursor) => {
                        let found: Option<(i64,)> =
                            sqlx::query_as("SELECT sequence FROM payment_events WHERE id = $1 AND payment_id = $2")
                                .bind(cursor.as_str())
                                .bind(payment.as_str())
                                .fetch_optional(&self.pool)
                                .await
                                .map_err(store_error)?;
                        found.ok_or(payrail_core::ports::StoreError::UnknownCursor)?.0
                    }
                };
                let rows: Vec<crate::store::rows::EventRow> = sqlx::query_as(&crate::store::sql::list_events_sql())
                    .bind(payment.as_str())
                    .bind(after)
                    .bind(i64::from(page.limit) + 1)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                crate::store::page(rows, page.limit).map(Some)
            }

            async fn list_refunds(
                &self,
                payment: &payrail_core::domain::PaymentId,
            ) -> Result<Vec<payrail_core::domain::Refund>, payrail_core::ports::StoreError> {
                let rows: Vec<crate::store::rows::RefundRow> = sqlx::query_as(&crate::store::sql::list_refunds_sql())
                    .bind(payment.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(crate::store::sql::store_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn ping(&self) -> Result<(), payrail_core::ports::StoreError> {
                let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(crate::store::sql::store_error)?;
                if latest.unwrap_or(0) < crate::store::latest_migration() {
                    return Err(payrail_core::ports::StoreError::Unavailable("migrations not applied".into()));
                }
                Ok(())
            }
        }
    };
}

pub(crate) use sql_store;
