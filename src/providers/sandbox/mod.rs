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

pub mod challenges;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use payrail_core::domain::{AuthorizationOutcome, NextAction, PaymentMethod, RefundStatus};
use payrail_core::ports::{
    AuthorizeRequest, CancelRequest, CaptureRequest, Provider, ProviderError, RefundOutcome, RefundRequest,
    RetrieveRequest,
};

use challenges::Challenges;
use uuid::Uuid;

pub struct Sandbox {
    latency: Duration,
    challenges: Arc<Challenges>,
}

impl Sandbox {
    pub const NAME: &'static str = "sandbox";

    pub fn new(latency: Duration, challenges: Arc<Challenges>) -> Self {
        Self { latency, challenges }
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
        Ok(match number {
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
        })
    }

    async fn capture(&self, _request: CaptureRequest) -> Result<(), ProviderError> {
        self.respond().await;
        Ok(())
    }

    async fn cancel(&self, request: CancelRequest) -> Result<(), ProviderError> {
        self.respond().await;
        self.challenges.close(&request.payment_id);
        Ok(())
    }

    async fn refund(&self, _request: RefundRequest) -> Result<RefundOutcome, ProviderError> {
        self.respond().await;
        Ok(RefundOutcome {
            provider_reference: Some(reference("sb_re")),
            status: RefundStatus::Succeeded,
        })
    }

    /// A challenged payment's decision; the sandbox keeps no other record to ask about.
    async fn retrieve(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        self.respond().await;
        Ok(self
            .challenges
            .outcome(&request.payment_id)
            .unwrap_or(AuthorizationOutcome::Unknown {
                provider_reference: None,
            }))
    }
}
