//! The Paystack adapter: charges (a reusable `authorization_code` token via
//! `charge_authorization`, or card details via `/charge`), verification by reference, and partial
//! refunds, in kobo, behind the core's `Provider` port. Wire mappings live in [`transformers`],
//! webhook signatures in [`webhook`].
//!
//! Paystack has no idempotency header. payrail's payment id is the transaction `reference`, which
//! Paystack refuses to reuse, so a retried charge that already went through comes back as a
//! duplicate and is answered by verifying the reference. Refunds carry payrail's key in
//! `merchant_note`, and a refund is looked up by it before a new one is created.
//! Paystack charges capture at once: a payment asking for manual capture is refused.

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

pub struct Paystack {
    client: reqwest::Client,
    base: String,
    secret_key: Secret,
}

impl Paystack {
    pub const NAME: &'static str = "paystack";

    pub fn new(client: reqwest::Client, api_base: &str, secret_key: Secret) -> Self {
        Self {
            client,
            base: api_base.trim_end_matches('/').to_owned(),
            secret_key,
        }
    }

    /// Sends a request and returns the envelope's `data` from a 2xx, or the mapped error.
    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ProviderError> {
        let (status, body) = http::send_with_bearer(Self::NAME, request, self.secret_key.expose()).await?;
        if !status.is_success() {
            return Err(wire::error_from(status, &body));
        }
        let envelope: wire::Envelope<T> = serde_json::from_str(&body)
            .map_err(|e| ProviderError::Failed(format!("paystack: unexpected response: {e}")))?;
        match envelope.data {
            Some(data) if envelope.status => Ok(data),
            _ => Err(ProviderError::Rejected {
                code: "invalid_request".into(),
                message: envelope.message,
            }),
        }
    }

    async fn verify(&self, reference: &str) -> Result<AuthorizationOutcome, ProviderError> {
        let url = format!("{}/transaction/verify/{reference}", self.base);
        match self.send::<wire::Transaction>(self.client.get(url)).await {
            Ok(tx) => Ok(wire::transaction_outcome(&tx)),
            Err(ProviderError::Rejected { code, .. }) if code == "resource_missing" || code == "invalid_request" => {
                Ok(AuthorizationOutcome::Unknown {
                    provider_reference: None,
                })
            }
            Err(other) => Err(other),
        }
    }
}

fn unsupported(what: &str) -> ProviderError {
    ProviderError::Rejected {
        code: "operation_not_supported".into(),
        message: format!("Paystack charges capture at once; {what} is not supported"),
    }
}

#[async_trait]
impl Provider for Paystack {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizationOutcome, ProviderError> {
        if !request.capture {
            return Err(unsupported("manual capture"));
        }
        let (path, body) = match &request.method {
            PaymentMethod::Token(code) => (
                "/transaction/charge_authorization",
                wire::charge_authorization_body(&request, code.expose()),
            ),
            PaymentMethod::Card(card) => ("/charge", wire::card_charge_body(&request, card)),
        };
        let sent = self.client.post(format!("{}{path}", self.base)).json(&body);
        match self.send::<wire::Transaction>(sent).await {
            Ok(tx) => Ok(wire::transaction_outcome(&tx)),
            // An earlier attempt with this reference reached Paystack: its outcome is the answer.
            Err(ProviderError::Rejected { code, .. }) if code == "duplicate_reference" => {
                self.verify(request.payment_id.as_str()).await
            }
            Err(other) => Err(other),
        }
    }

    async fn capture(&self, _request: CaptureRequest) -> Result<(), ProviderError> {
        Err(unsupported("a separate capture"))
    }

    async fn cancel(&self, _request: CancelRequest) -> Result<(), ProviderError> {
        Err(unsupported("voiding an authorisation"))
    }

    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let listed: Vec<wire::RefundObject> = self
            .send(
                self.client
                    .get(format!("{}/refund", self.base))
                    .query(&[("reference", request.payment_id.as_str())]),
            )
            .await?;
        let existing = listed
            .into_iter()
            .find(|r| r.merchant_note.as_deref() == Some(request.idempotency_key.as_str()));
        let refund = match existing {
            Some(refund) => refund,
            None => {
                let body = wire::refund_body(&request);
                self.send(self.client.post(format!("{}/refund", self.base)).json(&body))
                    .await?
            }
        };
        Ok(RefundOutcome {
            status: wire::refund_status(&refund.status),
            provider_reference: Some(refund.id.to_string()),
        })
    }

    async fn retrieve(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        self.verify(request.payment_id.as_str()).await
    }
}
