//! One delivery attempt: the signed POST of an event's body to an endpoint, and what came back.
//!
//! Headers per the Standard Webhooks specification: `webhook-id` (the event id, the same on every
//! retry, so receivers dedupe on it), `webhook-timestamp` (this attempt's unix seconds) and
//! `webhook-signature`. Redirects are not followed (a 3xx is a failure, and following one would
//! step around the SSRF guard), and the client resolves names through the guard (`target.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, USER_AGENT};

use crate::events::signing::signature_header;
use crate::events::target::{GuardedResolver, TargetPolicy};
use crate::secret::Secret;

/// What one attempt produced.
#[derive(Debug)]
pub struct Answer {
    pub status_code: Option<u16>,
    /// Why it failed without a status (connect error, timeout, refused target); never a secret.
    pub error: Option<String>,
    pub latency: Duration,
}

impl Answer {
    pub fn delivered(&self) -> bool {
        matches!(self.status_code, Some(200..=299))
    }

    pub fn gone(&self) -> bool {
        self.status_code == Some(410)
    }
}

/// The delivery client: guarded DNS, no redirects, no proxy, the attempt timeout.
pub fn client(policy: TargetPolicy, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve and connect on payrail's behalf, out of the guard's sight.
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// POSTs `body` to `url`, signed with every secret in `secrets`.
pub async fn post(
    client: &reqwest::Client,
    policy: &TargetPolicy,
    url: &str,
    event_id: &str,
    body: &str,
    secrets: &[Secret],
) -> Answer {
    let started = Instant::now();
    // A URL naming an address skips DNS, hence the guard here too.
    if let Err(refused) = policy.check_url(url) {
        return Answer {
            status_code: None,
            error: Some(refused.to_string()),
            latency: started.elapsed(),
        };
    }
    let timestamp = chrono::Utc::now().timestamp();
    let sent = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, concat!("payrail/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature_header(secrets, event_id, timestamp, body),
        )
        .body(body.to_owned())
        .send()
        .await;
    match sent {
        Ok(response) => Answer {
            status_code: Some(response.status().as_u16()),
            error: None,
            latency: started.elapsed(),
        },
        Err(error) => Answer {
            status_code: None,
            error: Some(describe(&error)),
            latency: started.elapsed(),
        },
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        // The source chain says why (refused, unreachable, or a target the guard refused).
        let mut why = String::from("connect error");
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            why = format!("connect error: {inner}");
            source = inner.source();
        }
        why
    } else {
        "request error".into()
    }
}
