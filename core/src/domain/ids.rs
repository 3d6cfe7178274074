//! Identifiers: `pay_…`, `re_…`, `evt_…` (a prefix plus a UUID, as Stripe-style APIs do) and the
//! merchant that owns a resource.
//!
//! Parsing is strict: an id that does not have the right prefix and a valid UUID cannot name a
//! resource, so the HTTP edge turns it into a 404 without touching the database.

use std::fmt;

use uuid::Uuid;

use crate::domain::DomainError;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, Uuid::new_v4()))
            }

            /// Accepts only `<prefix><uuid>`, normalising the UUID to its lowercase hyphenated form.
            pub fn parse(raw: &str) -> Result<Self, DomainError> {
                let uuid = raw
                    .strip_prefix($prefix)
                    .and_then(|rest| Uuid::parse_str(rest).ok())
                    .ok_or(DomainError::MalformedId)?;
                Ok(Self(format!("{}{}", $prefix, uuid.hyphenated())))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// A payment: `pay_` followed by a UUID.
    PaymentId,
    "pay_"
);
prefixed_id!(
    /// A refund of a payment: `re_` followed by a UUID.
    RefundId,
    "re_"
);
prefixed_id!(
    /// A capture or cancel committed as an intent before its provider call: `int_` followed by a
    /// UUID. The provider's idempotency key derives from it, so no stale copy can reuse one.
    IntentId,
    "int_"
);
prefixed_id!(
    /// One row of a payment's event history: `evt_` followed by a UUID.
    EventId,
    "evt_"
);

/// The merchant that owns a payment: the `sub` of the caller's token. Every read and write is scoped
/// by it, so one merchant can never see or touch another's payments.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MerchantId(String);

impl MerchantId {
    /// The longest merchant id accepted.
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let valid = !raw.is_empty() && raw.len() <= Self::MAX_LEN && raw.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::MalformedId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = PaymentId::generate();
        assert!(id.as_str().starts_with("pay_"));
        assert_eq!(PaymentId::parse(id.as_str()).unwrap(), id);
        assert!(PaymentId::parse("re_00000000-0000-0000-0000-000000000000").is_err());
        assert!(PaymentId::parse("pay_nope").is_err());
        assert!(PaymentId::parse("").is_err());
        assert!(RefundId::parse(RefundId::generate().as_str()).is_ok());
    }

    #[test]
    fn merchant_ids_are_printable_and_bounded() {
        assert!(MerchantId::parse("merchant_1").is_ok());
        assert!(MerchantId::parse("").is_err());
        assert!(MerchantId::parse("has space").is_err());
        assert!(MerchantId::parse(&"m".repeat(129)).is_err());
    }
}
