//! Payment events: one row per state change, committed in the same transaction as the change.
//!
//! The events table is a payment's history (`GET /payments/{id}/events`) and the outbox that the
//! audit trail and later outbound webhooks read, so an event is only ever created by the state
//! machine, together with the transition it records.

use chrono::{DateTime, Utc};

use crate::domain::{EventId, MerchantId, PaymentId, PaymentStatus, RefundId};

/// What happened, named as the API and the logs name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Authorized,
    Succeeded,
    Failed,
    RequiresAction,
    Processing,
    Captured,
    Canceled,
    Refunded,
    RefundUpdated,
    Rerouted,
    CaptureRequested,
    CancelRequested,
    ChangeReleased,
}

impl EventKind {
    pub const ALL: [EventKind; 14] = [
        EventKind::Created,
        EventKind::Authorized,
        EventKind::Succeeded,
        EventKind::Failed,
        EventKind::RequiresAction,
        EventKind::Processing,
        EventKind::Captured,
        EventKind::Canceled,
        EventKind::Refunded,
        EventKind::RefundUpdated,
        EventKind::Rerouted,
        EventKind::CaptureRequested,
        EventKind::CancelRequested,
        EventKind::ChangeReleased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "payment.created",
            EventKind::Authorized => "payment.authorized",
            EventKind::Succeeded => "payment.succeeded",
            EventKind::Failed => "payment.failed",
            EventKind::RequiresAction => "payment.requires_action",
            EventKind::Processing => "payment.processing",
            EventKind::Captured => "payment.captured",
            EventKind::Canceled => "payment.canceled",
            EventKind::Refunded => "payment.refunded",
            EventKind::RefundUpdated => "refund.updated",
            EventKind::Rerouted => "payment.rerouted",
            EventKind::CaptureRequested => "payment.capture_requested",
            EventKind::CancelRequested => "payment.cancel_requested",
            EventKind::ChangeReleased => "payment.change_released",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        EventKind::ALL.into_iter().find(|kind| kind.as_str() == s)
    }
}

/// One committed state change of one payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentEvent {
    pub id: EventId,
    pub payment_id: PaymentId,
    pub merchant_id: MerchantId,
    /// The payment's version after this change: 1 for creation, then +1 per change, gap-free.
    pub sequence: i64,
    pub kind: EventKind,
    pub from_status: Option<PaymentStatus>,
    pub to_status: PaymentStatus,
    /// The money this change moved (authorised, captured or refunded), if any.
    pub amount: Option<i64>,
    pub refund_id: Option<RefundId>,
    pub failure_code: Option<String>,
    pub created_at: DateTime<Utc>,
}
