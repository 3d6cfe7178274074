//! The Stripe adapter: PaymentIntents and Refunds over Stripe's form-encoded API, behind the core's
//! `Provider` port. This file is the small HTTP client; the wire mappings are in
//! [`transformers`], webhook signatures in [`webhook`].
//!
//! Every POST carries an `Idempotency-Key` derived from payrail's own key for the call (and the
//! step, for the two-step raw-card path), so a retry after a 5xx or a lost answer is replayed by
//! Stripe instead of charging twice.

pub mod ledger;
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

pub struct Stripe {
    client: reqwest::Client,
    base: String,
    secret_key: Secret,
}

/// A 2xx body, or the status and body of an error answer.
enum Answer {
    Ok(String),
    Error(reqwest::StatusCode, String),
}

impl Stripe {
    pub const NAME: &'static str = "stripe";

    pub fn new(client: reqwest::Client, api_base: &str, secret_key: Secret) -> Self {
        Self {
            client,
            base: format!("{}/v1", api_base.trim_end_matches('/')),
            secret_key,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, ProviderError> {
        let (status, body) = http::send_with_bearer(Self::NAME, request, self.secret_key.expose()).await?;
        Ok(if status.is_success() {
            Answer::Ok(body)
        } else {
            Answer::Error(status, body)
        })
    }

    async fn post(&self, path: &str, form: &wire::Form, idempotency_key: &str) -> Result<Answer, ProviderError> {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Idempotency-Key", idempotency_key)
            .form(form);
        self.send(request).await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Answer, ProviderError> {
        self.send(self.client.get(format!("{}{path}", self.base)).query(query))
            .await
    }
}

/// Parses a 2xx body; an unreadable success is an unknown outcome, not a failure.
fn parse<T: DeserializeOwned>(body: &str) -> Result<T, ProviderError> {
    serde_json::from_str(body).map_err(|e| ProviderError::Failed(format!("stripe: unexpected response: {e}")))
}

fn expect<T: DeserializeOwned>(answer: Answer) -> Result<T, ProviderError> {
    match answer {
        Answer::Ok(body) => parse(&body),
        Answer::Error(status, body) => Err(wire::error_from(status, &body)),
    }
}

fn reference(reference: &Option<String>) -> Result<&str, ProviderError> {
    reference.as_deref().ok_or_else(|| ProviderError::Rejected {
        code: "missing_provider_reference".into(),
        message: "the payment has no Stripe PaymentIntent".into(),
    })
}

#[async_trait]
impl Provider for Stripe {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizationOutcome, ProviderError> {
        let payment_method = match &request.method {
            PaymentMethod::Token(token) => token.expose().to_owned(),
            PaymentMethod::Card(card) => {
                let key = format!("{}:payment_method", request.idempotency_key);
                match self
                    .post("/payment_methods", &wire::payment_method_form(card), &key)
                    .await?
                {
                    Answer::Ok(body) => parse::<wire::PaymentMethodObject>(&body)?.id,
                    Answer::Error(status, body) => {
                        return wire::decline_from(status, &body).ok_or_else(|| wire::error_from(status, &body))
                    }
                }
            }
        };
        let form = wire::payment_intent_form(&request, &payment_method);
        match self.post("/payment_intents", &form, &request.idempotency_key).await? {
            Answer::Ok(body) => Ok(wire::intent_outcome(&parse(&body)?)),
            Answer::Error(status, body) => {
                wire::decline_from(status, &body).ok_or_else(|| wire::error_from(status, &body))
            }
        }
    }

    async fn capture(&self, request: CaptureRequest) -> Result<(), ProviderError> {
        let path = format!("/payment_intents/{}/capture", reference(&request.provider_reference)?);
        let answer = self
            .post(&path, &wire::capture_form(&request), &request.idempotency_key)
            .await?;
        expect::<wire::PaymentIntent>(answer).map(|_| ())
    }

    async fn cancel(&self, request: CancelRequest) -> Result<(), ProviderError> {
        let path = format!("/payment_intents/{}/cancel", reference(&request.provider_reference)?);
        let answer = self.post(&path, &Vec::new(), &request.idempotency_key).await?;
        expect::<wire::PaymentIntent>(answer).map(|_| ())
    }

    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let intent = reference(&request.provider_reference)?;
        let form = wire::refund_form(&request, intent);
        let refund: wire::RefundObject = expect(self.post("/refunds", &form, &request.idempotency_key).await?)?;
        Ok(RefundOutcome {
            status: wire::refund_status(&refund.status),
            provider_reference: Some(refund.id),
        })
    }

    async fn retrieve(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        let intent = match &request.provider_reference {
            Some(id) => expect::<wire::PaymentIntent>(self.get(&format!("/payment_intents/{id}"), &[]).await?)?,
            None => {
                let query = wire::search_query(request.payment_id.as_str());
                let found: wire::SearchResult<wire::PaymentIntent> =
                    expect(self.get("/payment_intents/search", &[("query", &query)]).await?)?;
                match found.data.into_iter().next() {
                    Some(intent) => intent,
                    None => {
                        return Ok(AuthorizationOutcome::Unknown {
                            provider_reference: None,
                        })
                    }
                }
            }
        };
        Ok(wire::intent_outcome(&intent))
    }
}
