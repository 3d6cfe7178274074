//! Appending to the audit chain on PostgreSQL: a plain transaction; a concurrent appender (another
//! node) that read the same head fails on the primary key of `seq` instead of forking the chain.

use payrail_core::audit::NewAuditEntry;
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::store::audit::{link, HEAD_SQL, INSERT_ENTRIES_SQL, INSERT_ROWS_PER_STATEMENT};
use crate::store::bind::push_row;
use crate::store::columns::{values, AUDIT_LOG};

pub(super) async fn append(pool: &PgPool, entries: &[NewAuditEntry]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let head: Option<(i64, String)> = sqlx::query_as(HEAD_SQL).fetch_optional(&mut *tx).await?;
    // Multi-row INSERTs, uncached: their text varies with the row count.
    for rows in link(head, entries).chunks(INSERT_ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Postgres>::new(INSERT_ENTRIES_SQL.as_str());
        insert.push_values(rows, |mut row, entry| push_row(&mut row, values(&AUDIT_LOG, entry)));
        insert.build().persistent(false).execute(&mut *tx).await?;
    }
    tx.commit().await
}
