//! How a customer pays: raw card details (in memory only, on the way to the provider), or a token a
//! provider issued to the merchant's front end (`pm_…` for Stripe), which payrail passes through.
//! The token path is the PCI-lighter one: payrail never sees the card.

use std::fmt;

use crate::domain::{CardDetails, DomainError};

/// A provider-issued payment method token, e.g. Stripe's `pm_card_visa`. `Debug` shows only its
/// prefix: tokens are not card numbers, but they are still the customer's credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentToken(String);

impl PaymentToken {
    /// 3 to 255 printable ASCII characters, no spaces.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let ok = (3..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::InvalidPaymentToken)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PaymentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix: String = self.0.chars().take_while(|c| *c != '_').take(8).collect();
        write!(f, "PaymentToken({prefix}_…)")
    }
}

/// What the provider is asked to charge.
#[derive(Clone, Debug)]
pub enum PaymentMethod {
    Card(CardDetails),
    Token(PaymentToken),
}

impl PaymentMethod {
    pub fn card(&self) -> Option<&CardDetails> {
        match self {
            PaymentMethod::Card(card) => Some(card),
            PaymentMethod::Token(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_never_printed_whole() {
        let token = PaymentToken::parse("pm_card_visa").unwrap();
        assert_eq!(format!("{token:?}"), "PaymentToken(pm_…)");
        assert!(PaymentToken::parse("pm card").is_err());
        assert!(PaymentToken::parse("").is_err());
    }
}
