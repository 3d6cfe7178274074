//! What every provider's webhook module produces: a verified [`ParsedEvent`], or the
//! [`SignatureError`] that refused it. The adapters (`providers/*/webhook.rs`) implement the
//! provider's signature scheme and event format; `webhooks/` dedupes and applies what they return.
//! These types sit here, below both, so neither side imports the other's internals.

use payrail_core::domain::PaymentId;
use payrail_core::operation::ProviderUpdate;

/// A verified event, mapped to what payrail should do with it.
#[derive(Debug)]
pub struct ParsedEvent {
    pub id: String,
    pub kind: String,
    pub payment_id: Option<PaymentId>,
    pub update: Option<ProviderUpdate>,
}

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header missing")]
    Missing,
    #[error("signature header malformed")]
    Malformed,
    #[error("signature does not match")]
    Mismatch,
    #[error("signature timestamp outside the tolerance")]
    Stale,
}
