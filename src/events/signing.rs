//! Standard Webhooks signatures (standardwebhooks.com): a secret is `whsec_` + base64 of random
//! bytes; a delivery carries `webhook-signature: v1,<base64 HMAC-SHA256>` of
//! `"{webhook-id}.{webhook-timestamp}.{body}"` keyed with the decoded bytes — one `v1,` entry per
//! secret that signs (two during a rotation), separated by spaces.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::secret::Secret;

const PREFIX: &str = "whsec_";
/// 32 bytes: above the spec's minimum of 24, at the size of the HMAC-SHA256 block's half.
const SECRET_BYTES: usize = 32;

/// A fresh endpoint secret, `whsec_<base64 of 32 random bytes>`.
pub fn generate_secret() -> Secret {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    Secret::new(format!("{PREFIX}{}", STANDARD.encode(bytes)))
}

/// What later reads show of a secret: its prefix and first characters.
pub fn secret_hint(secret: &Secret) -> String {
    secret.expose().chars().take(PREFIX.len() + 4).collect()
}

/// One `v1,<base64>` signature of the message, or `None` if the secret is not `whsec_<base64>`.
pub fn sign(secret: &Secret, webhook_id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.expose().strip_prefix(PREFIX)?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{webhook_id}.{timestamp}.{body}").as_bytes());
    Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(secrets: &[Secret], webhook_id: &str, timestamp: i64, body: &str) -> String {
    let signatures: Vec<String> = secrets
        .iter()
        .filter_map(|secret| sign(secret, webhook_id, timestamp, body))
        .collect();
    signatures.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's test vector.
    #[test]
    fn signs_the_specification_example() {
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn generated_secrets_decode_to_32_bytes() {
        let secret = generate_secret();
        let encoded = secret.expose().strip_prefix(PREFIX).unwrap();
        assert_eq!(STANDARD.decode(encoded).unwrap().len(), 32);
        assert_eq!(secret_hint(&secret).len(), PREFIX.len() + 4);
    }
}
