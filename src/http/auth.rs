//! Authentication at the HTTP edge: the bearer token of a request, the [`AuthenticatedMerchant`]
//! extractor, and how a refusal reads to a client. Every failure is a 401 with
//! `WWW-Authenticate` and one of three codes (`missing_token`, `invalid_token`, `token_expired`),
//! one warn line with the request id and client address (never the token), and an audit record.
//!
//! Verifying the token itself is `auth.rs` ([`Jwt`]); this file only turns requests into tokens
//! and [`TokenError`]s into responses.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use payrail_core::domain::MerchantId;

pub use crate::auth::AuthenticatedMerchant;
use crate::auth::{Jwt, TokenError};
use crate::http::ApiError;

/// A merchant whose token was already verified for this request (by the rate limiter), kept in
/// the request's extensions so the extractor does not verify it twice.
#[derive(Debug, Clone)]
pub struct VerifiedMerchant(pub MerchantId);

impl FromRequest for AuthenticatedMerchant {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(
            authenticate(req)
                .map(AuthenticatedMerchant)
                .map_err(|code| rejected(req, code)),
        )
    }
}

/// The bearer token of a request, if it carries one (the rate limiter keys on it too).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

/// The client-facing code for a refused token.
fn refusal_code(error: TokenError) -> &'static str {
    match error {
        TokenError::Expired => "token_expired",
        TokenError::Invalid => "invalid_token",
    }
}

fn authenticate(req: &HttpRequest) -> Result<MerchantId, &'static str> {
    if let Some(verified) = req.extensions().get::<VerifiedMerchant>() {
        return Ok(verified.0.clone());
    }
    let Some(jwt) = req.app_data::<web::Data<Jwt>>() else {
        tracing::error!("JWT verifier missing from app data");
        return Err("invalid_token");
    };
    if !req.headers().contains_key(AUTHORIZATION) {
        return Err("missing_token");
    }
    let token = bearer_token(req.headers()).ok_or("invalid_token")?;
    jwt.verify(token).map_err(refusal_code)
}

/// Every authentication failure passes here: one warn line with the request id and client address
/// (never the token), then the 401.
fn rejected(req: &HttpRequest, code: &'static str) -> ApiError {
    let client = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    let request_id = crate::http::request_id(req);
    tracing::warn!(code, client = %client, request_id = %request_id, path = req.path(), "authentication failed");
    let error = ApiError::Unauthorized(code);
    crate::http::audit::authentication_failed(req, &error);
    error
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_bearer_token_is_read_case_insensitively_and_trimmed() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
    }

    proptest! {
        #[test]
        fn bearer_parsing_never_panics(value in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                headers.insert(AUTHORIZATION, value);
            }
            let _ = bearer_token(&headers);
        }
    }
}
