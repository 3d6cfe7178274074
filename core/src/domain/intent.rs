//! A change committed before its provider call (DESIGN §11.7, issue 14): a capture or cancel is
//! first recorded on the payment as a [`PendingChange`] — version-checked like every write, so two
//! nodes can never both send a change decided on the same version — then sent to the provider
//! with a key derived from the intent's id, then settled. A refund's intent is its own row,
//! `pending` and `awaiting_provider`, its amount already reserved in `refunded_amount`. The
//! `Payment` methods at the end are the state machine's side of these steps, which
//! `Payment::apply` calls.

use chrono::{DateTime, Utc};

use crate::domain::{
    Amount, DomainError, EventKind, IntentId, Payment, PaymentId, PaymentStatus, Refund, RefundId, RefundReason,
    RefundStatus,
};

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

/// The state machine's side of intents (called from `Payment::apply`).
impl Payment {
    /// A refund reserved before its provider call: counted in `refunded_amount` at once, so a
    /// concurrent refund on another node is decided against what is left.
    pub(super) fn reserve_refund(
        &mut self,
        before: &Payment,
        id: RefundId,
        amount: Amount,
        reason: Option<RefundReason>,
        now: DateTime<Utc>,
    ) -> Result<(EventKind, Option<i64>, Refund), DomainError> {
        let amount = before.plan_refund(Some(amount))?;
        self.count_refund(amount);
        let refund = Refund {
            id,
            payment_id: self.id.clone(),
            merchant_id: self.merchant_id.clone(),
            amount,
            status: RefundStatus::Pending,
            reason,
            provider_reference: None,
            awaiting_provider: true,
            created_at: now,
            updated_at: now,
        };
        Ok((EventKind::Refunded, Some(amount.minor_units()), refund))
    }

    /// Counts a refund's money as promised back, and the status that follows.
    pub(super) fn count_refund(&mut self, amount: Amount) {
        self.refunded_amount += amount.minor_units();
        self.status = if self.refunded_amount == self.captured_amount {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        };
    }

    pub(super) fn require_no_pending_change(&self, operation: &'static str) -> Result<(), DomainError> {
        match &self.pending_change {
            Some(_) => Err(DomainError::InvalidState {
                operation,
                status: self.status,
            }),
            None => Ok(()),
        }
    }
}
