//! What every HTTP provider adapter shares: one reqwest client, and the mapping of transport
//! failures and HTTP statuses to [`ProviderError`] by what they say about the money.
//!
//! - connection refused / DNS / TLS before sending, 429, 503: certainly not executed → `Unavailable`
//!   (retry, or route elsewhere);
//! - other 5xx and 409 (a concurrent request with the same key): the provider may have acted →
//!   `Failed` (retry with the same idempotency key only);
//! - no answer in time → `Timeout` (reconcile).
//!
//! Error texts carry the provider's message and our URL, never a credential: keys travel only in
//! headers marked sensitive.

use std::time::Duration;

use payrail_core::ports::ProviderError;
use reqwest::header::HeaderValue;
use reqwest::StatusCode;

/// A client for one provider; connection pooling is per client.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .user_agent(concat!("payrail/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// An `Authorization` header value that reqwest and logs treat as sensitive.
/// One round trip, as every adapter makes it: `Authorization: Bearer <secret>`, send, read the
/// whole body. Transport failures are classified by [`transport_error`]; the status is the caller's.
pub async fn send_with_bearer(
    provider: &str,
    request: reqwest::RequestBuilder,
    secret: &str,
) -> Result<(StatusCode, String), ProviderError> {
    let response = request
        .header(reqwest::header::AUTHORIZATION, bearer(secret))
        .send()
        .await
        .map_err(|e| transport_error(provider, e))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| transport_error(provider, e))?;
    Ok((status, body))
}

pub fn bearer(secret: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(&format!("Bearer {secret}")).unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

/// A transport failure: refused before sending, or no answer in time.
pub fn transport_error(provider: &str, error: reqwest::Error) -> ProviderError {
    if error.is_connect() {
        ProviderError::Unavailable(format!("{provider}: cannot connect"))
    } else if error.is_timeout() {
        ProviderError::Timeout
    } else {
        // Sent, then the connection broke or the body was unreadable: the outcome is unknown.
        ProviderError::Failed(format!("{provider}: {}", error.without_url()))
    }
}

/// The transport-level meaning of a non-success status, or `None` when the body must decide
/// (4xx business errors).
pub fn status_error(provider: &str, status: StatusCode) -> Option<ProviderError> {
    match status.as_u16() {
        429 | 503 => Some(ProviderError::Unavailable(format!("{provider}: HTTP {status}"))),
        409 => Some(ProviderError::Failed(format!(
            "{provider}: HTTP {status} (request in progress)"
        ))),
        500..=599 => Some(ProviderError::Failed(format!("{provider}: HTTP {status}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_by_what_they_say_about_the_money() {
        assert!(matches!(
            status_error("x", StatusCode::SERVICE_UNAVAILABLE),
            Some(ProviderError::Unavailable(_))
        ));
        assert!(matches!(
            status_error("x", StatusCode::TOO_MANY_REQUESTS),
            Some(ProviderError::Unavailable(_))
        ));
        assert!(matches!(
            status_error("x", StatusCode::INTERNAL_SERVER_ERROR),
            Some(ProviderError::Failed(_))
        ));
        assert!(status_error("x", StatusCode::PAYMENT_REQUIRED).is_none());
    }

    #[test]
    fn bearer_headers_are_sensitive() {
        let header = bearer("sk_test_123");
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("sk_test_123"));
    }
}
