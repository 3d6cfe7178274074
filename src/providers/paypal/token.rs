//! PayPal's OAuth2 client-credentials token for one credential (client id + secret), fetched once
//! and shared until shortly before it expires. One [`AccessTokens`] exists per configured
//! credential: the adapter and the webhook verifier hold the same one, so PayPal sees one token
//! request per expiry, not one per caller.

use std::time::{Duration, Instant};

use payrail_core::ports::ProviderError;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::config::Secret;
use crate::providers::http;

/// Tokens are renewed this long before PayPal says they expire.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

pub struct AccessTokens {
    client: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: Secret,
    cached: Mutex<Option<(Secret, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

impl AccessTokens {
    pub fn new(client: reqwest::Client, base: &str, client_id: &str, client_secret: Secret) -> Self {
        Self {
            client,
            token_url: format!("{}/v1/oauth2/token", base.trim_end_matches('/')),
            client_id: client_id.to_owned(),
            client_secret,
            cached: Mutex::new(None),
        }
    }

    /// A valid access token. The lock is held across the fetch so that concurrent callers wait
    /// for one token request instead of each making their own.
    pub async fn get(&self) -> Result<Secret, ProviderError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref() {
            if Instant::now() + TOKEN_MARGIN < *expires {
                return Ok(token.clone());
            }
        }
        let token = self.fetch().await?;
        let secret = Secret::new(token.access_token);
        *cached = Some((secret.clone(), Instant::now() + Duration::from_secs(token.expires_in)));
        Ok(secret)
    }

    /// Forgets the cached token (PayPal answered 401: revoked or expired early).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<TokenResponse, ProviderError> {
        let name = super::Paypal::NAME;
        let response = self
            .client
            .post(&self.token_url)
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| http::transport_error(name, e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| http::transport_error(name, e))?;
        if !status.is_success() {
            return Err(match http::status_error(name, status) {
                // A token request moves no money: any failure is safe to retry or route around.
                Some(_) => ProviderError::Unavailable(format!("paypal: token endpoint HTTP {status}")),
                None => ProviderError::Rejected {
                    code: "authentication_failed".into(),
                    message: "PayPal refused the client credentials".into(),
                },
            });
        }
        serde_json::from_str(&body)
            .map_err(|e| ProviderError::Unavailable(format!("paypal: unexpected token response: {e}")))
    }
}
