//! The [`KeyedJson`] extractor: a mutating request's JSON body and, when it carries an
//! `Idempotency-Key`, the key and the request's fingerprint — HMAC-SHA256 (server secret) of the
//! method, the canonical path and the canonical JSON body, so the same request spelled differently
//! (key order, whitespace, the `/payments` alias) is recognised, and nothing PAN-derived is kept
//! unkeyed.

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use hmac::{Hmac, Mac};
use payrail_core::idempotency::{IdempotencyKey, RequestKey};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::Sha256;

use super::{IdempotencyEdge, HEADER};
use crate::config::Secret;
use crate::http::audit::RequestOrigin;
use crate::http::body::parse_json;
use crate::http::ApiError;

/// A keyed request: its key, its fingerprint, and where it came from (for the audit).
#[derive(Debug)]
pub struct KeyedRequest {
    pub(super) key: IdempotencyKey,
    pub(super) fingerprint: String,
    pub(super) origin: RequestOrigin,
}

impl KeyedRequest {
    /// What the core's idempotency service needs of it: the key and the fingerprint.
    pub fn request_key(&self) -> RequestKey {
        RequestKey {
            key: self.key.clone(),
            fingerprint: self.fingerprint.clone(),
        }
    }
}

/// A JSON body and, when the `Idempotency-Key` header is present, the keyed request.
pub struct KeyedJson<T> {
    pub body: T,
    pub key: Option<KeyedRequest>,
}

/// The HMAC key for fingerprints: `idempotency.secret`, or one derived from the JWT secret.
pub fn fingerprint_key(configured: Option<&Secret>, jwt_secret: &Secret) -> Vec<u8> {
    match configured {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => hmac_sha256(jwt_secret.expose().as_bytes(), b"payrail idempotency fingerprint v1"),
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; this cannot fail.
    #[allow(clippy::expect_used)]
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// JSON with object keys sorted and no insignificant whitespace, so that the same request spelled
/// differently has the same fingerprint.
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn invalid_key() -> ApiError {
    ApiError::invalid(
        "invalid_idempotency_key",
        "Idempotency-Key must be 1 to 255 printable ASCII characters",
        HEADER,
    )
}

impl<T: DeserializeOwned + 'static> FromRequest for KeyedJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let key = req.headers().get(HEADER).map(|value| {
            value
                .to_str()
                .ok()
                .and_then(IdempotencyKey::parse)
                .ok_or_else(invalid_key)
        });
        let service = req.app_data::<web::Data<IdempotencyEdge>>().cloned();
        let origin = RequestOrigin::of(req);
        let (method, path) = (req.method().clone(), req.path().to_owned());
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let key = key.transpose()?;
            let bytes = bytes.await.map_err(crate::http::body::read_error)?;
            let body: T = parse_json(&bytes)?;
            let Some(key) = key else {
                return Ok(KeyedJson { body, key: None });
            };
            let service = service.ok_or(ApiError::Internal)?;
            let fingerprint = fingerprint(&service.fingerprint_key, method.as_str(), &path, &bytes)?;
            Ok(KeyedJson {
                body,
                key: Some(KeyedRequest {
                    key,
                    fingerprint,
                    origin,
                }),
            })
        })
    }
}

/// A keyed request's fingerprint: HMAC-SHA256 of "METHOD path", then the canonical body (public
/// for the fuzz targets in `fuzz/`).
pub fn fingerprint(fingerprint_key: &[u8], method: &str, path: &str, body: &[u8]) -> Result<String, ApiError> {
    let value: Value = parse_json(body)?;
    let mut message = format!("{method} {}\n", canonical_path(path));
    canonical_json(&value, &mut message);
    Ok(hex::encode(hmac_sha256(fingerprint_key, message.as_bytes())))
}

/// The path a fingerprint covers: the `/payments` aliases are the same resources as their
/// canonical `/api/v1/payments` paths, so a retry through the other spelling is the same request.
fn canonical_path(path: &str) -> std::borrow::Cow<'_, str> {
    if path.starts_with("/payments") {
        std::borrow::Cow::Owned(format!("/api/v1{path}"))
    } else {
        std::borrow::Cow::Borrowed(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_ignores_key_order_and_whitespace() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":null,"y":[1,2]},"b":1}"#).unwrap();
        let (mut ca, mut cb) = (String::new(), String::new());
        canonical_json(&a, &mut ca);
        canonical_json(&b, &mut cb);
        assert_eq!(ca, cb);
        assert_eq!(ca, r#"{"a":{"x":null,"y":[1,2]},"b":1}"#);
    }

    #[test]
    fn alias_paths_fingerprint_as_their_canonical_paths() {
        assert_eq!(
            canonical_path("/payments/pay_1/refund"),
            "/api/v1/payments/pay_1/refund"
        );
        assert_eq!(canonical_path("/api/v1/payments"), "/api/v1/payments");
        assert_eq!(canonical_path("/payments"), "/api/v1/payments");
    }

    #[test]
    fn fingerprint_keys_are_configured_or_derived() {
        let jwt = Secret::new("jwt");
        assert_eq!(fingerprint_key(Some(&Secret::new("k")), &jwt), b"k".to_vec());
        let derived = fingerprint_key(None, &jwt);
        assert_eq!(derived.len(), 32);
        assert_ne!(derived, b"jwt".to_vec());
    }
}
