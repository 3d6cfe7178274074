//! Job leases (issue 14): a job that must run on one node at a time (the reconciler; next the
//! idempotency reaper, the audit appender, the merchant-webhook dispatcher) holds a row of
//! `job_leases` and renews it while it works. Another node takes the row over only once it has
//! expired, so a dead holder is replaced within the lease's length. A row rather than a
//! PostgreSQL advisory lock: the same statement on both backends, no connection pinned per job,
//! and visible to operators. On SQLite (one node) the lease is always the caller's.

use payrail_core::ports::{JobLease, StoreError};

use crate::store::backend::Backend;
use crate::store::columns::Value;
use crate::store::error::store_error;
use crate::store::Database;

/// Takes the lease if it is free, expired or already `holder`'s, and extends it to `expires_at`.
const HOLD_SQL: &str = "INSERT INTO job_leases (job, holder, expires_at, renewed_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, \
     renewed_at = excluded.renewed_at \
     WHERE job_leases.holder = excluded.holder OR job_leases.expires_at < excluded.renewed_at";

impl Database {
    /// Whether `holder` holds `job`'s lease until `expires_at_micros` after this call (`now_micros`).
    pub async fn hold_lease(
        &self,
        job: &str,
        holder: &str,
        now_micros: i64,
        expires_at_micros: i64,
    ) -> Result<bool, StoreError> {
        let values = || {
            vec![
                Value::text(job),
                Value::text(holder),
                Value::int(expires_at_micros),
                Value::int(now_micros),
            ]
        };
        let changed = match self {
            Database::Sqlite(store) => store.pool().execute(HOLD_SQL, values()).await,
            Database::Postgres(store) => store.pool().execute(HOLD_SQL, values()).await,
        }
        .map_err(store_error)?;
        Ok(changed == 1)
    }
}

/// [`JobLease`] over `job_leases`: this process is `holder`; a lease lasts `length` past each
/// renewal (`LEASE_SECS`, default 15), so a dead holder's jobs move within that.
pub struct DatabaseLeases {
    database: Database,
    holder: String,
    length: std::time::Duration,
}

impl DatabaseLeases {
    pub fn new(database: Database, length: std::time::Duration) -> Self {
        Self {
            database,
            holder: format!("node-{}", uuid::Uuid::new_v4().simple()),
            length,
        }
    }
}

#[async_trait::async_trait]
impl JobLease for DatabaseLeases {
    async fn hold(&self, job: &str) -> bool {
        let now = chrono::Utc::now().timestamp_micros();
        let until = now.saturating_add(i64::try_from(self.length.as_micros()).unwrap_or(i64::MAX));
        match self.database.hold_lease(job, &self.holder, now, until).await {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(job, %error, "cannot take the job's lease; skipping this pass");
                false
            }
        }
    }
}
