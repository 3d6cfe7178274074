//! The PayPal adapter: OAuth2 client credentials (the access token cached until shortly before it
//! expires), Orders v2 paid by card in one step, authorization capture and void, and capture
//! refunds, behind the core's `Provider` port. Wire mappings are in [`transformers`]; webhook
//! verification (through PayPal's verify-webhook-signature API) in [`webhook`].
//!
//! payrail's provider reference is the order id; captures, authorizations and refunds are found
//! from the order when needed. Every POST carries `PayPal-Request-Id` from payrail's key, so a
//! retry returns the first request's result instead of acting twice.

pub mod offline;
pub mod transformers;
pub mod webhook;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use payrail_core::domain::AuthorizationOutcome;
use payrail_core::ports::{
    AuthorizeRequest, CancelRequest, CaptureRequest, Provider, ProviderError, RefundOutcome, RefundRequest,
    RetrieveRequest,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::config::Secret;
use crate::providers::http;
use transformers as wire;

/// Tokens are renewed this long before PayPal says they expire.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

pub struct Paypal {
    client: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: Secret,
    token: Mutex<Option<(Secret, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

enum Answer {
    Ok(String),
    Error(reqwest::StatusCode, String),
}

impl Paypal {
    pub const NAME: &'static str = "paypal";

    pub fn new(client: reqwest::Client, base: &str, client_id: &str, client_secret: Secret) -> Self {
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
            token: Mutex::new(None),
        }
    }

    /// A valid access token, fetched once and shared until it nears expiry.
    async fn access_token(&self) -> Result<Secret, ProviderError> {
        let mut cached = self.token.lock().await;
        if let Some((token, expires)) = cached.as_ref() {
            if Instant::now() + TOKEN_MARGIN < *expires {
                return Ok(token.clone());
            }
        }
        let response = self
            .client
            .post(format!("{}/v1/oauth2/token", self.base))
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| http::transport_error(Self::NAME, e))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| http::transport_error(Self::NAME, e))?;
        if !status.is_success() {
            return Err(match http::status_error(Self::NAME, status) {
                // A token request moves no money: any failure is safe to retry or route around.
                Some(_) => ProviderError::Unavailable(format!("paypal: token endpoint HTTP {status}")),
                None => ProviderError::Rejected {
                    code: "authentication_failed".into(),
                    message: "PayPal refused the client credentials".into(),
                },
            });
        }
        let token: TokenResponse = serde_json::from_str(&body)
            .map_err(|e| ProviderError::Unavailable(format!("paypal: unexpected token response: {e}")))?;
        let token_secret = Secret::new(token.access_token);
        *cached = Some((
            token_secret.clone(),
            Instant::now() + Duration::from_secs(token.expires_in),
        ));
        Ok(token_secret)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Result<Answer, ProviderError> {
        for attempt in 0..2 {
            let token = self.access_token().await?;
            let mut request = self.client.request(method.clone(), format!("{}{path}", self.base));
            if let Some(key) = key {
                request = request.header("PayPal-Request-Id", key);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let (status, text) = http::send_with_bearer(Self::NAME, request, token.expose()).await?;
            if status == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
                // The token was revoked or expired early: fetch a new one and try once more.
                *self.token.lock().await = None;
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

    async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizationOutcome, ProviderError> {
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
        let body =
            json!({ "amount": wire::money(request.currency, request.amount.minor_units()), "final_capture": true });
        let path = format!("/v2/payments/authorizations/{authorization}/capture");
        let answer = self
            .send(
                reqwest::Method::POST,
                &path,
                Some(&body),
                Some(&request.idempotency_key),
            )
            .await?;
        expect::<Value>(answer).map(|_| ())
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
        let body = json!({ "amount": wire::money(request.currency, request.amount.minor_units()), "note_to_payer": request.reason.map(|r| r.as_str()) });
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
}
