//! Provider adapters behind the core's `Provider` port, the routing rules that choose among them,
//! and the directory of `ProviderClient` actors that payments are routed to.
//!
//! The sandbox is always offered and stays the default; a real provider is offered only when its
//! credentials are configured.

pub mod config;
pub mod flutterwave;
pub mod http;
pub mod paypal;
pub mod paystack;
mod sandbox;
pub mod stripe;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use payrail_core::actors::{ProviderClient, ProviderPolicy};
use payrail_core::observer::Observer;
use payrail_core::operation::ProviderDirectory;
use payrail_core::ports::Provider;

pub use config::RouteRule;
pub use sandbox::Sandbox;

use crate::config::Settings;

/// The provider new payments use when the request names none and no rule matches.
pub const DEFAULT_PROVIDER: &str = Sandbox::NAME;

/// The adapters whose credentials are configured, the sandbox first. `paypal` is the adapter from
/// [`paypal`], built once by the caller because the webhook verifier shares its token cache.
pub fn configured(settings: &Settings, paypal: Option<Arc<paypal::Paypal>>) -> Vec<Arc<dyn Provider>> {
    let p = &settings.providers;
    let client = http::client(p.timeout());
    let mut providers: Vec<Arc<dyn Provider>> = vec![Arc::new(Sandbox::new(Duration::from_millis(
        settings.sandbox.latency_ms,
    )))];
    if let Some(key) = &p.stripe.secret_key {
        providers.push(Arc::new(stripe::Stripe::new(
            client.clone(),
            &p.stripe.api_base,
            key.clone(),
        )));
    }
    if let Some(key) = &p.paystack.secret_key {
        let adapter = paystack::Paystack::new(client.clone(), &p.paystack.api_base, key.clone());
        providers.push(Arc::new(adapter));
    }
    if let Some(key) = &p.flutterwave.secret_key {
        let adapter = flutterwave::Flutterwave::new(client.clone(), &p.flutterwave.api_base, key.clone());
        providers.push(Arc::new(adapter));
    }
    if let Some(paypal) = paypal {
        providers.push(paypal);
    }
    providers
}

/// The PayPal adapter, when its client id and secret are configured. Build it once per process:
/// its OAuth token cache is the one for this credential, for payments and webhook checks alike.
pub fn paypal(settings: &Settings) -> Option<Arc<paypal::Paypal>> {
    let p = &settings.providers.paypal;
    let (id, secret) = (p.client_id.as_ref()?, p.client_secret.as_ref()?);
    let client = http::client(settings.providers.timeout());
    let tokens = Arc::new(paypal::AccessTokens::new(
        client.clone(),
        &p.base_url(),
        id,
        secret.clone(),
    ));
    Some(Arc::new(paypal::Paypal::new(client, &p.base_url(), tokens)))
}

/// The retry, timeout and circuit-breaker policy every provider client applies.
pub fn policy(settings: &Settings) -> ProviderPolicy {
    let p = &settings.providers;
    ProviderPolicy {
        timeout: p.timeout(),
        max_concurrency: p.max_concurrency,
        max_attempts: p.max_attempts,
        base_backoff: Duration::from_millis(p.base_backoff_ms),
        max_backoff: Duration::from_millis(p.max_backoff_ms.max(p.base_backoff_ms)),
        breaker_threshold: p.breaker_threshold,
        breaker_cooldown: Duration::from_secs(p.breaker_cooldown_secs),
    }
}

/// Starts one `ProviderClient` actor per configured provider.
pub fn start_clients(
    settings: &Settings,
    paypal: Option<Arc<paypal::Paypal>>,
    observer: Arc<dyn Observer>,
) -> ProviderDirectory {
    let policy = policy(settings);
    configured(settings, paypal)
        .into_iter()
        .map(|provider| {
            let name = provider.name().to_owned();
            let client = ProviderClient::new(provider, policy.clone()).observed_by(Arc::clone(&observer));
            (name, client.start())
        })
        .collect()
}

/// Chooses the providers for a new payment: the one the request names, or the first routing rule
/// (by priority) that matches its currency and amount, then the default.
#[derive(Clone, Debug)]
pub struct Router {
    rules: Vec<RouteRule>,
    available: Vec<String>,
    default: String,
}

impl Router {
    pub fn new(mut rules: Vec<RouteRule>, available: Vec<String>, default: &str) -> Self {
        // Stable sort: among equal priorities, the configured order stands.
        rules.sort_by_key(|rule| std::cmp::Reverse(rule.priority));
        Self {
            rules,
            available,
            default: default.to_owned(),
        }
    }

    /// The provider to try first and the fallbacks after it; never empty. Providers a rule names
    /// but that are not configured are skipped.
    pub fn route(&self, currency: &str, amount: i64) -> Vec<String> {
        let chosen: Vec<String> = self
            .rules
            .iter()
            .find(|rule| rule.matches(currency, amount))
            .map(|rule| {
                rule.providers
                    .iter()
                    .filter(|p| self.available.contains(p))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if chosen.is_empty() {
            vec![self.default.clone()]
        } else {
            chosen
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(currencies: &[&str], min: Option<i64>, max: Option<i64>, priority: i64, providers: &[&str]) -> RouteRule {
        RouteRule {
            currencies: currencies.iter().map(|s| s.to_string()).collect(),
            min_amount: min,
            max_amount: max,
            priority,
            providers: providers.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn routes_by_currency_amount_and_priority() {
        let available = vec!["sandbox".to_string(), "stripe".into(), "paystack".into()];
        let router = Router::new(
            vec![
                rule(&[], None, None, 0, &["stripe", "sandbox"]),
                rule(&["ngn"], None, None, 10, &["paystack", "flutterwave", "stripe"]),
                rule(&["usd"], Some(100_000), None, 20, &["sandbox"]),
            ],
            available,
            "sandbox",
        );
        assert_eq!(router.route("ngn", 500), ["paystack", "stripe"]);
        assert_eq!(router.route("usd", 500), ["stripe", "sandbox"]);
        assert_eq!(router.route("usd", 100_000), ["sandbox"]);
        let empty = Router::new(vec![], vec!["sandbox".into()], "sandbox");
        assert_eq!(empty.route("eur", 1), ["sandbox"]);
    }
}
