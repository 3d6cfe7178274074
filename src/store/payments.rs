//! [`PaymentStore`] for both backends: commits go to the group-commit writer (`writes.rs`); reads
//! are plain queries on the read pool, written once over [`Backend`].

use std::sync::LazyLock;

use payrail_core::domain::{EventId, MerchantId, Payment, PaymentEvent, PaymentId, Refund, Transition};
use payrail_core::ports::{KeyedRecords, KeyedWrite, Page, PageRequest, PaymentFilter, PaymentStore, StoreError};
use sqlx::Pool;

use crate::store::backend::{Backend, Store};
use crate::store::columns::{names, Value, EVENTS, PAYMENTS, REFUNDS};
use crate::store::error::store_error;
use crate::store::rows::{EventRow, PaymentRow, RefundRow};
use crate::store::writes::StoreWrite;

static LOAD_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM payments WHERE id = $1", names(&PAYMENTS)));

static FIND_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM payments WHERE id = $1 AND merchant_id = $2",
        names(&PAYMENTS)
    )
});

/// Newest first, keyset-paginated on (created_at, id) so pages are stable under inserts.
static LIST_PAYMENTS_SQL: LazyLock<String> = LazyLock::new(|| list_payments_sql(""));
static LIST_PAYMENTS_BY_ORDER_SQL: LazyLock<String> = LazyLock::new(|| list_payments_sql("AND order_id = $5 "));

fn list_payments_sql(order_filter: &str) -> String {
    format!(
        "SELECT {} FROM payments WHERE merchant_id = $1 {order_filter}\
         AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4",
        names(&PAYMENTS)
    )
}

const PAYMENT_CURSOR_SQL: &str = "SELECT created_at, id FROM payments WHERE id = $1 AND merchant_id = $2";

const OWNED_SQL: &str = "SELECT id FROM payments WHERE id = $1 AND merchant_id = $2";

const EVENT_CURSOR_SQL: &str = "SELECT sequence FROM payment_events WHERE id = $1 AND payment_id = $2";

static LIST_EVENTS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM payment_events WHERE payment_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3",
        names(&EVENTS)
    )
});

static LIST_REFUNDS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM refunds WHERE payment_id = $1 ORDER BY created_at, id",
        names(&REFUNDS)
    )
});

const LATEST_MIGRATION_SQL: &str = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";

#[async_trait::async_trait]
impl<DB: sqlx::Database> PaymentStore for Store<DB>
where
    Pool<DB>: Backend,
{
    async fn commit(&self, t: &Transition) -> Result<(), StoreError> {
        match self.writer.commit(StoreWrite::transition(t.clone())).await?.row {
            true => Ok(()),
            // The version moved on, or the payment exists: nothing of it was written.
            false => Err(StoreError::Conflict),
        }
    }

    async fn commit_keyed(&self, t: &Transition, records: &KeyedRecords) -> Result<KeyedWrite, StoreError> {
        let applied = self.writer.commit(StoreWrite::keyed(t.clone(), records)).await?;
        match applied.row {
            true => Ok(KeyedWrite {
                claimed: records.claim.is_some(),
                reply: records.reply.clone().filter(|_| applied.reply),
            }),
            // Nothing written: the version moved on, the payment exists, or the key is taken.
            false => Err(StoreError::Conflict),
        }
    }

    async fn load(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        let row: Option<PaymentRow> = self
            .pool()
            .fetch_optional(&LOAD_SQL, vec![Value::text(id.as_str())])
            .await
            .map_err(store_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn find(&self, merchant: &MerchantId, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        let values = vec![Value::text(id.as_str()), Value::text(merchant.as_str())];
        let row: Option<PaymentRow> = self
            .pool()
            .fetch_optional(&FIND_SQL, values)
            .await
            .map_err(store_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list_payments(
        &self,
        merchant: &MerchantId,
        filter: &PaymentFilter,
        page: &PageRequest<PaymentId>,
    ) -> Result<Page<Payment>, StoreError> {
        let (before_time, before_id) = match &page.starting_after {
            None => (i64::MAX, String::new()),
            Some(cursor) => {
                let values = vec![Value::text(cursor.as_str()), Value::text(merchant.as_str())];
                let found: Option<(i64, String)> = self
                    .pool()
                    .fetch_optional(PAYMENT_CURSOR_SQL, values)
                    .await
                    .map_err(store_error)?;
                found.ok_or(StoreError::UnknownCursor)?
            }
        };
        let mut values = vec![
            Value::text(merchant.as_str()),
            Value::int(before_time),
            Value::text(&before_id),
            Value::int(i64::from(page.limit) + 1),
        ];
        let sql: &str = match &filter.order_id {
            None => &LIST_PAYMENTS_SQL,
            Some(order_id) => {
                values.push(Value::text(order_id));
                &LIST_PAYMENTS_BY_ORDER_SQL
            }
        };
        let rows: Vec<PaymentRow> = self.pool().fetch_all(sql, values).await.map_err(store_error)?;
        crate::store::page(rows, page.limit)
    }

    async fn list_events(
        &self,
        merchant: &MerchantId,
        payment: &PaymentId,
        page: &PageRequest<EventId>,
    ) -> Result<Option<Page<PaymentEvent>>, StoreError> {
        let values = vec![Value::text(payment.as_str()), Value::text(merchant.as_str())];
        let owned: Option<(String,)> = self
            .pool()
            .fetch_optional(OWNED_SQL, values)
            .await
            .map_err(store_error)?;
        if owned.is_none() {
            return Ok(None);
        }
        let after = match &page.starting_after {
            None => 0,
            Some(cursor) => {
                let values = vec![Value::text(cursor.as_str()), Value::text(payment.as_str())];
                let found: Option<(i64,)> = self
                    .pool()
                    .fetch_optional(EVENT_CURSOR_SQL, values)
                    .await
                    .map_err(store_error)?;
                found.ok_or(StoreError::UnknownCursor)?.0
            }
        };
        let values = vec![
            Value::text(payment.as_str()),
            Value::int(after),
            Value::int(i64::from(page.limit) + 1),
        ];
        let rows: Vec<EventRow> = self
            .pool()
            .fetch_all(&LIST_EVENTS_SQL, values)
            .await
            .map_err(store_error)?;
        crate::store::page(rows, page.limit).map(Some)
    }

    async fn list_refunds(&self, payment: &PaymentId) -> Result<Vec<Refund>, StoreError> {
        let rows: Vec<RefundRow> = self
            .pool()
            .fetch_all(&LIST_REFUNDS_SQL, vec![Value::text(payment.as_str())])
            .await
            .map_err(store_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let latest: Option<(Option<i64>,)> = self
            .pool()
            .fetch_optional(LATEST_MIGRATION_SQL, Vec::new())
            .await
            .map_err(store_error)?;
        if latest.and_then(|(version,)| version).unwrap_or(0) < crate::store::latest_migration() {
            return Err(StoreError::Unavailable("migrations not applied".into()));
        }
        Ok(())
    }
}
