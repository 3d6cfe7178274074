//! Provider adapters behind the core's `Provider` port, each wrapped in the core's
//! `ResilientProvider` (retries, breaker, limits), and the configured routing rules in the core's
//! terms (the create operation applies them).
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

use payrail_core::observer::Observer;
use payrail_core::operation::{Route, Routes};
use payrail_core::ports::Provider;
use payrail_core::resilience::{ProviderDirectory, ProviderPolicy, ResilientProvider};

pub use config::RouteRule;
pub use sandbox::challenges::{ChallengeError, Challenges};
pub use sandbox::ledger::{SandboxBook, SandboxLedger};
pub use sandbox::Sandbox;

use crate::config::Settings;
use crate::reconciliation::ledger::ProviderLedger;

/// The provider new payments use when the request names none and no rule matches.
pub const DEFAULT_PROVIDER: &str = Sandbox::NAME;

/// What the sandbox shares with the rest of the process: its challenge pages, and the book its
/// ledger is written to (none: it keeps no ledger, e.g. when only provider names are wanted).
#[derive(Clone)]
pub struct SandboxParts {
    pub challenges: Arc<Challenges>,
    pub book: Option<Arc<dyn SandboxBook>>,
}

/// The adapters whose credentials are configured, the sandbox first. `paypal` is the adapter from
/// [`paypal`], built once by the caller because the webhook verifier shares its token cache.
pub fn configured(
    settings: &Settings,
    paypal: Option<Arc<paypal::Paypal>>,
    sandbox: SandboxParts,
) -> Vec<Arc<dyn Provider>> {
    let p = &settings.providers;
    let client = http::client(p.timeout());
    let latency = Duration::from_millis(settings.sandbox.latency_ms);
    let book = sandbox.book.filter(|_| settings.sandbox.ledger);
    let mut providers: Vec<Arc<dyn Provider>> = vec![Arc::new(Sandbox::new(latency, sandbox.challenges, book))];
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
        let encryption_key = p.flutterwave.encryption_key.as_ref();
        let adapter =
            flutterwave::Flutterwave::new(client.clone(), &p.flutterwave.api_base, key.clone(), encryption_key);
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

/// One `ResilientProvider` per configured provider, by name.
pub fn start_clients(
    settings: &Settings,
    paypal: Option<Arc<paypal::Paypal>>,
    sandbox: SandboxParts,
    observer: Arc<dyn Observer>,
) -> ProviderDirectory {
    let policy = policy(settings);
    configured(settings, paypal, sandbox)
        .into_iter()
        .map(|provider| {
            let name = provider.name().to_owned();
            let client = ResilientProvider::new(provider, policy.clone()).observed_by(Arc::clone(&observer));
            (name, client)
        })
        .collect()
}

/// The configured routing rules over the `available` providers, the sandbox as the default.
pub fn routes(settings: &Settings, available: Vec<String>) -> Routes {
    let rules = settings
        .providers
        .routes
        .iter()
        .map(|rule| Route {
            currencies: rule.currencies.clone(),
            min_amount: rule.min_amount,
            max_amount: rule.max_amount,
            priority: rule.priority,
            providers: rule.providers.clone(),
        })
        .collect();
    Routes::new(rules, available, DEFAULT_PROVIDER)
}

/// The listing of `provider`'s own records, for a reconciliation report: the sandbox's ledger
/// (`book`), or the provider's listing API when its credentials are configured. `None`: not
/// configured, or a provider without a listing.
pub fn ledger(settings: &Settings, provider: &str, book: Arc<dyn SandboxBook>) -> Option<Box<dyn ProviderLedger>> {
    let p = &settings.providers;
    let client = || http::client(p.timeout());
    match provider {
        Sandbox::NAME => Some(Box::new(SandboxLedger::new(book))),
        stripe::Stripe::NAME => {
            let key = p.stripe.secret_key.clone()?;
            Some(Box::new(stripe::ledger::StripeLedger::new(
                client(),
                &p.stripe.api_base,
                key,
                p.listing_page_size,
            )))
        }
        flutterwave::Flutterwave::NAME => {
            let key = p.flutterwave.secret_key.clone()?;
            Some(Box::new(flutterwave::ledger::FlutterwaveLedger::new(
                client(),
                &p.flutterwave.api_base,
                key,
            )))
        }
        paypal::Paypal::NAME => Some(Box::new(paypal::ledger::PaypalLedger::new(
            self::paypal(settings)?,
            p.listing_page_size,
        ))),
        paystack::Paystack::NAME => {
            let key = p.paystack.secret_key.clone()?;
            Some(Box::new(paystack::ledger::PaystackLedger::new(
                client(),
                &p.paystack.api_base,
                key,
                p.listing_page_size,
            )))
        }
        _ => None,
    }
}
