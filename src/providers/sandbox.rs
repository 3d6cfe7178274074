//! The sandbox provider: in-process, no keys, Stripe's test cards. The default, so payrail runs
//! and its tests pass offline.
//!
//! | card | outcome |
//! |---|---|
//! | 4242424242424242 (and any other Luhn-valid number) | success |
//! | 4000000000000002 | declined, `card_declined` |
//! | 4000000000009995 | declined, `insufficient_funds` |
//! | 4000000000000119 | failed, `processing_error` |
//! | 4000002500003155 | `requires_action` (3-D Secure) |
//!
//! Tokens follow Stripe's test PaymentMethods: `pm_card_visa_chargeDeclined` declines,
//! `pm_card_visa_chargeDeclinedInsufficientFunds` is refused for funds, any other token succeeds.

use std::time::Duration;

use async_trait::async_trait;
use payrail_core::domain::{AuthorizationOutcome, PaymentMethod, RefundStatus};
use payrail_core::ports::{
    AuthorizeRequest, CancelRequest, CaptureRequest, Provider, ProviderError, RefundOutcome, RefundRequest,
};
use uuid::Uuid;

pub struct Sandbox {
    latency: Duration,
}

impl Sandbox {
    pub const NAME: &'static str = "sandbox";

    pub fn new(latency: Duration) -> Self {
        Self { latency }
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
            "4000002500003155" => AuthorizationOutcome::RequiresAction { provider_reference },
            _ if request.capture => AuthorizationOutcome::Captured { provider_reference },
            _ => AuthorizationOutcome::Authorized { provider_reference },
        })
    }

    async fn capture(&self, _request: CaptureRequest) -> Result<(), ProviderError> {
        self.respond().await;
        Ok(())
    }

    async fn cancel(&self, _request: CancelRequest) -> Result<(), ProviderError> {
        self.respond().await;
        Ok(())
    }

    async fn refund(&self, _request: RefundRequest) -> Result<RefundOutcome, ProviderError> {
        self.respond().await;
        Ok(RefundOutcome {
            provider_reference: Some(reference("sb_re")),
            status: RefundStatus::Succeeded,
        })
    }
}
