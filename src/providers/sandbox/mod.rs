//! The sandbox provider: in-process, no keys, Stripe's test cards. The default, so payrail runs
//! and its tests pass offline.
//!
//! | card | outcome |
//! |---|---|
//! | 4242424242424242 (and any other Luhn-valid number) | success |
//! | 4000000000000002 | declined, `card_declined` |
//! | 4000000000009995 | declined, `insufficient_funds` |
//! | 4000000000000119 | failed, `processing_error` |
//! | 4000002500003155, 4000002760003184 | `requires_action`: a 3-D Secure challenge page |
//!
//! A challenged payment's `next_action` sends the customer to the sandbox's challenge page
//! ([`challenges`], served in development by `http/sandbox_challenge.rs`); the customer's return
//! (or the reconciler) then asks `retrieve`, as with a real provider.
//!
//! Tokens follow Stripe's test PaymentMethods: `pm_card_visa_chargeDeclined` declines,
//! `pm_card_visa_chargeDeclinedInsufficientFunds` is refused for funds, any other token succeeds.
//!
//! With a [`ledger::SandboxBook`] the sandbox records every charge it captured or declined and
//! every refund before it answers, as a provider keeps its own books: the reconciliation against
//! the provider's records (`reconcile-report`) reads them back. If the record cannot be written the
//! sandbox answers `Unavailable`, as a provider that could not act.

pub mod challenges;
pub mod ledger;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use payrail_core::domain::{AuthorizationOutcome, NextAction, PaymentMethod, RefundStatus};
use payrail_core::ports::{
    AuthorizeRequest, CancelRequest, CaptureRequest, Provider, ProviderError, RefundOutcome, RefundRequest,
    RetrieveRequest,
};

use challenges::Challenges;
use ledger::SandboxBook;
use uuid::Uuid;

use crate::reconciliation::ledger::{ProviderRecord, RecordStatus, RecordType};

pub struct Sandbox {
    latency: Duration,
    challenges: Arc<Challenges>,
    book: Option<Arc<dyn SandboxBook>>,
}

impl Sandbox {
    pub const NAME: &'static str = "sandbox";

    pub fn new(latency: Duration, challenges: Arc<Challenges>, book: Option<Arc<dyn SandboxBook>>) -> Self {
        Self {
            latency,
            challenges,
            book,
        }
    }

    /// Writes one entry of the sandbox's ledger (nothing without a book).
    async fn record(
        &self,
        record_type: RecordType,
        reference: &str,
        payment_id: &str,
        amount: i64,
        currency: &str,
        status: RecordStatus,
    ) -> Result<(), ProviderError> {
        let Some(book) = &self.book else { return Ok(()) };
        let record = ProviderRecord {
            record_type,
            reference: reference.to_owned(),
            payment_id: Some(payment_id.to_owned()),
            amount,
            currency: currency.to_owned(),
            status,
        };
        book.write(&record, chrono::Utc::now())
            .await
            .map_err(|e| ProviderError::Unavailable(format!("sandbox: ledger unavailable: {e}")))
    }

    async fn respond(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

fn reference(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::new_v4().simple())
}

#[async_trait]
impl Provider for Sandbox {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizationOutcome, ProviderError> {
        self.respond().await;
        let provider_reference = reference("sb_pi");
        let ledger_reference = provider_reference.clone();
        let declined = |code: &str, message: &str| AuthorizationOutcome::Declined {
            provider_reference: Some(provider_reference.clone()),
            code: code.into(),
            message: message.into(),
        };
        let number = match &request.method {
            PaymentMethod::Card(card) => card.number.expose(),
            PaymentMethod::Token(token) => match token.expose() {
                "pm_card_visa_chargeDeclined" => "4000000000000002",
                "pm_card_visa_chargeDeclinedInsufficientFunds" => "4000000000009995",
                _ => "4242424242424242",
            },
        };
        let outcome = match number {
            "4000000000000002" => declined("card_declined", "Your card was declined."),
            "4000000000009995" => declined("insufficient_funds", "Your card has insufficient funds."),
            "4000000000000119" => declined("processing_error", "An error occurred while processing your card."),
            "4000002500003155" | "4000002760003184" => {
                let url = self
                    .challenges
                    .open(&request.payment_id, &provider_reference, request.capture);
                AuthorizationOutcome::RequiresAction {
                    provider_reference,
                    next_action: Some(NextAction::RedirectToUrl { url }),
                }
            }
            _ if request.capture => AuthorizationOutcome::Captured { provider_reference },
            _ => AuthorizationOutcome::Authorized { provider_reference },
        };
        let status = match &outcome {
            AuthorizationOutcome::Captured { .. } => Some(RecordStatus::Succeeded),
            AuthorizationOutcome::Declined { .. } => Some(RecordStatus::Failed),
            _ => None,
        };
        if let Some(status) = status {
            let (amount, currency) = (request.amount.minor_units(), request.currency.code());
            let payment_id = request.payment_id.as_str();
            self.record(
                RecordType::Payment,
                &ledger_reference,
                payment_id,
                amount,
                currency,
                status,
            )
            .await?;
        }
        Ok(outcome)
    }

    async fn capture(&self, request: CaptureRequest) -> Result<(), ProviderError> {
        self.respond().await;
        if let Some(reference) = &request.provider_reference {
            let (amount, currency) = (request.amount.minor_units(), request.currency.code());
            let payment_id = request.payment_id.as_str();
            self.record(
                RecordType::Payment,
                reference,
                payment_id,
                amount,
                currency,
                RecordStatus::Succeeded,
            )
            .await?;
        }
        Ok(())
    }

    async fn cancel(&self, request: CancelRequest) -> Result<(), ProviderError> {
        self.respond().await;
        self.challenges.close(&request.payment_id);
        Ok(())
    }

    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, ProviderError> {
        self.respond().await;
        let refund_reference = reference("sb_re");
        let (amount, currency) = (request.amount.minor_units(), request.currency.code());
        let payment_id = request.payment_id.as_str();
        self.record(
            RecordType::Refund,
            &refund_reference,
            payment_id,
            amount,
            currency,
            RecordStatus::Succeeded,
        )
        .await?;
        Ok(RefundOutcome {
            provider_reference: Some(refund_reference),
            status: RefundStatus::Succeeded,
        })
    }

    /// A challenged payment's decision; the sandbox keeps no other record to ask about.
    async fn retrieve(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        self.respond().await;
        let outcome = self
            .challenges
            .outcome(&request.payment_id)
            .unwrap_or(AuthorizationOutcome::Unknown {
                provider_reference: None,
            });
        // A completed challenge that captured: the ledger learns of it here (a repeat is a no-op).
        if let AuthorizationOutcome::Captured { provider_reference } = &outcome {
            let (amount, currency) = (request.amount.minor_units(), request.currency.code());
            let payment_id = request.payment_id.as_str();
            self.record(
                RecordType::Payment,
                provider_reference,
                payment_id,
                amount,
                currency,
                RecordStatus::Succeeded,
            )
            .await?;
        }
        Ok(outcome)
    }
}
