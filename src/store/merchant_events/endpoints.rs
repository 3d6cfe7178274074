//! Webhook endpoints: a merchant's endpoints written and read back (the endpoints API), the ones
//! the dispatcher has work for, an endpoint's deletion with its deliveries, and its secrets (the
//! current one, and the previous one kept through a rotation) re-sealed under the current data key
//! (`payrail rotate-key`, through `store/sealed.rs`).

use payrail_core::ports::StoreError;

use crate::crypto::Cipher;
use crate::store::columns::{endpoint_changes, names, placeholders, values, Value, ENDPOINTS};
use crate::store::merchant_events::rows::EndpointRow;
use crate::store::merchant_events::statements::{execute, execute_all, fetch_all, fetch_optional, Statement};
use crate::store::sealed::{self, SealedColumn};
use crate::store::Database;

/// The endpoint's signing secret, bound to the endpoint's id.
const SECRETS: SealedColumn = SealedColumn {
    table: "webhook_endpoints",
    id: "id",
    value: "secret_sealed",
    key_id: "secret_key_id",
};

/// The secret a rotation replaced, signing beside the new one until it expires (none: no key id).
const PREVIOUS_SECRETS: SealedColumn = SealedColumn {
    table: "webhook_endpoints",
    id: "id",
    value: "previous_secret_sealed",
    key_id: "previous_secret_key_id",
};

/// How many endpoint secrets a key rotation re-sealed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResealedSecrets {
    pub secrets: u64,
    pub previous_secrets: u64,
}

pub async fn insert_endpoint(db: &Database, row: &EndpointRow) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO webhook_endpoints ({}) VALUES ({})",
        names(&ENDPOINTS),
        placeholders(&ENDPOINTS, 1)
    );
    execute(db, &sql, values(&ENDPOINTS, row)).await.map(|_| ())
}

/// The columns of an endpoint's secrets, which only a rotation writes.
const SECRET_COLUMNS: [&str; 6] = [
    "secret_sealed",
    "secret_key_id",
    "secret_prefix",
    "previous_secret_sealed",
    "previous_secret_key_id",
    "previous_secret_expires_at",
];

/// Writes the `changed` columns of `row` and its `updated_at`, by id and merchant — only what the
/// caller changed, so that a concurrent write of another column (the dispatcher disabling the
/// endpoint, `payrail rotate-key` re-sealing its secret) is not overwritten with what the caller
/// read before it. False if there is no such endpoint.
pub async fn update_endpoint(db: &Database, row: &EndpointRow, changed: &[&str]) -> Result<bool, StoreError> {
    write_columns(db, row, changed, None).await
}

/// Writes `row`'s secrets (a rotation) if the current secret is still `replaced`: false if the
/// endpoint is gone or its secret changed meanwhile (another rotation, or a re-seal), in which
/// case the caller reads it again.
pub async fn rotate_endpoint_secret(db: &Database, row: &EndpointRow, replaced: &str) -> Result<bool, StoreError> {
    write_columns(db, row, &SECRET_COLUMNS, Some(("secret_sealed", replaced))).await
}

async fn write_columns(
    db: &Database,
    row: &EndpointRow,
    changed: &[&str],
    unchanged: Option<(&str, &str)>,
) -> Result<bool, StoreError> {
    let columns: Vec<_> = (endpoint_changes().iter())
        .filter(|c| c.name == "updated_at" || changed.contains(&c.name))
        .collect();
    let set: Vec<String> = (columns.iter().enumerate())
        .map(|(i, column)| format!("{} = ${}", column.name, i + 3))
        .collect();
    let mut sql = format!(
        "UPDATE webhook_endpoints SET {} WHERE id = $1 AND merchant_id = $2",
        set.join(", ")
    );
    let mut bound = vec![Value::text(&row.id), Value::text(&row.merchant_id)];
    bound.extend(columns.iter().map(|c| c.value(row)));
    if let Some((column, value)) = unchanged {
        sql.push_str(&format!(" AND {column} = ${}", bound.len() + 1));
        bound.push(Value::text(value));
    }
    execute(db, &sql, bound).await.map(|n| n == 1)
}

pub async fn find_endpoint(db: &Database, merchant: &str, id: &str) -> Result<Option<EndpointRow>, StoreError> {
    let sql = format!(
        "SELECT {} FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2",
        names(&ENDPOINTS)
    );
    fetch_optional(db, &sql, vec![Value::text(id), Value::text(merchant)]).await
}

pub async fn list_endpoints(db: &Database, merchant: &str) -> Result<Vec<EndpointRow>, StoreError> {
    let sql = format!(
        "SELECT {} FROM webhook_endpoints WHERE merchant_id = $1 ORDER BY created_at, id",
        names(&ENDPOINTS)
    );
    fetch_all(db, &sql, vec![Value::text(merchant)]).await
}

/// Every enabled endpoint with pending deliveries due by `now`.
pub async fn endpoints_with_due_deliveries(db: &Database, now: i64) -> Result<Vec<EndpointRow>, StoreError> {
    let sql = format!(
        "SELECT {} FROM webhook_endpoints w WHERE w.status = 'enabled' AND EXISTS (\
         SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.status = 'pending' \
         AND d.next_attempt_at >= 0 AND d.next_attempt_at <= $1 AND d.leased_until <= $1)",
        names(&ENDPOINTS)
    );
    fetch_all(db, &sql, vec![Value::int(now)]).await
}

/// Deletes an endpoint and its deliveries (their attempts stay as history).
pub async fn delete_endpoint(db: &Database, merchant: &str, id: &str) -> Result<bool, StoreError> {
    let found = find_endpoint(db, merchant, id).await?.is_some();
    if found {
        let statements = vec![
            Statement {
                sql: "DELETE FROM webhook_deliveries WHERE endpoint_id = $1".into(),
                values: vec![Value::text(id).into_owned()],
            },
            Statement {
                sql: "DELETE FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2".into(),
                values: vec![Value::text(id).into_owned(), Value::text(merchant).into_owned()],
            },
        ];
        execute_all(db, statements).await?;
    }
    Ok(found)
}

/// Re-seals every endpoint secret, current or previous, not under the current key.
pub async fn reseal_secrets(db: &Database, cipher: &Cipher) -> Result<ResealedSecrets, StoreError> {
    Ok(ResealedSecrets {
        secrets: sealed::reseal(db, cipher, &SECRETS).await?,
        previous_secrets: sealed::reseal(db, cipher, &PREVIOUS_SECRETS).await?,
    })
}
