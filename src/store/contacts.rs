//! Sensitive contact data at rest: a payment's `receipt_email`, sealed with AES-256-GCM
//! ([`Cipher`]) and stored with its key id in `payment_contacts`, beside (not inside) the payment
//! row. A create carrying its sealed email (`Transition.contact`) writes the row in the same
//! commit as the payment (`writes.rs`); there is no other write. Reads are scoped by merchant like
//! every other.
//!
//! [`Contacts::rotate`] re-seals every row whose key id is not the current one (`payrail
//! rotate-key`), through `sealed.rs` (compare-and-set per row), so a rotation can run beside
//! serving nodes and be re-run safely.

use std::collections::HashMap;
use std::sync::Arc;

use payrail_core::domain::MerchantId;
use payrail_core::ports::StoreError;

use crate::crypto::{Cipher, Sealed};
use crate::store::backend::Backend;
use crate::store::columns::Value;
use crate::store::error::store_error;
use crate::store::sealed::{self, SealedColumn};
use crate::store::Database;

/// The sealed receipt emails, bound to their payment's id.
const RECEIPT_EMAILS: SealedColumn = SealedColumn {
    table: "payment_contacts",
    id: "payment_id",
    value: "receipt_email_sealed",
    key_id: "key_id",
};

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
        sealed::reseal(&self.database, &self.cipher, &RECEIPT_EMAILS).await
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
