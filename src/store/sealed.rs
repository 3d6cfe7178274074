//! Re-sealing values at rest under the current key (`payrail rotate-key`), for every column that
//! holds [`Cipher`]-sealed values: a receipt email (`contacts.rs`), a webhook endpoint's secret
//! and its previous secret kept through a rotation (`merchant_events/endpoints.rs`). Each column
//! is a [`SealedColumn`]: its table, the row id the value is bound to (the associated data), the
//! value and the key id beside it.
//!
//! A row is re-sealed only if it still holds what was read, key id and ciphertext alike
//! (compare-and-set): a serving node that changed it meanwhile (a new endpoint secret sealed under
//! the same old key, say) wins, and the rotation can run beside serving nodes and be re-run.

use payrail_core::ports::StoreError;

use crate::crypto::{Cipher, Sealed};
use crate::store::backend::Backend;
use crate::store::columns::Value;
use crate::store::error::store_error;
use crate::store::Database;

/// Rows re-sealed per round trip.
const BATCH: i64 = 500;

/// A column of sealed values, each bound to its row's id.
pub(crate) struct SealedColumn {
    pub table: &'static str,
    /// The row id: the value's associated data.
    pub id: &'static str,
    pub value: &'static str,
    pub key_id: &'static str,
}

/// Re-seals every value of `column` not under the current key (a row without a value has no key
/// id and is left alone); returns how many were re-sealed.
pub(crate) async fn reseal(db: &Database, cipher: &Cipher, column: &SealedColumn) -> Result<u64, StoreError> {
    let SealedColumn {
        table,
        id,
        value,
        key_id,
    } = column;
    let select = format!("SELECT {id}, {value}, {key_id} FROM {table} WHERE {key_id} <> $1 ORDER BY {id} LIMIT $2");
    let update =
        format!("UPDATE {table} SET {value} = $1, {key_id} = $2 WHERE {id} = $3 AND {key_id} = $4 AND {value} = $5");
    let current = cipher.current_key_id().to_owned();
    let mut total = 0;
    loop {
        let rows: Vec<(String, String, String)> =
            fetch(db, &select, vec![Value::text(&current), Value::int(BATCH)]).await?;
        if rows.is_empty() {
            return Ok(total);
        }
        // A row that lost its compare-and-set holds a newer value: if that one is under an old
        // key too, the next round reads it again.
        for (row_id, ciphertext, old_key) in rows {
            let old = Sealed {
                key_id: old_key,
                ciphertext,
            };
            let plaintext = cipher
                .open(&old, &row_id)
                .map_err(|error| StoreError::Corrupt(format!("{table}.{value} {row_id}: {error}")))?;
            let sealed = cipher.seal(&plaintext, &row_id);
            let values = vec![
                Value::text(&sealed.ciphertext),
                Value::text(&sealed.key_id),
                Value::text(&row_id),
                Value::text(&old.key_id),
                Value::text(&old.ciphertext),
            ];
            total += match db {
                Database::Sqlite(store) => store.pool().execute(&update, values).await,
                Database::Postgres(store) => store.pool().execute(&update, values).await,
            }
            .map_err(store_error)?;
        }
    }
}

async fn fetch(db: &Database, sql: &str, values: Vec<Value<'_>>) -> Result<Vec<(String, String, String)>, StoreError> {
    match db {
        Database::Sqlite(store) => store.pool().fetch_all(sql, values).await,
        Database::Postgres(store) => store.pool().fetch_all(sql, values).await,
    }
    .map_err(store_error)
}
