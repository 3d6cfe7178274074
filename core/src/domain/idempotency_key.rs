//! `IdempotencyKey`: what a merchant sends in the `Idempotency-Key` header, parsed at the edge so
//! that an invalid key cannot reach the store. A domain value: the store port and the idempotency
//! service both speak it.

use std::fmt;

/// 1–255 printable ASCII characters (space included), as the IETF draft and Stripe accept.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Option<Self> {
        let valid = !raw.is_empty() && raw.len() <= Self::MAX_LEN && raw.bytes().all(|b| (0x20..0x7f).contains(&b));
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_printable_ascii_characters() {
        assert!(IdempotencyKey::parse("order-42 retry").is_some());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_some());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_none());
        assert!(IdempotencyKey::parse("").is_none());
        assert!(IdempotencyKey::parse("tab\there").is_none());
        assert!(IdempotencyKey::parse("clé").is_none());
    }
}
