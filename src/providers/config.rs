//! Provider configuration: credentials (as [`Secret`]s, never printed), base URLs (so tests can
//! point adapters at fakes on 127.0.0.1), and routing rules. A provider whose credentials are
//! missing is simply not offered.
//!
//! [`ProviderSettings`] is the `providers` section of [`Settings`](crate::config::Settings):
//! configuration reads it from here, and this file never reads configuration back.

use std::time::Duration;

use serde::Deserialize;

use crate::secret::Secret;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub timeout_secs: u64,
    /// Overrides `timeout_secs` with millisecond precision when set.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    pub max_concurrency: usize,
    pub max_attempts: u32,
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub breaker_threshold: u32,
    pub breaker_cooldown_secs: u64,
    pub reconcile_interval_secs: u64,
    pub reconcile_min_age_secs: u64,
    pub webhook_tolerance_secs: u64,
    /// A `requires_action` payment nobody completes is canceled by the reconciler after this long.
    pub requires_action_ttl_secs: u64,
    #[serde(default)]
    pub routes: Vec<RouteRule>,
    /// Records per page when listing a provider's own records for a reconciliation report
    /// (capped at each provider's maximum).
    #[serde(default = "default_listing_page_size")]
    pub listing_page_size: u32,
    pub stripe: StripeSettings,
    pub paystack: PaystackSettings,
    pub flutterwave: FlutterwaveSettings,
    pub paypal: PaypalSettings,
}

fn default_listing_page_size() -> u32 {
    100
}

impl ProviderSettings {
    pub fn timeout(&self) -> Duration {
        self.timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(self.timeout_secs))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeSettings {
    pub secret_key: Option<Secret>,
    pub webhook_secret: Option<Secret>,
    /// Without `/v1`, as Stripe's own libraries take it.
    pub api_base: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaystackSettings {
    pub secret_key: Option<Secret>,
    pub api_base: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlutterwaveSettings {
    pub secret_key: Option<Secret>,
    pub secret_hash: Option<Secret>,
    /// The account's encryption key (24 characters, Triple DES) for direct card charges; without
    /// it raw card details are refused and only card tokens are charged.
    #[serde(default)]
    pub encryption_key: Option<Secret>,
    /// Without `/v3`.
    pub api_base: String,
}

impl FlutterwaveSettings {
    /// Why the encryption key cannot be used, if it is set and is not a Triple DES key.
    pub fn encryption_key_problem(&self) -> Option<&'static str> {
        let key = self.encryption_key.as_ref()?;
        (key.expose().len() != 24)
            .then_some("FLUTTERWAVE_ENCRYPTION_KEY must be the 24-character key from the dashboard")
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaypalSettings {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// `sandbox` or `live`; picks the default base URL.
    pub mode: String,
    pub webhook_id: Option<String>,
    pub api_base: Option<String>,
    /// `api` (PayPal's verify-webhook-signature) or `offline` (RSA-SHA256 with the certificate).
    pub webhook_verification: String,
    /// Comma-separated hosts the offline check may fetch signing certificates from.
    pub cert_hosts: String,
}

impl PaypalSettings {
    pub fn cert_hosts(&self) -> Vec<String> {
        self.cert_hosts
            .split(',')
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .collect()
    }

    pub fn base_url(&self) -> String {
        match (&self.api_base, self.mode.as_str()) {
            (Some(base), _) if !base.is_empty() => base.clone(),
            (_, "live") => "https://api-m.paypal.com".into(),
            _ => "https://api-m.sandbox.paypal.com".into(),
        }
    }
}

/// Which providers serve a payment, in order (the first, then fallbacks), when the request does
/// not name one. Rules are tried by descending priority; the first that matches wins.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// Lowercase ISO 4217 codes; empty matches every currency.
    #[serde(default)]
    pub currencies: Vec<String>,
    /// Inclusive bounds in minor units.
    pub min_amount: Option<i64>,
    pub max_amount: Option<i64>,
    #[serde(default)]
    pub priority: i64,
    pub providers: Vec<String>,
}

impl RouteRule {
    pub fn matches(&self, currency: &str, amount: i64) -> bool {
        (self.currencies.is_empty() || self.currencies.iter().any(|c| c.eq_ignore_ascii_case(currency)))
            && self.min_amount.map_or(true, |min| amount >= min)
            && self.max_amount.map_or(true, |max| amount <= max)
    }
}

/// Checks the provider settings, returning the key at fault and why.
pub fn validate(p: &ProviderSettings) -> Result<(), (String, String)> {
    let bad = |key: &str, message: &str| Err((key.to_owned(), message.to_owned()));
    if p.timeout_secs == 0 || p.max_concurrency == 0 || p.timeout_ms == Some(0) {
        return bad("timeout_secs", "timeout and max_concurrency must be at least 1");
    }
    if p.max_attempts == 0 || p.breaker_threshold == 0 {
        return bad("max_attempts", "max_attempts and breaker_threshold must be at least 1");
    }
    if !matches!(p.paypal.mode.as_str(), "sandbox" | "live") {
        return bad("paypal.mode", "expected sandbox or live");
    }
    if !matches!(p.paypal.webhook_verification.as_str(), "api" | "offline") {
        return bad("paypal.webhook_verification", "expected api or offline");
    }
    for (i, rule) in p.routes.iter().enumerate() {
        if rule.providers.is_empty() {
            return bad(&format!("routes[{i}].providers"), "must name at least one provider");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::config::Settings;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn provider_keys_and_aliases_come_from_the_environment() {
        let s = Settings::from_env(&env(&[("STRIPE_API_KEY", "sk_test_alias")])).unwrap();
        assert_eq!(s.providers.stripe.secret_key.unwrap().expose(), "sk_test_alias");
        let s = Settings::from_env(&env(&[("STRIPE_API_KEY", "sk_a"), ("STRIPE_SECRET_KEY", "sk_b")])).unwrap();
        assert_eq!(s.providers.stripe.secret_key.unwrap().expose(), "sk_b");
        assert_eq!(s.providers.stripe.api_base, "https://api.stripe.com");
        let s = Settings::from_env(&env(&[])).unwrap();
        assert!(s.providers.stripe.secret_key.is_none() && s.providers.paystack.secret_key.is_none());
        let routes = r#"[{"currencies":["ngn"],"providers":["paystack","sandbox"]}]"#;
        let s = Settings::from_env(&env(&[("PROVIDER_ROUTES", routes)])).unwrap();
        assert_eq!(s.providers.routes[0].providers, ["paystack", "sandbox"]);
        let err = Settings::from_env(&env(&[("PROVIDER_ROUTES", "[{}]")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("providers.routes"), "{err}");
    }
}
