//! [`Secret`]: a key, token or password from configuration or a provider. `Debug` and `Display`
//! print `[redacted]`, the value is zeroed when dropped, and reading it takes an explicit
//! [`Secret::expose`], so a secret cannot reach a log line or an error body by accident.
//!
//! A leaf module: configuration, crypto, providers, auth and webhooks all hold secrets, so the
//! type lives below all of them. It wraps `secrecy::SecretString` (which does the zeroing and
//! keeps the value out of `Debug`) rather than hand-rolling that; payrail's own wrapper adds only
//! what `secrecy` leaves out on purpose — `Clone` for settings that are cloned into each client,
//! `Display`, and `serde` from a plain string — behind the one-word `expose()` the code already
//! reads.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// A secret value. `Debug` and `Display` never show it.
#[derive(Clone, Deserialize)]
#[serde(from = "String")]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The value itself, for the one call that needs it (a MAC key, an `Authorization` header).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_prints_redacted_and_reads_back_only_through_expose() {
        let secret: Secret = serde_json::from_str("\"sk_live_123\"").expect("a string deserializes");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(secret.clone().expose(), "sk_live_123");
    }
}
