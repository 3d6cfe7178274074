//! The `client` field of a Flutterwave v3 direct card charge: the JSON payload encrypted with the
//! account's 24-character encryption key under Triple DES (three-key EDE) in ECB mode with
//! PKCS#7 padding, then base64 — what Flutterwave's own v3 libraries send. v3 accepts nothing
//! else (v4 moved to AES-256-GCM). payrail would not choose ECB or Triple DES; the request also
//! travels over TLS, which is what actually protects it in transit.

use base64::Engine;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};
use des::TdesEde3;

const BLOCK: usize = 8;

/// The encryption key, ready to seal charge payloads.
pub struct PayloadCipher(TdesEde3);

/// The key is not 24 bytes.
#[derive(Debug, thiserror::Error)]
#[error("the Flutterwave encryption key must be 24 bytes")]
pub struct InvalidKey;

impl PayloadCipher {
    pub fn new(key: &[u8]) -> Result<Self, InvalidKey> {
        TdesEde3::new_from_slice(key).map(Self).map_err(|_| InvalidKey)
    }

    /// base64(3DES-ECB(PKCS#7(plaintext))).
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let pad = BLOCK - plaintext.len() % BLOCK;
        let mut buffer = Vec::with_capacity(plaintext.len() + pad);
        buffer.extend_from_slice(plaintext);
        buffer.resize(plaintext.len() + pad, pad as u8);
        for block in buffer.chunks_exact_mut(BLOCK) {
            self.0.encrypt_block(GenericArray::from_mut_slice(block));
        }
        let sealed = base64::engine::general_purpose::STANDARD.encode(&buffer);
        // The buffer held the card number in clear; do not leave it in freed memory.
        buffer.iter_mut().for_each(|b| *b = 0);
        sealed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from `openssl enc -des-ede3 -nosalt -K <hex of the key>` (ECB, PKCS#7),
    /// the same scheme as node-forge's `3DES-ECB` in Flutterwave's libraries.
    #[test]
    fn seals_as_openssl_and_flutterwaves_libraries_do() {
        let cipher = PayloadCipher::new(b"FLWSECK_TEST85d27f01c26e").unwrap();
        assert_eq!(cipher.seal(br#"{"a":1}"#), "LY13/skqNCU=");
        assert_eq!(
            cipher.seal(br#"{"card_number":"5531886652142950"}"#),
            "bFG9ElTnPwKBdn4CE3ef1OSnga4v5dc7+0SEVv9YLzcCFfKnif873w=="
        );
        assert_eq!(cipher.seal(b"").len(), 12, "an empty payload is one block of padding");
        assert!(PayloadCipher::new(b"too short").is_err());
    }
}
