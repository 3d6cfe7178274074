//! Merchant authentication: bearer JWTs whose `sub` is the merchant (DESIGN §9).
//!
//! The algorithm is pinned by configuration — HS256 with `JWT_SECRET`, or RS256 with the PEM in
//! `JWT_PUBLIC_KEY` — and never taken from the token, so `alg: none` and HS/RS confusion (an HS256
//! token "signed" with the RSA public key as its secret) are refused. `exp` is required, `nbf`
//! honoured, both with a small leeway for clock skew; `aud` and `iss` are checked when configured.
//! [`Jwt::verify`] answers with the merchant or a [`TokenError`] (expired, or invalid for any other
//! reason: nothing finer, so a client cannot learn which check failed).
//!
//! This file knows tokens, not requests. The HTTP side — reading the bearer token, the
//! [`AuthenticatedMerchant`] extractor (so a handler that forgets authentication does not compile
//! into one that skips it), the 401 with `WWW-Authenticate` and its audit line — is
//! `http/auth.rs`.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use payrail_core::domain::MerchantId;
use serde::{Deserialize, Serialize};

use crate::config::{Environment, JwtAlgorithm, Settings};
use crate::secret::Secret;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    /// Forged, malformed, not yet valid, for another audience or issuer, or naming no merchant.
    #[error("the token is not valid")]
    Invalid,
}

/// Why the configured verification key cannot be used (start-up and `payrail token` report it).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("JWT_PUBLIC_KEY is required for RS256")]
    MissingPublicKey,
    #[error("JWT_PUBLIC_KEY file {path}: {source}")]
    PublicKeyFile { path: String, source: std::io::Error },
    #[error("JWT_PUBLIC_KEY is not an RSA public key PEM: {0}")]
    NotRsaPem(jsonwebtoken::errors::Error),
    #[error("JWT_SECRET is required")]
    MissingSecret,
}

/// What payrail reads from a verified token; `exp`, `nbf`, `aud` and `iss` are checked by the
/// library (`aud` may be a string or a list, so it is not read here).
#[derive(Debug, Deserialize)]
struct VerifiedClaims {
    sub: String,
    /// `"operator"` for an operator's token (the console); a merchant token has none.
    #[serde(default)]
    role: Option<String>,
}

/// The role claim that opens the operator console and never the merchant API.
pub const OPERATOR_ROLE: &str = "operator";

/// What payrail signs.
#[derive(Debug, Serialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
}

/// Checks tokens and, with HS256, issues them (for `payrail token` and the development token).
#[derive(Clone)]
pub struct Jwt {
    algorithm: Algorithm,
    /// `None` with RS256: payrail holds only the public key and cannot sign.
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    validation: Validation,
    audience: Option<String>,
    issuer: Option<String>,
    /// The HS256 secret (configured or generated), for keys derived from it.
    secret: Option<Secret>,
}

impl Jwt {
    fn with_keys(algorithm: Algorithm, encoding: Option<EncodingKey>, decoding: DecodingKey) -> Self {
        // Only the configured algorithm is accepted; the token's header cannot widen this list.
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Self {
            algorithm,
            encoding,
            decoding,
            validation,
            audience: None,
            issuer: None,
            secret: None,
        }
    }

    /// HS256 with a shared secret.
    pub fn hs256(secret: &Secret) -> Self {
        Self {
            secret: Some(secret.clone()),
            ..Self::with_keys(
                Algorithm::HS256,
                Some(EncodingKey::from_secret(secret.expose().as_bytes())),
                DecodingKey::from_secret(secret.expose().as_bytes()),
            )
        }
    }

    /// The HS256 shared secret, if that is the configured algorithm (RS256 has none).
    pub fn shared_secret(&self) -> Option<&Secret> {
        self.secret.as_ref()
    }

    /// RS256 with the issuer's public key (PEM, PKCS#1 or SPKI). Verifies only; cannot issue.
    pub fn rs256(public_key_pem: &str) -> Result<Self, jsonwebtoken::errors::Error> {
        let decoding = DecodingKey::from_rsa_pem(public_key_pem.as_bytes())?;
        Ok(Self::with_keys(Algorithm::RS256, None, decoding))
    }

    /// Requires `aud` (one of the token's audiences) and/or `iss` to match. Per RFC 7519 §4.1.3 a
    /// token that carries an `aud` is refused when no audience is configured.
    pub fn expecting(mut self, audience: Option<&str>, issuer: Option<&str>) -> Self {
        let mut required = vec!["exp", "sub"];
        if let Some(audience) = audience {
            self.validation.set_audience(&[audience]);
            required.push("aud");
        }
        if let Some(issuer) = issuer {
            self.validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        self.validation.set_required_spec_claims(&required);
        self.audience = audience.map(str::to_owned);
        self.issuer = issuer.map(str::to_owned);
        self
    }

    /// The verifier configured by `settings.auth`, and whether its HS256 secret was generated for
    /// this run (development without `JWT_SECRET`).
    pub fn from_settings(settings: &Settings) -> Result<(Self, bool), KeyError> {
        let auth = &settings.auth;
        let (jwt, ephemeral) = match auth.algorithm() {
            JwtAlgorithm::Rs256 => {
                let value = auth.jwt_public_key.as_deref().ok_or(KeyError::MissingPublicKey)?;
                // The PEM itself, or (easier to pass around than a multi-line variable) a path to it.
                let pem = if value.contains("-----BEGIN") {
                    value.to_owned()
                } else {
                    std::fs::read_to_string(value).map_err(|source| KeyError::PublicKeyFile {
                        path: value.to_owned(),
                        source,
                    })?
                };
                (Self::rs256(&pem).map_err(KeyError::NotRsaPem)?, false)
            }
            JwtAlgorithm::Hs256 => match &auth.jwt_secret {
                Some(secret) => (Self::hs256(secret), false),
                None if settings.environment == Environment::Development => (Self::hs256(&generate_secret()), true),
                None => return Err(KeyError::MissingSecret),
            },
        };
        Ok((
            jwt.expecting(auth.jwt_audience.as_deref(), auth.jwt_issuer.as_deref()),
            ephemeral,
        ))
    }

    /// Whether this verifier can also sign tokens (HS256 only).
    pub fn can_issue(&self) -> bool {
        self.encoding.is_some()
    }

    /// A token for `merchant`, valid for `ttl_secs`, carrying the configured `aud` and `iss`.
    pub fn issue(&self, merchant: &MerchantId, ttl_secs: u64) -> Result<String, jsonwebtoken::errors::Error> {
        self.sign(merchant.as_str(), None, ttl_secs)
    }

    /// A token with the `operator` role for `operator`: it opens the console, not the merchant API.
    pub fn issue_operator(&self, operator: &str, ttl_secs: u64) -> Result<String, jsonwebtoken::errors::Error> {
        self.sign(operator, Some(OPERATOR_ROLE), ttl_secs)
    }

    fn sign(
        &self,
        sub: &str,
        role: Option<&'static str>,
        ttl_secs: u64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let encoding = self
            .encoding
            .as_ref()
            .ok_or_else(|| jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat))?;
        let now = now_secs();
        let claims = Claims {
            sub: sub.to_owned(),
            iat: Some(now),
            exp: now + ttl_secs,
            aud: self.audience.clone(),
            iss: self.issuer.clone(),
            role,
        };
        encode(&Header::new(self.algorithm), &claims, encoding)
    }

    /// The merchant a bearer token speaks for, or why not. An operator's token (one with a
    /// `role` claim) speaks for no merchant.
    pub fn verify(&self, token: &str) -> Result<MerchantId, TokenError> {
        let claims = self.claims(token)?;
        if claims.role.is_some() {
            return Err(TokenError::Invalid);
        }
        MerchantId::parse(&claims.sub).map_err(|_| TokenError::Invalid)
    }

    /// The operator (`sub`) of a token whose `role` claim is `operator`, or why not.
    pub fn verify_operator(&self, token: &str) -> Result<String, TokenError> {
        let claims = self.claims(token)?;
        match claims.role.as_deref() {
            Some(OPERATOR_ROLE) if !claims.sub.is_empty() => Ok(claims.sub),
            _ => Err(TokenError::Invalid),
        }
    }

    fn claims(&self, token: &str) -> Result<VerifiedClaims, TokenError> {
        decode::<VerifiedClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Generates a random HS256 secret (development mode without `JWT_SECRET`).
pub fn generate_secret() -> Secret {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    Secret::new(hex::encode(bytes))
}

/// The merchant making the request, proven by a valid bearer token. Handlers take it as an
/// extractor (`http/auth.rs` implements that); nothing else constructs one.
#[derive(Debug, Clone)]
pub struct AuthenticatedMerchant(pub MerchantId);

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
    fn operator_and_merchant_tokens_open_only_their_own_doors() {
        let jwt = Jwt::hs256(&Secret::new("test-secret"));
        let operator = jwt.issue_operator("alice", 60).unwrap();
        assert_eq!(jwt.verify_operator(&operator).unwrap(), "alice");
        assert_eq!(jwt.verify(&operator), Err(TokenError::Invalid), "not a merchant token");
        let merchant = jwt.issue(&MerchantId::parse("m_1").unwrap(), 60).unwrap();
        assert_eq!(
            jwt.verify_operator(&merchant),
            Err(TokenError::Invalid),
            "not an operator token"
        );
    }

    #[test]
    fn tokens_from_another_secret_are_rejected() {
        let token = Jwt::hs256(&Secret::new("a"))
            .issue(&MerchantId::parse("m").unwrap(), 60)
            .unwrap();
        assert!(Jwt::hs256(&Secret::new("b")).verify(&token).is_err());
    }

    #[test]
    fn issued_tokens_carry_the_configured_audience_and_issuer() {
        let jwt = Jwt::hs256(&Secret::new("s")).expecting(Some("payrail"), Some("https://issuer"));
        let token = jwt.issue(&MerchantId::parse("m").unwrap(), 60).unwrap();
        assert!(jwt.verify(&token).is_ok());
        let other = Jwt::hs256(&Secret::new("s")).expecting(Some("elsewhere"), None);
        assert_eq!(other.verify(&token), Err(TokenError::Invalid));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn jwt() -> Jwt {
            Jwt::hs256(&Secret::new("property-secret"))
        }

        proptest! {
            #[test]
            fn arbitrary_tokens_are_refused_without_panicking(token in ".{0,300}") {
                prop_assert!(jwt().verify(&token).is_err());
            }

            #[test]
            fn token_shaped_garbage_is_refused(parts in proptest::collection::vec("[A-Za-z0-9_-]{0,80}", 0..5)) {
                prop_assert!(jwt().verify(&parts.join(".")).is_err());
            }

            #[test]
            fn any_single_character_change_invalidates_a_token(position in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_.-]") {
                let jwt = jwt();
                let token = jwt.issue(&MerchantId::parse("merchant_p").unwrap(), 600).unwrap();
                let index = position.index(token.len());
                let original = &token[index..=index];
                // The last character of a segment can carry unused base64 bits; skip those.
                let segment_end = token.len() == index + 1 || &token[index + 1..=index + 1] == ".";
                prop_assume!(original != replacement && !segment_end && original != ".");
                let mut tampered = token.clone();
                tampered.replace_range(index..=index, &replacement);
                prop_assert!(jwt.verify(&tampered).is_err(), "{} accepted", tampered);
            }
        }
    }
}
