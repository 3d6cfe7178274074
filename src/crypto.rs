//! Keyed cryptography for data at rest (DESIGN §4):
//!
//! - [`CardFingerprinter`]: HMAC-SHA256(key, PAN) so the same card can be recognised across
//!   payments without storing the number. Keyed, so the 10^9-ish PANs behind a known BIN and last4
//!   cannot be brute-forced from a leaked table without the key.
//! - [`Cipher`]: AES-256-GCM for sensitive values payrail keeps, each stored with the id of the key
//!   that sealed it so keys can be rotated (`payrail rotate-key`).

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use payrail_core::domain::{CardDetails, CardSummary};
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use sha2::Sha256;

use crate::secret::Secret;

/// Used when `CARD_FINGERPRINT_KEY` is unset in development; production refuses it.
pub const DEVELOPMENT_FINGERPRINT_KEY: &str = "payrail-development-card-fingerprint-key";

/// Computes keyed card fingerprints.
#[derive(Clone)]
pub struct CardFingerprinter {
    key: Secret,
}

impl CardFingerprinter {
    pub fn new(key: Secret) -> Self {
        Self { key }
    }

    /// Hex HMAC-SHA256 of the card number's digits.
    pub fn fingerprint(&self, card: &CardDetails) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(card.number.expose().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// What payrail stores of `card`: brand, last4, expiry and the fingerprint.
    pub fn summary(&self, card: &CardDetails) -> CardSummary {
        CardSummary {
            fingerprint: Some(self.fingerprint(card)),
            ..card.summary()
        }
    }
}

/// Used when `ENCRYPTION_KEY` is unset in development (id `dev`); production refuses it.
pub const DEVELOPMENT_ENCRYPTION_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Why a key could not be loaded or a value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption key `{0}` must be 32 bytes written as 64 hex digits")]
    BadKey(String),
    #[error("no encryption key with id `{0}` is configured")]
    UnknownKey(String),
    #[error("a sealed value could not be opened (corrupt, or bound to another record)")]
    Open,
}

/// A value sealed with AES-256-GCM: hex of `nonce || ciphertext || tag`, and the id of the key
/// that sealed it (stored in its own column beside the value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub ciphertext: String,
}

/// AES-256-GCM with a current key (seals) and older keys (open only, until `rotate-key` has
/// re-sealed everything under the current one). Each value is bound to its record by the
/// associated data (e.g. the payment id), so a ciphertext copied onto another row does not open.
pub struct Cipher {
    current_id: String,
    keys: HashMap<String, LessSafeKey>,
}

/// The core's sealing port: a receipt email sealed for the payment it belongs to, committed with
/// that payment (`payment_contacts`).
impl payrail_core::ports::ContactSealer for Cipher {
    fn seal(&self, payment: &payrail_core::domain::PaymentId, email: &str) -> payrail_core::domain::SealedContact {
        let Sealed { key_id, ciphertext } = Cipher::seal(self, email, payment.as_str());
        payrail_core::domain::SealedContact { key_id, ciphertext }
    }
}

impl Cipher {
    /// `current` is `(id, hex key)`; `previous` are older keys that may still be found in rows.
    pub fn new(current: (&str, &Secret), previous: &[(String, Secret)]) -> Result<Self, CryptoError> {
        let mut keys = HashMap::new();
        for (id, key) in previous.iter().map(|(id, key)| (id.as_str(), key)).chain([current]) {
            keys.insert(id.to_owned(), load_key(id, key)?);
        }
        Ok(Self {
            current_id: current.0.to_owned(),
            keys,
        })
    }

    pub fn current_key_id(&self) -> &str {
        &self.current_id
    }

    /// Seals `plaintext` under the current key with a fresh random 96-bit nonce.
    pub fn seal(&self, plaintext: &str, associated: &str) -> Sealed {
        let key = &self.keys[&self.current_id];
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let mut in_out = plaintext.as_bytes().to_vec();
        // Sealing only fails for inputs beyond GCM's ~64 GiB limit; payrail seals short fields.
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated.as_bytes()),
            &mut in_out,
        )
        .unwrap_or_else(|_| unreachable!("AES-GCM seals any input shorter than 64 GiB"));
        let mut out = nonce.to_vec();
        out.extend_from_slice(&in_out);
        Sealed {
            key_id: self.current_id.clone(),
            ciphertext: hex::encode(out),
        }
    }

    /// Opens a value sealed under any configured key.
    pub fn open(&self, sealed: &Sealed, associated: &str) -> Result<String, CryptoError> {
        let key = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        let bytes = hex::decode(&sealed.ciphertext).map_err(|_| CryptoError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Open)?;
        let mut in_out = rest.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(associated.as_bytes()), &mut in_out)
            .map_err(|_| CryptoError::Open)?;
        String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Open)
    }
}

fn load_key(id: &str, key: &Secret) -> Result<LessSafeKey, CryptoError> {
    let bytes = hex::decode(key.expose().trim()).map_err(|_| CryptoError::BadKey(id.to_owned()))?;
    let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| CryptoError::BadKey(id.to_owned()))?;
    Ok(LessSafeKey::new(unbound))
}

#[cfg(test)]
mod tests {
    use payrail_core::domain::{CardNumber, Cvc};

    use super::*;

    fn card(number: &str, exp_month: i64) -> CardDetails {
        CardDetails::new(
            CardNumber::parse(number).unwrap(),
            exp_month,
            2040,
            Cvc::parse("123").unwrap(),
            (2026, 1),
        )
        .unwrap()
    }

    #[test]
    fn fingerprints_recognise_a_card_and_depend_on_the_key() {
        let a = CardFingerprinter::new(Secret::new("key-a"));
        let b = CardFingerprinter::new(Secret::new("key-b"));
        let visa = card("4242424242424242", 1);
        assert_eq!(a.fingerprint(&visa), a.fingerprint(&card("4242 4242 4242 4242", 7)));
        assert_ne!(a.fingerprint(&visa), a.fingerprint(&card("5555555555554444", 1)));
        assert_ne!(a.fingerprint(&visa), b.fingerprint(&visa));
        assert_eq!(a.fingerprint(&visa).len(), 64);
    }
}

#[cfg(test)]
mod cipher_tests {
    use super::*;

    fn key(byte: u8) -> Secret {
        Secret::new(hex::encode([byte; 32]))
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_record() {
        let k1 = key(1);
        let cipher = Cipher::new(("k1", &k1), &[]).unwrap();
        let sealed = cipher.seal("ada@example.com", "pay_1");
        assert_eq!(sealed.key_id, "k1");
        let bytes = hex::decode(&sealed.ciphertext).unwrap();
        assert!(
            !bytes.windows(3).any(|w| w == b"ada"),
            "the plaintext is not in the ciphertext"
        );
        assert_eq!(bytes.len(), 12 + "ada@example.com".len() + 16, "nonce, ciphertext, tag");
        assert_ne!(sealed, cipher.seal("ada@example.com", "pay_1"), "fresh nonce each time");
        assert_eq!(cipher.open(&sealed, "pay_1").unwrap(), "ada@example.com");
        assert!(matches!(cipher.open(&sealed, "pay_2"), Err(CryptoError::Open)));
        let mut tampered = sealed.clone();
        tampered.ciphertext.replace_range(30..32, "00");
        assert!(cipher.open(&tampered, "pay_1").is_err());
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_seals_with_the_new_key() {
        let (k1, k2) = (key(1), key(2));
        let old = Cipher::new(("k1", &k1), &[]).unwrap().seal("x@y.z", "p");
        let rotated = Cipher::new(("k2", &k2), &[("k1".into(), k1)]).unwrap();
        assert_eq!(rotated.open(&old, "p").unwrap(), "x@y.z");
        assert_eq!(rotated.seal("x@y.z", "p").key_id, "k2");
        let only_new = Cipher::new(("k2", &k2), &[]).unwrap();
        assert!(matches!(only_new.open(&old, "p"), Err(CryptoError::UnknownKey(_))));
    }

    #[test]
    fn keys_must_be_32_bytes_of_hex() {
        assert!(Cipher::new(("k", &Secret::new("abcd")), &[]).is_err());
        assert!(Cipher::new(("k", &Secret::new("zz".repeat(32))), &[]).is_err());
        assert!(Cipher::new(("k", &Secret::new(DEVELOPMENT_ENCRYPTION_KEY)), &[]).is_ok());
    }
}
