//! Rate limiting: a token bucket per merchant (authenticated requests) or per client IP (requests
//! without a valid bearer token, such as provider webhooks), refilled at `RATE_LIMIT_PER_SECOND`
//! up to `RATE_LIMIT_BURST`. `/health`, `/ready` and `/metrics` are never limited.
//!
//! The buckets live in memory, per node (a `DashMap`): with N nodes behind a balancer a merchant
//! gets up to N times the configured rate. That is the documented trade-off for not putting a
//! shared store on every request's path. The client IP is the TCP peer, or behind proxies listed in
//! `TRUSTED_PROXIES` the address they forward (`client_ip.rs`).
//!
//! A limited request gets 429 `rate_limited` with `Retry-After`; every limited route's responses
//! carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (IETF draft headers).
//!
//! Why not `governor`: it would fit — a keyed limiter, `StateInformationMiddleware` for the
//! remaining burst, `NotUntil::wait_time_from` for `Retry-After`, `retain_recent` to drop idle
//! keys, a fake clock for tests. What it would replace is the ~30-line refill in
//! [`RateLimiter::check`]; `RateLimit-Reset` (time until the bucket is full) would still be
//! derived by us from whole remaining cells, the sweep policy (only past 100 000 keys, at most once
//! a second) would still be ours, and it brings its own clock and atomics crates. Kept by hand
//! while the headers need the bucket's fractional level; switch if limits grow per-route quotas.

use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use dashmap::DashMap;
use payrail_core::domain::MerchantId;

use crate::auth::Jwt;
use crate::config::RateLimitSettings;
use crate::http::{bearer_token, ApiError, VerifiedMerchant};

/// Paths that are probed by infrastructure and must answer even under a flood.
const EXEMPT: &[&str] = &["/health", "/ready", "/metrics"];
/// Past this many buckets, idle (full) ones are dropped so a spray of source IPs cannot grow memory;
/// at most once per [`SWEEP_INTERVAL`], so a map of busy keys does not make every request O(n).
const MAX_BUCKETS_BEFORE_SWEEP: usize = 100_000;
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// One bucket: `tokens` as of `updated`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The verdict for one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds until one token is available (meaningful when refused).
    pub retry_after_secs: u64,
}

/// Token buckets keyed by merchant or client address.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: DashMap<String, Bucket>,
    last_sweep: std::sync::Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self {
            per_second: f64::from(settings.per_second.max(1)),
            burst: f64::from(settings.burst.max(1)),
            buckets: DashMap::new(),
            last_sweep: std::sync::Mutex::new(Instant::now()),
        }
    }

    /// Takes one token from `key`'s bucket at time `now`, if there is one.
    pub fn check(&self, key: &str, now: Instant) -> Decision {
        if self.buckets.len() > MAX_BUCKETS_BEFORE_SWEEP {
            self.sweep(now);
        }
        let mut bucket = self.buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        let mut tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        let allowed = tokens >= 1.0;
        if allowed {
            tokens -= 1.0;
        }
        bucket.tokens = tokens;
        bucket.updated = now;
        Decision {
            allowed,
            limit: self.burst as u32,
            remaining: tokens.floor() as u32,
            reset_secs: ((self.burst - tokens) / self.per_second).ceil() as u64,
            retry_after_secs: (((1.0 - tokens) / self.per_second).ceil() as u64).max(1),
        }
    }
}

impl RateLimiter {
    /// Drops buckets that have refilled completely (a fresh bucket would be identical).
    fn sweep(&self, now: Instant) {
        {
            let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
            if now.saturating_duration_since(*last) < SWEEP_INTERVAL {
                return;
            }
            *last = now;
        }
        let full_after = Duration::from_secs_f64(self.burst / self.per_second);
        self.buckets
            .retain(|_, bucket| now.saturating_duration_since(bucket.updated) < full_after);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.len()
    }
}

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

fn put_headers(headers: &mut HeaderMap, decision: &Decision) {
    headers.insert(RATELIMIT_LIMIT, HeaderValue::from(decision.limit));
    headers.insert(RATELIMIT_REMAINING, HeaderValue::from(decision.remaining));
    headers.insert(RATELIMIT_RESET, HeaderValue::from(decision.reset_secs));
}

/// The bucket a request draws from. A valid token names its merchant (remembered in the request's
/// extensions so authentication does not verify twice); anything else is limited by client IP,
/// so forged tokens cannot drain a merchant's bucket.
fn key_for(req: &ServiceRequest) -> String {
    if let (Some(token), Some(jwt)) = (bearer_token(req.headers()), req.app_data::<web::Data<Jwt>>()) {
        if let Ok(merchant) = jwt.verify(token) {
            let key = format!("merchant:{}", merchant.as_str());
            req.extensions_mut().insert(VerifiedMerchant(merchant));
            return key;
        }
    }
    let ip = crate::http::client_ip(req.request())
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    format!("ip:{ip}")
}

/// Middleware: refuses over-limit requests with 429 before any handler (or body read) runs.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limiter = match req.app_data::<web::Data<RateLimiter>>() {
        Some(limiter) if !EXEMPT.contains(&req.path()) => limiter.clone(),
        _ => return next.call(req).await.map(ServiceResponse::map_into_boxed_body),
    };
    let key = key_for(&req);
    let decision = limiter.check(&key, Instant::now());
    if !decision.allowed {
        let merchant = req.extensions().get::<VerifiedMerchant>().map(|m| m.0.clone());
        log_refusal(&req, merchant.as_ref());
        let mut response = ApiError::RateLimited {
            retry_after_secs: decision.retry_after_secs,
        }
        .error_response();
        put_headers(response.headers_mut(), &decision);
        return Ok(req.into_response(response));
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    put_headers(response.headers_mut(), &decision);
    Ok(response)
}

fn log_refusal(req: &ServiceRequest, merchant: Option<&MerchantId>) {
    let client = crate::http::client_ip(req.request())
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    tracing::warn!(
        merchant = merchant.map(MerchantId::as_str).unwrap_or(""),
        client = %client,
        path = req.path(),
        "rate limited"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(&RateLimitSettings {
            enabled: true,
            per_second,
            burst,
        })
    }

    #[test]
    fn a_burst_drains_the_bucket_then_time_refills_it() {
        let limiter = limiter(10, 3);
        let t0 = Instant::now();
        let remaining: Vec<u32> = (0..3).map(|_| limiter.check("k", t0).remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limiter.check("k", t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        assert!(limiter.check("k", t0 + Duration::from_millis(100)).allowed);
        assert!(limiter.check("other", t0).allowed, "buckets are per key");
    }

    #[test]
    fn idle_buckets_are_swept_once_the_map_is_large() {
        let limiter = limiter(100, 100);
        let t0 = Instant::now();
        for i in 0..=MAX_BUCKETS_BEFORE_SWEEP {
            limiter.check(&format!("ip:{i}"), t0);
        }
        assert_eq!(limiter.len(), MAX_BUCKETS_BEFORE_SWEEP + 1);
        // Two seconds later every bucket has refilled: the next check sweeps them away.
        limiter.check("ip:new", t0 + Duration::from_secs(2));
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn retry_after_is_the_wait_for_one_token() {
        let limiter = limiter(1, 1);
        let t0 = Instant::now();
        assert!(limiter.check("k", t0).allowed);
        let refused = limiter.check("k", t0 + Duration::from_millis(10));
        assert_eq!(refused.retry_after_secs, 1);
        assert!(!limiter.check("k", t0 + Duration::from_millis(900)).allowed);
        assert!(limiter.check("k", t0 + Duration::from_millis(1001)).allowed);
    }
}
