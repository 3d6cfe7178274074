//! The reconciler's scan: payments still awaiting their provider or customer (`pending`,
//! `processing`, `requires_action`), or
//! holding a change or refund committed as an intent and not yet settled, since a given time,
//! oldest first. Service-side, outside the core's ports: only the reconciler needs
//! it.

use payrail_core::domain::PaymentId;
use payrail_core::ports::StoreError;

use crate::store::backend::Backend;
use crate::store::columns::Value;
use crate::store::error::store_error;
use crate::store::Database;

/// One branch per partial index (`payments_awaiting`, `payments_pending_change`,
/// `refunds_awaiting_provider`), each naming its index's condition as the index does, so both
/// databases scan only the open work; a payment in two branches is reported once (below).
const AWAITING_SQL: &str = "SELECT id FROM (\
     SELECT id, updated_at FROM payments WHERE status IN ('pending', 'processing', 'requires_action') \
     AND updated_at <= $1 \
     UNION ALL SELECT id, updated_at FROM payments WHERE pending_change_id IS NOT NULL AND updated_at <= $1 \
     UNION ALL SELECT payment_id, updated_at FROM refunds WHERE awaiting_provider = 1 AND updated_at <= $1\
     ) AS open_work ORDER BY updated_at LIMIT $2";

/// The backlog leaves out `requires_action`: those wait for their customer (up to
/// `requires_action_ttl_secs`), not for their provider.
const BACKLOG_SQL: &str = "SELECT COUNT(DISTINCT id) FROM (\
     SELECT id FROM payments WHERE (status IN ('pending', 'processing') \
     OR pending_change_id IS NOT NULL) AND updated_at <= $1 \
     UNION ALL SELECT payment_id FROM refunds WHERE awaiting_provider = 1 AND updated_at <= $1\
     ) AS open_work";

impl Database {
    /// The reconciler's backlog: payments `pending` or `processing`, or holding an open intent
    /// or refund, since at least `updated_before_micros`.
    pub async fn awaiting_provider_count(&self, updated_before_micros: i64) -> Result<i64, StoreError> {
        let values = vec![Value::int(updated_before_micros)];
        let row: Option<(i64,)> = match self {
            Database::Sqlite(store) => store.pool().fetch_optional(BACKLOG_SQL, values).await,
            Database::Postgres(store) => store.pool().fetch_optional(BACKLOG_SQL, values).await,
        }
        .map_err(store_error)?;
        Ok(row.map_or(0, |(count,)| count))
    }

    /// Payments `pending`, `processing` or `requires_action` (issue 13: completed or expired by
    /// the reconciler), or with an open intent (issue 14), since at least `updated_before_micros`,
    /// oldest first, each once.
    pub async fn awaiting_provider(
        &self,
        updated_before_micros: i64,
        limit: i64,
    ) -> Result<Vec<PaymentId>, StoreError> {
        let values = vec![Value::int(updated_before_micros), Value::int(limit)];
        let rows: Vec<(String,)> = match self {
            Database::Sqlite(store) => store.pool().fetch_all(AWAITING_SQL, values).await,
            Database::Postgres(store) => store.pool().fetch_all(AWAITING_SQL, values).await,
        }
        .map_err(store_error)?;
        let mut seen = std::collections::HashSet::new();
        rows.into_iter()
            .filter(|(id,)| seen.insert(id.clone()))
            .map(|(id,)| PaymentId::parse(&id).map_err(|_| StoreError::Corrupt(format!("payment id {id}"))))
            .collect()
    }
}
