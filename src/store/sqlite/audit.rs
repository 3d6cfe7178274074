//! Appending to the audit chain on SQLite: `BEGIN IMMEDIATE`, or reading the head and then writing
//! would fail with `SQLITE_BUSY_SNAPSHOT` whenever a payment committed in between.

use payrail_core::audit::NewAuditEntry;
use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use crate::store::audit::{link, HEAD_SQL, INSERT_ENTRIES_SQL, INSERT_ROWS_PER_STATEMENT};
use crate::store::bind::push_row;
use crate::store::columns::{values, AUDIT_LOG};

pub(super) async fn append(pool: &SqlitePool, entries: &[NewAuditEntry]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let head: Option<(i64, String)> = sqlx::query_as(HEAD_SQL).fetch_optional(&mut *tx).await?;
    // Multi-row INSERTs: a batch of a few hundred entries is a few statements, not a few hundred.
    // Their text varies with the row count, so they are not cached.
    for rows in link(head, entries).chunks(INSERT_ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Sqlite>::new(INSERT_ENTRIES_SQL.as_str());
        insert.push_values(rows, |mut row, entry| push_row(&mut row, values(&AUDIT_LOG, entry)));
        insert.build().persistent(false).execute(&mut *tx).await?;
    }
    tx.commit().await
}
