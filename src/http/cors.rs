//! CORS for browser clients on an allow-list (`CORS_ORIGINS`, comma-separated; empty = no
//! cross-origin access, the default, since merchants' backends call payrail server to server).
//!
//! An allowed `Origin` gets `Access-Control-Allow-Origin` echoing it (or `*` when the list is
//! `*`), `Vary: Origin`, and the headers a client needs to read (request id, rate limits). A
//! preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin is answered
//! here with 204; one from any other origin falls through and gets no CORS headers, so the
//! browser refuses it. Credentials (cookies) are never allowed: payrail authenticates by bearer
//! token only.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id";
const EXPOSE_HEADERS: &str =
    "x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, idempotent-replayed";
const MAX_AGE_SECS: &str = "600";

/// The configured origins, exact matches (scheme://host[:port]).
#[derive(Clone, Debug, Default)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    pub fn new(origins: &[String]) -> Self {
        Self {
            origins: origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
    fn allow(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        if self.origins.iter().any(|o| o == "*") {
            return Some(HeaderValue::from_static("*"));
        }
        let origin_text = origin.to_str().ok()?;
        self.origins.iter().any(|o| o == origin_text).then(|| origin.clone())
    }
}

fn decorate(headers: &mut HeaderMap, allow_origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

/// Middleware: answers allowed preflights and marks allowed cross-origin responses.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let allow_origin = match (
        req.app_data::<web::Data<CorsPolicy>>(),
        req.headers().get(header::ORIGIN),
    ) {
        (Some(policy), Some(origin)) => policy.allow(origin),
        _ => None,
    };
    let Some(allow_origin) = allow_origin else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = HttpResponse::NoContent().finish();
        let headers = response.headers_mut();
        decorate(headers, allow_origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE_SECS));
        return Ok(req.into_response(response));
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    decorate(response.headers_mut(), allow_origin);
    Ok(response)
}
