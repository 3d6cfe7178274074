//! Sensitive contact data at rest: a payment's `receipt_email`, sealed with AES-256-GCM
//! ([`Cipher`]) and stored with its key id in `payment_contacts`, beside (not inside) the payment
//! row. A create carrying its sealed email (`Transition.contact`) writes the row in the same
//! commit as the payment (`writes.rs`); there is no other write. Reads are scoped by merchant like
//! every other.
//!
//! [`Contacts::rotate`] re-seals every row whose key id is not the current one (`payrail
//! rotate-key`); each row is updated only if its key id is still the one read (compare-and-set),
//! so a rotation can run beside serving nodes and be re-run safely.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use payrail_core::domain::MerchantId;
use payrail_core::ports::StoreError;

use crate::crypto::{Cipher, Sealed};
use crate::store::backend::Backend;
use crate::store::columns::{names, placeholders, Value, CONTACTS};
use crate::store::error::store_error;
use crate::store::Database;

/// Rows re-sealed per round trip during rotation.
const ROTATE_BATCH: i64 = 500;

/// A new row; a retry of the same create (idempotency crash recovery) finds it there and leaves it.
pub(crate) static INSERT_CONTACT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO payment_contacts ({}) VALUES ({}) ON CONFLICT (payment_id) DO NOTHING",
        names(&CONTACTS),
        placeholders(&CONTACTS, 1)
    )
});

const TO_ROTATE_SQL: &str = "SELECT payment_id, receipt_email_sealed, key_id FROM payment_contacts \
     WHERE key_id <> $1 ORDER BY payment_id LIMIT $2";

const RESEAL_SQL: &str = "UPDATE payment_contacts SET receipt_email_sealed = $1, key_id = $2 \
     WHERE payment_id = $3 AND key_id = $4";

/// Sealed receipt emails over either backend.
#[derive(Clone)]
pub struct Contacts {
    database: Database,
    cipher: Arc<Cipher>,
}

impl Contacts {
    pub fn new(database: Database, cipher: Arc<Cipher>) -> Self {
        Self { database, cipher }
    }

    /// The receipt emails of `payments` that have one, opened, keyed by payment id.
    pub async fn receipt_emails(
        &self,
        merchant: &MerchantId,
        payments: &[&str],
    ) -> Result<HashMap<String, String>, StoreError> {
        if payments.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders: Vec<String> = (2..payments.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT payment_id, receipt_email_sealed, key_id FROM payment_contacts \
             WHERE merchant_id = $1 AND payment_id IN ({})",
            placeholders.join(", ")
        );
        let mut values = vec![Value::text(merchant.as_str())];
        values.extend(payments.iter().map(|id| Value::text(id)));
        let rows = self.fetch(&sql, values).await?;
        rows.into_iter()
            .map(|(payment_id, ciphertext, key_id)| {
                let email = self.open(&payment_id, ciphertext, key_id)?;
                Ok((payment_id, email))
            })
            .collect()
    }

    fn open(&self, payment_id: &str, ciphertext: String, key_id: String) -> Result<String, StoreError> {
        self.cipher
            .open(&Sealed { key_id, ciphertext }, payment_id)
            .map_err(|error| StoreError::Corrupt(format!("payment_contacts {payment_id}: {error}")))
    }

    /// Re-seals every row not under the current key; returns how many rows were re-sealed.
    pub async fn rotate(&self) -> Result<u64, StoreError> {
        let current = self.cipher.current_key_id().to_owned();
        let mut total = 0;
        loop {
            let rows = self
                .fetch(TO_ROTATE_SQL, vec![Value::text(&current), Value::int(ROTATE_BATCH)])
                .await?;
            if rows.is_empty() {
                return Ok(total);
            }
            for (payment_id, ciphertext, old_key) in rows {
                let email = self.open(&payment_id, ciphertext, old_key.clone())?;
                let sealed = self.cipher.seal(&email, &payment_id);
                let values = vec![
                    Value::text(&sealed.ciphertext),
                    Value::text(&sealed.key_id),
                    Value::text(&payment_id),
                    Value::text(&old_key),
                ];
                total += match &self.database {
                    Database::Sqlite(store) => store.pool().execute(RESEAL_SQL, values).await,
                    Database::Postgres(store) => store.pool().execute(RESEAL_SQL, values).await,
                }
                .map_err(store_error)?;
            }
        }
    }

    /// (payment id, sealed email, key id) rows.
    async fn fetch(&self, sql: &str, values: Vec<Value<'_>>) -> Result<Vec<(String, String, String)>, StoreError> {
        match &self.database {
            Database::Sqlite(store) => store.pool().fetch_all(sql, values).await,
            Database::Postgres(store) => store.pool().fetch_all(sql, values).await,
        }
        .map_err(store_error)
    }
}
