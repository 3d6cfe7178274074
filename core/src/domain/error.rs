//! Why the domain refuses something. Each variant maps to one API error code in `src/http/error.rs`.

use crate::domain::PaymentStatus;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{0}")]
    InvalidAmount(&'static str),
    #[error("unknown or unsupported currency")]
    UnknownCurrency,
    #[error("malformed identifier")]
    MalformedId,
    #[error("the card number is not a valid card number")]
    InvalidCardNumber,
    #[error("the card's security code is invalid")]
    InvalidCvc,
    #[error("the card's expiration month is invalid")]
    InvalidExpiryMonth,
    #[error("the card's expiration year is invalid")]
    InvalidExpiryYear,
    #[error("the card has expired")]
    ExpiredCard,
    #[error("cannot {operation} a payment whose status is {status}")]
    InvalidState {
        operation: &'static str,
        status: PaymentStatus,
    },
    #[error("requested {requested} exceeds the {available} available to {operation}")]
    AmountTooLarge {
        operation: &'static str,
        requested: i64,
        available: i64,
    },
    #[error("unknown refund")]
    UnknownRefund,
    #[error("the payment method token is malformed")]
    InvalidPaymentToken,
    /// A confirm named another input than the one the payment's next action asks for.
    #[error("the payment's next action asks for `{expected}`")]
    WrongActionInput { expected: &'static str },
}
