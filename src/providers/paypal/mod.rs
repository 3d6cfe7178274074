//! The PayPal adapter: Orders v2 paid by card in one step, authorization capture and void, and
//! capture refunds, behind the core's `Provider` port. Wire mappings are in [`transformers`], the
//! OAuth2 token (one cache per credential, shared with the webhook verifier) in [`token`], webhook
//! verification in [`webhook`] (through PayPal's API) and [`offline`].
//!
//! Every POST asks for `Prefer: return=representation`: PayPal answers with the minimal
//! representation (id, status, links) otherwise, and only the full one carries the order's
//! captures and authorizations, which say whether the card was charged. payrail's provider
//! reference is the order id. Every POST carries `PayPal-Request-Id` from payrail's key, so a retry
//! returns the first request's result instead of acting twice.

pub mod ledger;
pub mod offline;
pub mod token;
pub mod transformers;
pub mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use payrail_core::domain::{AuthorizationOutcome, Currency};
use payrail_core::ports::{
    AuthorizeRequest, CancelRequest, CaptureRequest, Provider, ProviderError, RefundOutcome, RefundRequest,
    RetrieveRequest,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::providers::http;
pub use token::AccessTokens;
use transformers as wire;

pub struct Paypal {
    client: reqwest::Client,
    base: String,
    tokens: Arc<AccessTokens>,
}

enum Answer {
    Ok(String),
    Error(reqwest::StatusCode, String),
}

impl Paypal {
    pub const NAME: &'static str = "paypal";

    pub fn new(client: reqwest::Client, base: &str, tokens: Arc<AccessTokens>) -> Self {
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            tokens,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Result<Answer, ProviderError> {
        for attempt in 0..2 {
            let token = self.tokens.get().await?;
            let mut request = self.client.request(method.clone(), format!("{}{path}", self.base));
            if let Some(key) = key {
                request = request.header("PayPal-Request-Id", key);
            }
            if method == reqwest::Method::POST {
                request = request.header("Prefer", "return=representation");
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let (status, text) = http::send_with_bearer(Self::NAME, request, token.expose()).await?;
            if status == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
                // The token was revoked or expired early: fetch a new one and try once more.
                self.tokens.invalidate().await;
                continue;
            }
            return Ok(if status.is_success() {
                Answer::Ok(text)
            } else {
                Answer::Error(status, text)
            });
        }
        Err(ProviderError::Rejected {
            code: "authentication_failed".into(),
            message: "PayPal refused the access token".into(),
        })
    }

    async fn order(&self, id: &str) -> Result<wire::Order, ProviderError> {
        expect(
            self.send(reqwest::Method::GET, &format!("/v2/checkout/orders/{id}"), None, None)
                .await?,
        )
    }

    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ProviderError> {
        expect(self.send(reqwest::Method::POST, path, Some(body), None).await?)
    }
}

fn expect<T: DeserializeOwned>(answer: Answer) -> Result<T, ProviderError> {
    match answer {
        Answer::Ok(body) if body.trim().is_empty() => {
            serde_json::from_str("null").map_err(|e| ProviderError::Failed(format!("paypal: {e}")))
        }
        Answer::Ok(body) => {
            serde_json::from_str(&body).map_err(|e| ProviderError::Failed(format!("paypal: unexpected response: {e}")))
        }
        Answer::Error(status, body) => Err(wire::error_from(status, &body)),
    }
}

fn order_id(reference: &Option<String>) -> Result<&str, ProviderError> {
    reference.as_deref().ok_or_else(|| ProviderError::Rejected {
        code: "missing_provider_reference".into(),
        message: "the payment has no PayPal order".into(),
    })
}

fn missing(what: &str) -> ProviderError {
    ProviderError::Rejected {
        code: "resource_missing".into(),
        message: format!("the PayPal order has no {what}"),
    }
}

#[async_trait]
impl Provider for Paypal {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn supports_currency(&self, currency: Currency) -> bool {
        wire::supports(currency)
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizationOutcome, ProviderError> {
        if !wire::supports(request.currency) {
            return Err(wire::currency_not_supported(request.currency));
        }
        let body = wire::order_body(&request);
        let key = Some(request.idempotency_key.as_str());
        match self
            .send(reqwest::Method::POST, "/v2/checkout/orders", Some(&body), key)
            .await?
        {
            Answer::Ok(text) => expect::<wire::Order>(Answer::Ok(text)).map(|order| wire::order_outcome(&order)),
            Answer::Error(status, text) => {
                wire::decline_from(status, &text).ok_or_else(|| wire::error_from(status, &text))
            }
        }
    }

    async fn capture(&self, request: CaptureRequest) -> Result<(), ProviderError> {
        let order = self.order(order_id(&request.provider_reference)?).await?;
        let authorization = order.authorization_id().ok_or_else(|| missing("authorization"))?;
        let body = wire::capture_body(&request);
        let path = format!("/v2/payments/authorizations/{authorization}/capture");
        let answer = self
            .send(
                reqwest::Method::POST,
                &path,
                Some(&body),
                Some(&request.idempotency_key),
            )
            .await?;
        wire::capture_result(&expect::<wire::Resource>(answer)?)
    }

    async fn cancel(&self, request: CancelRequest) -> Result<(), ProviderError> {
        let order = self.order(order_id(&request.provider_reference)?).await?;
        let authorization = order.authorization_id().ok_or_else(|| missing("authorization"))?;
        let path = format!("/v2/payments/authorizations/{authorization}/void");
        let answer = self
            .send(reqwest::Method::POST, &path, None, Some(&request.idempotency_key))
            .await?;
        expect::<Value>(answer).map(|_| ())
    }

    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let order = self.order(order_id(&request.provider_reference)?).await?;
        // Orders list captures made directly and those made from an authorization alike.
        let capture = order.capture_id().ok_or_else(|| missing("capture"))?;
        let body = wire::refund_body(&request);
        let path = format!("/v2/payments/captures/{capture}/refund");
        let answer = self
            .send(
                reqwest::Method::POST,
                &path,
                Some(&body),
                Some(&request.idempotency_key),
            )
            .await?;
        let refund: wire::Resource = expect(answer)?;
        Ok(RefundOutcome {
            status: wire::refund_status(&refund.status),
            provider_reference: Some(refund.id),
        })
    }

    async fn retrieve(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        // Without an order id, PayPal offers no search by payrail's reference: wait for a webhook.
        let Some(id) = request.provider_reference.as_deref() else {
            return Ok(AuthorizationOutcome::Unknown {
                provider_reference: None,
            });
        };
        Ok(wire::order_outcome(&self.order(id).await?))
    }

    /// An order the payer approved (`APPROVED`) is authorized or captured now, per its intent;
    /// any other order answers as it stands.
    async fn complete_action(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        let Some(id) = request.provider_reference.as_deref() else {
            return self.retrieve(request).await;
        };
        let order = self.order(id).await?;
        let Some(path) = wire::completion_path(&order) else {
            return Ok(wire::order_outcome(&order));
        };
        let key = format!("{}:complete_action", request.payment_id);
        match self
            .send(reqwest::Method::POST, &path, Some(&serde_json::json!({})), Some(&key))
            .await?
        {
            Answer::Ok(text) => expect::<wire::Order>(Answer::Ok(text)).map(|order| wire::order_outcome(&order)),
            Answer::Error(status, text) => {
                wire::decline_from(status, &text).ok_or_else(|| wire::error_from(status, &text))
            }
        }
    }
}
