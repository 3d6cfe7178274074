//! The lifecycle states of payments and refunds, with their wire names.

use std::fmt;
use std::str::FromStr;

/// Where a payment is in its life (DESIGN §3). Terminal: `failed`, `canceled`, `refunded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    /// Persisted, provider not yet answered.
    Pending,
    /// The provider's answer is unknown (timeout after sending); settled by webhook or reconciliation.
    Processing,
    /// The customer must act (3-D Secure) before the provider decides.
    RequiresAction,
    /// Funds are held; capture or cancel next.
    Authorized,
    /// Captured (in full or in part).
    Succeeded,
    PartiallyRefunded,
    Refunded,
    Failed,
    Canceled,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 9] = [
        PaymentStatus::Pending,
        PaymentStatus::Processing,
        PaymentStatus::RequiresAction,
        PaymentStatus::Authorized,
        PaymentStatus::Succeeded,
        PaymentStatus::PartiallyRefunded,
        PaymentStatus::Refunded,
        PaymentStatus::Failed,
        PaymentStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Processing => "processing",
            PaymentStatus::RequiresAction => "requires_action",
            PaymentStatus::Authorized => "authorized",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Canceled => "canceled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PaymentStatus::Failed | PaymentStatus::Canceled | PaymentStatus::Refunded
        )
    }

    /// Waiting for the provider's decision: the states the reconciler settles.
    pub fn is_awaiting_provider(self) -> bool {
        matches!(
            self,
            PaymentStatus::Pending | PaymentStatus::Processing | PaymentStatus::RequiresAction
        )
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PaymentStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PaymentStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A status string read back from storage that payrail does not know (a corrupted or newer row).
#[derive(Debug, thiserror::Error)]
#[error("unknown status `{0}`")]
pub struct UnknownStatus(pub String);

/// Whether an authorisation is captured at once or held for a later capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureMethod {
    Automatic,
    Manual,
}

impl CaptureMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMethod::Automatic => "automatic",
            CaptureMethod::Manual => "manual",
        }
    }
}

impl FromStr for CaptureMethod {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "automatic" => Ok(CaptureMethod::Automatic),
            "manual" => Ok(CaptureMethod::Manual),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

/// A refund's own lifecycle: providers may settle refunds later (by webhook).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
    Canceled,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
            RefundStatus::Canceled => "canceled",
        }
    }
}

impl FromStr for RefundStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(RefundStatus::Pending),
            "succeeded" => Ok(RefundStatus::Succeeded),
            "failed" => Ok(RefundStatus::Failed),
            "canceled" => Ok(RefundStatus::Canceled),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

/// Why a merchant refunds, in Stripe's vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
}

impl RefundReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundReason::Duplicate => "duplicate",
            RefundReason::Fraudulent => "fraudulent",
            RefundReason::RequestedByCustomer => "requested_by_customer",
        }
    }
}

impl FromStr for RefundReason {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "duplicate" => Ok(RefundReason::Duplicate),
            "fraudulent" => Ok(RefundReason::Fraudulent),
            "requested_by_customer" => Ok(RefundReason::RequestedByCustomer),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_wire_names() {
        for status in PaymentStatus::ALL {
            assert_eq!(status.as_str().parse::<PaymentStatus>().unwrap(), status);
        }
        assert!("paid".parse::<PaymentStatus>().is_err());
    }
}
