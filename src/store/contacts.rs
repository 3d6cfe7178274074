//! Sensitive contact data at rest: a payment's `receipt_email`, sealed with AES-256-GCM
//! ([`Cipher`]) and stored with its key id in `payment_contacts`, beside (not inside) the payment
//! row, so the payment commit path stays as it is. Reads are scoped by merchant like every other.
//!
//! [`Contacts::rotate`] re-seals every row whose key id is not the current one (`payrail
//! rotate-key`); each row is updated only if its key id is still the one read (compare-and-set),
//! so a rotation can run beside serving nodes and be re-run safely.

use std::collections::HashMap;
use std::sync::Arc;

use payrail_core::domain::{MerchantId, PaymentId};
use payrail_core::ports::StoreError;

use crate::crypto::{Cipher, Sealed};
use crate::store::sql::store_error;
use crate::store::Database;

/// Runs `$body` with `$pool` bound to whichever backend's pool `$db` holds.
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Database::Sqlite(store) => {
                let $pool = store.pool();
                $body
            }
            Database::Postgres(store) => {
                let $pool = store.pool();
                $body
            }
        }
    };
}

/// Rows re-sealed per round trip during rotation.
const ROTATE_BATCH: i64 = 500;

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

    /// Seals and stores the receipt email of a payment about to be created. A retry of the same
    /// create (idempotency crash recovery) finds the row already there and leaves it.
    pub async fn put(&self, merchant: &MerchantId, payment: &PaymentId, email: &str) -> Result<(), StoreError> {
        let sealed = self.cipher.seal(email, payment.as_str());
        let now = chrono::Utc::now().timestamp_micros();
        let sql = "INSERT INTO payment_contacts (payment_id, merchant_id, receipt_email_sealed, key_id, created_at) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payment_id) DO NOTHING";
        with_pool!(&self.database, |pool| sqlx::query(sql)
            .bind(payment.as_str())
            .bind(merchant.as_str())
            .bind(&sealed.ciphertext)
            .bind(&sealed.key_id)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(store_error))?;
        Ok(())
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
        let rows: Vec<(String, String, String)> = with_pool!(&self.database, |pool| {
            let mut query = sqlx::query_as(&sql).bind(merchant.as_str());
            for id in payments {
                query = query.bind(*id);
            }
            query.fetch_all(pool).await.map_err(store_error)?
        });
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
            let select = "SELECT payment_id, receipt_email_sealed, key_id FROM payment_contacts \
                          WHERE key_id <> $1 ORDER BY payment_id LIMIT $2";
            let rows: Vec<(String, String, String)> = with_pool!(&self.database, |pool| sqlx::query_as(select)
                .bind(&current)
                .bind(ROTATE_BATCH)
                .fetch_all(pool)
                .await
                .map_err(store_error)?);
            if rows.is_empty() {
                return Ok(total);
            }
            for (payment_id, ciphertext, old_key) in rows {
                let email = self.open(&payment_id, ciphertext, old_key.clone())?;
                let sealed = self.cipher.seal(&email, &payment_id);
                let update = "UPDATE payment_contacts SET receipt_email_sealed = $1, key_id = $2 \
                              WHERE payment_id = $3 AND key_id = $4";
                let done = with_pool!(&self.database, |pool| sqlx::query(update)
                    .bind(&sealed.ciphertext)
                    .bind(&sealed.key_id)
                    .bind(&payment_id)
                    .bind(&old_key)
                    .execute(pool)
                    .await
                    .map_err(store_error)?
                    .rows_affected());
                total += done;
            }
        }
    }
}
