//! A change committed before its provider call (DESIGN §11.7, issue 14): a capture or cancel is
//! first recorded on the payment as a [`PendingChange`] — version-checked like every write, so two
//! nodes can never both send a change decided on the same version — then sent to the provider
//! with a key derived from the intent's id, then settled. A refund's intent is its own row,
//! `pending` and `awaiting_provider`, its amount already reserved in `refunded_amount`.

use crate::domain::{Amount, IntentId, PaymentId, RefundId};

/// Which change an intent on a payment records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Capture,
    Cancel,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Capture => "capture",
            ChangeKind::Cancel => "cancel",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ChangeKind::Capture, ChangeKind::Cancel]
            .into_iter()
            .find(|kind| kind.as_str() == s)
    }
}

/// A capture or cancel committed and (maybe) sent, whose outcome is not yet recorded. While it is
/// open no other capture or cancel of the payment is decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingChange {
    pub id: IntentId,
    pub kind: ChangeKind,
    /// A capture's amount, reserved against the authorisation (`captured_amount + amount ≤
    /// amount` is a CHECK in both schemas).
    pub amount: Option<Amount>,
}

impl PendingChange {
    /// The idempotency key the provider sees for this change: from the intent, never the version.
    pub fn provider_key(&self, payment: &PaymentId) -> String {
        format!("{payment}:{}:{}", self.kind.as_str(), self.id)
    }
}

/// The idempotency key the provider sees for a refund: its intent is the refund row itself.
pub fn refund_provider_key(payment: &PaymentId, refund: &RefundId) -> String {
    format!("{payment}:refund:{refund}")
}
