//! The Flutterwave v3 adapter: tokenized card charges, verification by `tx_ref`, and partial
//! refunds, in major units, behind the core's `Provider` port. Wire mappings are in
//! [`transformers`], webhook checks in [`webhook`].
//!
//! Raw card charges (`/v3/charges?type=card`) need a 3DES-encrypted payload, a separate encryption
//! key and PCI DSS enablement by Flutterwave; payrail refuses them with a clear error and takes
//! Flutterwave card tokens instead. v3 has no idempotency header: `tx_ref` (payrail's payment id)
//! identifies the charge, and a refund whose answer was lost is reported as an unknown outcome
//! rather than resent, because a resend could refund twice.
//!
//! Manual capture uses Flutterwave's card preauthorization: the charge is sent with
//! `preauthorize: true`, its `flw_ref` becomes payrail's provider reference, and capture, void and
//! refund go to `/v3/charges/{flw_ref}/capture`, `/void` and `/refund`.

pub mod transformers;
pub mod webhook;

use async_trait::async_trait;
use payrail_core::domain::{AuthorizationOutcome, PaymentMethod};
use payrail_core::ports::{
    AuthorizeRequest, CancelRequest, CaptureRequest, Provider, ProviderError, RefundOutcome, RefundRequest,
    RetrieveRequest,
};
use serde::de::DeserializeOwned;

use crate::config::Secret;
use crate::providers::http;
use transformers as wire;

pub struct Flutterwave {
    client: reqwest::Client,
    base: String,
    secret_key: Secret,
}

impl Flutterwave {
    pub const NAME: &'static str = "flutterwave";

    pub fn new(client: reqwest::Client, api_base: &str, secret_key: Secret) -> Self {
        Self {
            client,
            base: format!("{}/v3", api_base.trim_end_matches('/')),
            secret_key,
        }
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ProviderError> {
        let (status, body) = http::send_with_bearer(Self::NAME, request, self.secret_key.expose()).await?;
        if !status.is_success() {
            return Err(wire::error_from(status, &body));
        }
        let envelope: wire::Envelope<T> = serde_json::from_str(&body)
            .map_err(|e| ProviderError::Failed(format!("flutterwave: unexpected response: {e}")))?;
        match envelope.data {
            Some(data) if envelope.status == "success" => Ok(data),
            _ => Err(ProviderError::Rejected {
                code: "invalid_request".into(),
                message: envelope.message,
            }),
        }
    }
}

/// The `flw_ref` of a preauthorized charge; a payment captured at once has none to act on.
fn preauthorization(reference: &Option<String>) -> Result<&str, ProviderError> {
    match reference.as_deref() {
        Some(flw_ref) if wire::is_preauthorization(flw_ref) => Ok(flw_ref),
        _ => Err(ProviderError::Rejected {
            code: "missing_provider_reference".into(),
            message: "the payment has no Flutterwave preauthorization".into(),
        }),
    }
}

fn unsupported(what: &str) -> ProviderError {
    ProviderError::Rejected {
        code: "operation_not_supported".into(),
        message: format!("Flutterwave: {what} is not supported"),
    }
}

#[async_trait]
impl Provider for Flutterwave {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizationOutcome, ProviderError> {
        let PaymentMethod::Token(token) = &request.method else {
            return Err(unsupported("raw card details (send a Flutterwave card token)"));
        };
        let body = wire::tokenized_charge_body(&request, token.expose());
        let sent = self.client.post(format!("{}/tokenized-charges", self.base)).json(&body);
        let tx: wire::Transaction = self.send(sent).await?;
        let (currency, amount) = (request.currency, request.amount.minor_units());
        Ok(if request.capture {
            wire::transaction_outcome(&tx, Some(currency), Some(amount))
        } else {
            wire::preauthorization_outcome(&tx, currency, amount)
        })
    }

    async fn capture(&self, request: CaptureRequest) -> Result<(), ProviderError> {
        let flw_ref = preauthorization(&request.provider_reference)?;
        let url = format!("{}/charges/{flw_ref}/capture", self.base);
        let tx: wire::Transaction = self
            .send(self.client.post(url).json(&wire::capture_body(&request)))
            .await?;
        wire::charge_action_result(&tx, &["successful"])
    }

    async fn cancel(&self, request: CancelRequest) -> Result<(), ProviderError> {
        let flw_ref = preauthorization(&request.provider_reference)?;
        let url = format!("{}/charges/{flw_ref}/void", self.base);
        let tx: wire::Transaction = self.send(self.client.post(url)).await?;
        wire::charge_action_result(&tx, &["voided"])
    }

    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let reference = request
            .provider_reference
            .as_deref()
            .ok_or_else(|| ProviderError::Rejected {
                code: "missing_provider_reference".into(),
                message: "the payment has no Flutterwave transaction".into(),
            })?;
        let (url, body) = if wire::is_preauthorization(reference) {
            (
                format!("{}/charges/{reference}/refund", self.base),
                wire::preauthorization_refund_body(&request),
            )
        } else {
            (
                format!("{}/transactions/{reference}/refund", self.base),
                wire::refund_body(&request),
            )
        };
        let refund: wire::RefundObject = match self.send(self.client.post(url).json(&body)).await {
            Ok(refund) => refund,
            // No idempotency key: a resend after a lost answer could refund twice.
            Err(ProviderError::Failed(_)) => return Err(ProviderError::Timeout),
            Err(other) => return Err(other),
        };
        Ok(RefundOutcome {
            status: wire::refund_status(&refund.status),
            provider_reference: Some(refund.id.to_string()),
        })
    }

    async fn retrieve(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        let url = format!("{}/transactions/verify_by_reference", self.base);
        let sent = self.client.get(url).query(&[("tx_ref", request.payment_id.as_str())]);
        match self.send::<wire::Transaction>(sent).await {
            Ok(tx) => Ok(wire::transaction_outcome(
                &tx,
                Some(request.currency),
                Some(request.amount.minor_units()),
            )),
            Err(ProviderError::Rejected { .. }) => Ok(AuthorizationOutcome::Unknown {
                provider_reference: None,
            }),
            Err(other) => Err(other),
        }
    }
}
