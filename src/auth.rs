//! Merchant authentication: HS256 bearer tokens whose `sub` is the merchant (DESIGN §9).
//!
//! The algorithm is pinned by payrail, never taken from the token, and `exp` is required. Handlers
//! receive an [`AuthenticatedMerchant`] extractor, so a handler that forgets authentication does not
//! compile into one that skips it.

use std::future::{ready, Ready};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use payrail_actors::domain::MerchantId;
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::http::ApiError;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
}

/// Checks tokens and issues them (for `payrail token` and the development token).
#[derive(Clone)]
pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Jwt {
    pub fn hs256(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    /// A token for `merchant`, valid for `ttl_secs`.
    pub fn issue(&self, merchant: &MerchantId, ttl_secs: u64) -> Result<String, jsonwebtoken::errors::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = Claims {
            sub: merchant.as_str().to_owned(),
            iat: Some(now),
            exp: now + ttl_secs,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The merchant a bearer token speaks for, or why not.
    pub fn verify(&self, token: &str) -> Result<MerchantId, ApiError> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            match error.kind() {
                ErrorKind::ExpiredSignature => ApiError::Unauthorized("token_expired"),
                _ => ApiError::Unauthorized("invalid_token"),
            }
        })?;
        MerchantId::parse(&data.claims.sub).map_err(|_| ApiError::Unauthorized("invalid_token"))
    }
}

/// Generates a random HS256 secret (development mode without `JWT_SECRET`).
pub fn generate_secret() -> Secret {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    Secret::new(hex::encode(bytes))
}

/// The merchant making the request, from a valid `Authorization: Bearer` token.
#[derive(Debug, Clone)]
pub struct AuthenticatedMerchant(pub MerchantId);

impl FromRequest for AuthenticatedMerchant {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let result = authenticate(req);
        if let Err(error) = &result {
            crate::http::audit::authentication_failed(req, error);
        }
        ready(result.map(AuthenticatedMerchant))
    }
}

fn authenticate(req: &HttpRequest) -> Result<MerchantId, ApiError> {
    let jwt = req.app_data::<web::Data<Jwt>>().ok_or(ApiError::Internal)?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized("missing_token"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthorized("invalid_token"))?;
    jwt.verify(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_name_the_merchant() {
        let jwt = Jwt::hs256(&Secret::new("test-secret"));
        let merchant = MerchantId::parse("m_1").unwrap();
        let token = jwt.issue(&merchant, 60).unwrap();
        assert_eq!(jwt.verify(&token).unwrap(), merchant);
    }

    #[test]
    fn tokens_from_another_secret_are_rejected() {
        let token = Jwt::hs256(&Secret::new("a"))
            .issue(&MerchantId::parse("m").unwrap(), 60)
            .unwrap();
        assert!(Jwt::hs256(&Secret::new("b")).verify(&token).is_err());
    }
}
