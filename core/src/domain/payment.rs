//! The payment state machine (DESIGN §3) as plain logic: `payment.apply(command, now)` either
//! refuses with a [`DomainError`] or returns the [`Transition`] to persist — the new payment value,
//! the event that records the change, and the refund it creates, if any.
//!
//! `apply` takes `&self` and has no side effects, so a refused command changes nothing, and the
//! caller can plan a provider call by applying first and persisting only after the provider agrees.
//! A little over 400 lines on purpose: every transition's rule reads in this one file (its tests
//! are in `payment_tests.rs`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::domain::{
    Amount, CaptureMethod, CardSummary, ChangeKind, Currency, DomainError, EventId, EventKind, IntentId, MerchantId,
    NextAction, PaymentEvent, PaymentId, PaymentStatus, PendingChange, RefundId, RefundReason, RefundStatus, ReturnUrl,
};

/// A payment as stored. Money fields are minor units; invariants (DESIGN §11.1):
/// `captured_amount ≤ amount` and `refunded_amount ≤ captured_amount`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub merchant_id: MerchantId,
    pub amount: Amount,
    pub currency: Currency,
    pub status: PaymentStatus,
    pub capture_method: CaptureMethod,
    pub captured_amount: i64,
    /// Sum of refunds that are pending or succeeded: money promised back is not refundable twice.
    pub refunded_amount: i64,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub order_id: Option<String>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub card: Option<CardSummary>,
    /// Where the customer goes after a customer action (the merchant's page).
    pub return_url: Option<ReturnUrl>,
    /// What the customer must do, while the payment is `requires_action`.
    pub next_action: Option<NextAction>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// A capture or cancel committed as an intent and not yet settled (see `intent.rs`).
    pub pending_change: Option<PendingChange>,
    /// Optimistic-concurrency version: 1 at creation, +1 per committed change.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A refund of part or all of a payment's captured amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub merchant_id: MerchantId,
    pub amount: Amount,
    pub status: RefundStatus,
    pub reason: Option<RefundReason>,
    pub provider_reference: Option<String>,
    /// Committed as an intent and not yet answered by the provider: the reconciler settles it
    /// from the provider's answer if the node that sent it died.
    pub awaiting_provider: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything needed to create a payment, already validated at the edge.
#[derive(Clone, Debug)]
pub struct NewPayment {
    pub id: PaymentId,
    pub merchant_id: MerchantId,
    pub amount: Amount,
    pub currency: Currency,
    pub capture_method: CaptureMethod,
    pub provider: String,
    pub order_id: Option<String>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub card: Option<CardSummary>,
    pub return_url: Option<ReturnUrl>,
}

/// The provider's answer to an authorisation, whether it came back on the call, by webhook, or
/// from reconciliation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationOutcome {
    /// Funds held, to be captured later.
    Authorized { provider_reference: String },
    /// Authorised and captured in one step.
    Captured { provider_reference: String },
    /// Declined or failed; nothing was charged.
    Declined {
        provider_reference: Option<String>,
        code: String,
        message: String,
    },
    /// The customer must complete an authentication step; `next_action` says which, when the
    /// provider's answer tells (a webhook may not).
    RequiresAction {
        provider_reference: String,
        next_action: Option<NextAction>,
    },
    /// The request may or may not have reached the provider: never guess, reconcile.
    Unknown { provider_reference: Option<String> },
}

/// A request to change a payment.
#[derive(Clone, Debug)]
pub enum Command {
    RecordAuthorization(AuthorizationOutcome),
    Capture {
        amount: Amount,
    },
    Cancel,
    /// Reserve a capture before the provider is asked (settled by `Capture` or `ReleaseChange`).
    RequestCapture {
        intent: IntentId,
        amount: Amount,
    },
    /// Record a cancel before the provider is asked (settled by `Cancel` or `ReleaseChange`).
    RequestCancel {
        intent: IntentId,
    },
    /// The provider refused the pending capture or cancel: the authorisation is as it was.
    ReleaseChange,
    /// Reserve a refund before the provider is asked: the refund row is `pending` and
    /// `awaiting_provider`, its amount counted in `refunded_amount`; `SettleRefund` records the
    /// provider's answer.
    RequestRefund {
        id: RefundId,
        amount: Amount,
        reason: Option<RefundReason>,
    },
    Refund {
        id: RefundId,
        amount: Amount,
        reason: Option<RefundReason>,
        status: RefundStatus,
        provider_reference: Option<String>,
    },
    /// The provider settled (or failed) a refund after it was requested: `refund` is the record as
    /// stored, `status` what the provider now says.
    SettleRefund {
        refund: Refund,
        status: RefundStatus,
        provider_reference: Option<String>,
    },
    /// A fresh payment moves to a fallback provider because the first one certainly did not act
    /// (unavailable or circuit open). Persisted before the fallback is called, so a crash never
    /// leaves the payment pointing at a provider that knows nothing of it.
    Reroute {
        provider: String,
    },
    /// Nobody completed the customer's action in time: the payment is canceled (the provider
    /// was told first).
    ExpireAction,
}

/// A change to persist atomically: the payment row (guarded by `expected_version`), its event, and
/// the refund row it creates or updates.
#[derive(Clone, Debug)]
pub struct Transition {
    /// `None` when the payment is being created, else the version the row must still have.
    pub expected_version: Option<i64>,
    pub payment: Payment,
    pub event: PaymentEvent,
    pub refund: Option<Refund>,
    /// The payment's sealed receipt email, written with its first transition (create only).
    pub contact: Option<SealedContact>,
}

/// A contact detail sealed for storage (AES-256-GCM by the service; the core never sees the key):
/// the id of the key that sealed it and the ciphertext, bound to the payment id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedContact {
    pub key_id: String,
    pub ciphertext: String,
}

impl Payment {
    /// A new payment in `pending`, persisted before any provider call.
    pub fn create(new: NewPayment, now: DateTime<Utc>) -> Transition {
        let payment = Payment {
            id: new.id,
            merchant_id: new.merchant_id,
            amount: new.amount,
            currency: new.currency,
            status: PaymentStatus::Pending,
            capture_method: new.capture_method,
            captured_amount: 0,
            refunded_amount: 0,
            provider: new.provider,
            provider_reference: None,
            order_id: new.order_id,
            description: new.description,
            metadata: new.metadata,
            card: new.card,
            return_url: new.return_url,
            next_action: None,
            failure_code: None,
            failure_message: None,
            pending_change: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let event = payment.event(EventKind::Created, None, Some(payment.amount.minor_units()), None, now);
        Transition {
            expected_version: None,
            payment,
            event,
            refund: None,
            contact: None,
        }
    }

    /// What a capture may still take.
    pub fn capturable_amount(&self) -> i64 {
        match self.status {
            PaymentStatus::Authorized => self.amount.minor_units() - self.captured_amount,
            _ => 0,
        }
    }

    /// What refunds may still return.
    pub fn refundable_amount(&self) -> i64 {
        self.captured_amount - self.refunded_amount
    }

    /// The amount a capture request would take, defaulting to everything authorised.
    pub fn plan_capture(&self, requested: Option<Amount>) -> Result<Amount, DomainError> {
        self.require_no_pending_change("capture")?;
        self.require(&[PaymentStatus::Authorized], "capture")?;
        let amount = requested.unwrap_or(self.amount);
        check_available("capture", amount, self.capturable_amount())?;
        Ok(amount)
    }

    /// The amount a refund request would return, defaulting to everything still refundable.
    pub fn plan_refund(&self, requested: Option<Amount>) -> Result<Amount, DomainError> {
        self.require(&[PaymentStatus::Succeeded, PaymentStatus::PartiallyRefunded], "refund")?;
        let available = self.refundable_amount();
        let amount = match requested {
            Some(amount) => amount,
            None => Amount::new(available).map_err(|_| DomainError::InvalidState {
                operation: "refund",
                status: self.status,
            })?,
        };
        check_available("refund", amount, available)?;
        Ok(amount)
    }

    /// Decides a command. Refusals leave `self` untouched; success returns the next state.
    pub fn apply(&self, command: Command, now: DateTime<Utc>) -> Result<Transition, DomainError> {
        let mut next = self.clone();
        next.version = self.version + 1;
        next.updated_at = now;
        let mut refund = None;
        let (kind, amount) = match command {
            Command::RecordAuthorization(outcome) => {
                let awaiting = [
                    PaymentStatus::Pending,
                    PaymentStatus::Processing,
                    PaymentStatus::RequiresAction,
                ];
                self.require(&awaiting, "record an authorization for")?;
                next.record_authorization(outcome)?
            }
            Command::Capture { amount } => {
                // Settling this payment's own capture intent, or a capture decided in one step.
                let amount = match self.pending_change.as_ref().map(|change| (change.kind, change.amount)) {
                    Some((ChangeKind::Capture, Some(reserved))) if reserved == amount => {
                        self.require(&[PaymentStatus::Authorized], "capture")?;
                        amount
                    }
                    _ => self.plan_capture(Some(amount))?,
                };
                next.captured_amount = amount.minor_units();
                next.status = PaymentStatus::Succeeded;
                next.pending_change = None;
                (EventKind::Captured, Some(amount.minor_units()))
            }
            Command::Cancel => {
                if !matches!(&self.pending_change, Some(change) if change.kind == ChangeKind::Cancel) {
                    self.require_no_pending_change("cancel")?;
                }
                self.require(&[PaymentStatus::Authorized], "cancel")?;
                next.status = PaymentStatus::Canceled;
                next.pending_change = None;
                (EventKind::Canceled, None)
            }
            Command::RequestCapture { intent, amount } => {
                let amount = self.plan_capture(Some(amount))?;
                next.pending_change = Some(PendingChange {
                    id: intent,
                    kind: ChangeKind::Capture,
                    amount: Some(amount),
                });
                (EventKind::CaptureRequested, Some(amount.minor_units()))
            }
            Command::RequestCancel { intent } => {
                self.require_no_pending_change("cancel")?;
                self.require(&[PaymentStatus::Authorized], "cancel")?;
                next.pending_change = Some(PendingChange {
                    id: intent,
                    kind: ChangeKind::Cancel,
                    amount: None,
                });
                (EventKind::CancelRequested, None)
            }
            Command::ReleaseChange => {
                let Some(change) = &self.pending_change else {
                    return Err(DomainError::InvalidState {
                        operation: "release a pending change of",
                        status: self.status,
                    });
                };
                next.pending_change = None;
                (EventKind::ChangeReleased, change.amount.map(Amount::minor_units))
            }
            Command::RequestRefund { id, amount, reason } => {
                let (kind, amount, reserved) = next.reserve_refund(self, id, amount, reason, now)?;
                refund = Some(reserved);
                (kind, amount)
            }
            Command::Refund {
                id,
                amount,
                reason,
                status,
                provider_reference,
            } => {
                let amount = self.plan_refund(Some(amount))?;
                next.count_refund(amount);
                refund = Some(Refund {
                    id,
                    payment_id: self.id.clone(),
                    merchant_id: self.merchant_id.clone(),
                    amount,
                    status,
                    reason,
                    provider_reference,
                    awaiting_provider: false,
                    created_at: now,
                    updated_at: now,
                });
                (EventKind::Refunded, Some(amount.minor_units()))
            }
            Command::SettleRefund {
                refund: current,
                status,
                provider_reference,
            } => {
                let (kind, amount, settled) = next.settle_refund(current, status, provider_reference, now)?;
                refund = Some(settled);
                (kind, amount)
            }
            Command::ExpireAction => {
                self.require(&[PaymentStatus::RequiresAction], "expire the customer action of")?;
                next.status = PaymentStatus::Canceled;
                next.failure_code = Some("action_expired".into());
                next.failure_message = Some("The customer did not complete the required action in time.".into());
                (EventKind::Canceled, None)
            }
            Command::Reroute { provider } => {
                self.require(&[PaymentStatus::Pending], "reroute")?;
                next.provider = provider;
                (EventKind::Rerouted, None)
            }
        };
        if next.status != PaymentStatus::RequiresAction {
            next.next_action = None;
        }
        let refund_id = refund.as_ref().map(|r: &Refund| r.id.clone());
        let mut event = next.event(kind, Some(self.status), amount, refund_id, now);
        event.failure_code = next.failure_code.clone().filter(|_| kind == EventKind::Failed);
        Ok(Transition {
            expected_version: Some(self.version),
            payment: next,
            event,
            refund,
            contact: None,
        })
    }

    fn record_authorization(&mut self, outcome: AuthorizationOutcome) -> Result<(EventKind, Option<i64>), DomainError> {
        let amount = self.amount.minor_units();
        Ok(match outcome {
            AuthorizationOutcome::Authorized { provider_reference } => {
                self.provider_reference = Some(provider_reference);
                self.status = PaymentStatus::Authorized;
                (EventKind::Authorized, Some(amount))
            }
            AuthorizationOutcome::Captured { provider_reference } => {
                self.provider_reference = Some(provider_reference);
                self.status = PaymentStatus::Succeeded;
                self.captured_amount = amount;
                (EventKind::Succeeded, Some(amount))
            }
            AuthorizationOutcome::Declined {
                provider_reference,
                code,
                message,
            } => {
                self.provider_reference = provider_reference.or(self.provider_reference.take());
                self.status = PaymentStatus::Failed;
                self.failure_code = Some(code);
                self.failure_message = Some(message);
                (EventKind::Failed, None)
            }
            AuthorizationOutcome::RequiresAction {
                provider_reference,
                next_action,
            } => {
                // A further step (an OTP after the PIN) is news; the same request again is not.
                let repeated = next_action.is_none() || next_action == self.next_action;
                if self.status == PaymentStatus::RequiresAction && repeated {
                    return Err(DomainError::InvalidState {
                        operation: "request customer action for",
                        status: self.status,
                    });
                }
                self.provider_reference = Some(provider_reference);
                self.status = PaymentStatus::RequiresAction;
                self.next_action = next_action;
                (EventKind::RequiresAction, None)
            }
            AuthorizationOutcome::Unknown { provider_reference } => {
                // Only a fresh payment can become `processing`; a payment already waiting stays as is.
                if self.status != PaymentStatus::Pending {
                    return Err(DomainError::InvalidState {
                        operation: "mark as processing",
                        status: self.status,
                    });
                }
                self.provider_reference = provider_reference.or(self.provider_reference.take());
                self.status = PaymentStatus::Processing;
                (EventKind::Processing, None)
            }
        })
    }

    /// A refund's later status. Money promised back (pending, succeeded) stays counted in
    /// `refunded_amount`; a refund that fails or is canceled gives its amount back to refundable.
    fn settle_refund(
        &mut self,
        mut refund: Refund,
        status: RefundStatus,
        provider_reference: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(EventKind, Option<i64>, Refund), DomainError> {
        let counts = |s: RefundStatus| matches!(s, RefundStatus::Pending | RefundStatus::Succeeded);
        if refund.payment_id != self.id {
            return Err(DomainError::UnknownRefund);
        }
        // A settled refund does not come back to life, and a repeated status changes nothing —
        // except the provider's first answer to an intent, which records that it was heard.
        if (refund.status == status && !refund.awaiting_provider)
            || !counts(refund.status)
            || (refund.status == RefundStatus::Succeeded && counts(status))
        {
            return Err(DomainError::InvalidState {
                operation: "settle a refund of",
                status: self.status,
            });
        }
        if !counts(status) {
            self.refunded_amount -= refund.amount.minor_units();
            self.status = match self.refunded_amount {
                0 => PaymentStatus::Succeeded,
                _ => PaymentStatus::PartiallyRefunded,
            };
        }
        refund.status = status;
        refund.awaiting_provider = false;
        refund.provider_reference = provider_reference.or(refund.provider_reference.take());
        refund.updated_at = now;
        Ok((EventKind::RefundUpdated, Some(refund.amount.minor_units()), refund))
    }

    fn require(&self, allowed: &[PaymentStatus], operation: &'static str) -> Result<(), DomainError> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(DomainError::InvalidState {
                operation,
                status: self.status,
            })
        }
    }

    fn event(
        &self,
        kind: EventKind,
        from_status: Option<PaymentStatus>,
        amount: Option<i64>,
        refund_id: Option<RefundId>,
        now: DateTime<Utc>,
    ) -> PaymentEvent {
        PaymentEvent {
            id: EventId::generate(),
            payment_id: self.id.clone(),
            merchant_id: self.merchant_id.clone(),
            sequence: self.version,
            kind,
            from_status,
            to_status: self.status,
            amount,
            refund_id,
            failure_code: None,
            created_at: now,
        }
    }
}

fn check_available(operation: &'static str, amount: Amount, available: i64) -> Result<(), DomainError> {
    if amount.minor_units() > available {
        return Err(DomainError::AmountTooLarge {
            operation,
            requested: amount.minor_units(),
            available,
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "payment_tests.rs"]
mod tests;
