//! Per-request plumbing every response shares: an `X-Request-Id` (the client's when it is a sane
//! token, else a new one) carried in a tracing span around the request and echoed on the response,
//! and security headers: `X-Content-Type-Options: nosniff`, `Cache-Control: no-store` (responses carry
//! payment data and personal data, which no cache should keep), `X-Frame-Options: DENY` and a
//! `Content-Security-Policy` that forbids everything (a JSON API is never a page to frame or run).
//! actix-web sends no `Server` banner, and any that a layer adds is removed.
//!
//! It is also where every request's path and query string meet the edge's text rule
//! (`text::request_target`), before any route, extractor or log line reads them.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use tracing::Instrument;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, as stored in its extensions by [`request_context`].
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The id of `req` (empty only if the middleware is not installed, as in unit tests).
pub fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default()
}

/// A client-supplied id is kept when it is 1-128 characters of `[A-Za-z0-9._:-]`, so it cannot
/// inject into logs or headers; anything else is replaced.
fn acceptable(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    ok.then(|| text.to_owned())
}

/// Middleware: request id + span + security headers, on every response including errors; a path
/// or query with a control character is refused here.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(acceptable)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    if let Err(refused) = crate::http::text::request_target(req.path(), req.query_string()) {
        let mut response = req.error_response(refused);
        decorate(response.headers_mut(), &id);
        return Ok(response);
    }
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let mut response = match next.call(req).instrument(span).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => {
            // The request was consumed downstream, so the error leaves as a prepared response.
            let mut response = error.error_response();
            decorate(response.headers_mut(), &id);
            return Err(actix_web::error::InternalError::from_response(error, response).into());
        }
    };
    decorate(response.headers_mut(), &id);
    Ok(response)
}

fn decorate(headers: &mut actix_web::http::header::HeaderMap, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        headers.insert(X_REQUEST_ID, value);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // A response that brings its own policy keeps it: the operator console's pages, which need
    // their stylesheet (`http/console/html.rs`). Everything else forbids everything.
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    headers.remove(actix_web::http::header::SERVER);
}
