//! Environment variables onto settings keys: which variable sets which key, with what type, and
//! how its text becomes a TOML value (the last layer, over the files).

use std::collections::HashMap;

use super::ConfigError;

/// How each environment variable maps onto a settings key, and what type it carries.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    /// A JSON document (lists and tables, e.g. routing rules).
    Json,
    Bool,
    List,
}

const ENV_KEYS: &[(&str, &str, Kind)] = &[
    ("DATABASE_URL", "database.url", Kind::Str),
    ("DATABASE_MAX_CONNECTIONS", "database.max_connections", Kind::Int),
    (
        "DATABASE_ACQUIRE_TIMEOUT_SECS",
        "database.acquire_timeout_secs",
        Kind::Int,
    ),
    ("DATABASE_COMMIT_WRITERS", "database.commit_writers", Kind::Int),
    ("HOST", "http.host", Kind::Str),
    ("HTTP_PORT", "http.port", Kind::Int),
    ("PORT", "http.port", Kind::Int),
    ("HTTP_WORKERS", "http.workers", Kind::Int),
    ("MAX_BODY_BYTES", "http.max_body_bytes", Kind::Int),
    ("SHUTDOWN_TIMEOUT", "http.shutdown_timeout_secs", Kind::Int),
    ("CORS_ORIGINS", "http.cors_origins", Kind::List),
    ("TRUSTED_PROXIES", "http.trusted_proxies", Kind::List),
    ("PUBLIC_URL", "http.public_url", Kind::Str),
    ("JWT_SECRET", "auth.jwt_secret", Kind::Str),
    ("JWT_ALGORITHM", "auth.jwt_algorithm", Kind::Str),
    ("JWT_PUBLIC_KEY", "auth.jwt_public_key", Kind::Str),
    ("JWT_AUDIENCE", "auth.jwt_audience", Kind::Str),
    ("JWT_ISSUER", "auth.jwt_issuer", Kind::Str),
    ("OPERATOR_TOKEN", "auth.operator_token", Kind::Str),
    ("LOG_LEVEL", "log.level", Kind::Str),
    ("LOG_FORMAT", "log.format", Kind::Str),
    ("SANDBOX_LATENCY_MS", "sandbox.latency_ms", Kind::Int),
    ("SANDBOX_LEDGER", "sandbox.ledger", Kind::Bool),
    ("PROVIDER_LISTING_PAGE_SIZE", "providers.listing_page_size", Kind::Int),
    ("ACTOR_IDLE_TIMEOUT_SECS", "actors.idle_timeout_secs", Kind::Int),
    ("QUEUE_PER_PAYMENT", "actors.queue_per_payment", Kind::Int),
    ("MAX_IN_FLIGHT", "actors.max_in_flight", Kind::Int),
    ("PROVIDER_TIMEOUT_SECS", "providers.timeout_secs", Kind::Int),
    ("IDEMPOTENCY_SECRET", "idempotency.secret", Kind::Str),
    (
        "IDEMPOTENCY_LOCK_TIMEOUT_SECS",
        "idempotency.lock_timeout_secs",
        Kind::Int,
    ),
    ("IDEMPOTENCY_KEY_TTL_SECS", "idempotency.ttl_secs", Kind::Int),
    (
        "IDEMPOTENCY_REAP_INTERVAL_SECS",
        "idempotency.reap_interval_secs",
        Kind::Int,
    ),
    ("AUDIT_INTERVAL_MS", "audit.interval_ms", Kind::Int),
    ("LEASE_SECS", "database.lease_secs", Kind::Int),
    ("AUDIT_BATCH_SIZE", "audit.batch_size", Kind::Int),
    ("AUDIT_VERIFY_INTERVAL_SECS", "audit.verify_interval_secs", Kind::Int),
    ("PROVIDER_TIMEOUT_MS", "providers.timeout_ms", Kind::Int),
    ("PROVIDER_MAX_ATTEMPTS", "providers.max_attempts", Kind::Int),
    ("PROVIDER_BACKOFF_MS", "providers.base_backoff_ms", Kind::Int),
    ("PROVIDER_BREAKER_THRESHOLD", "providers.breaker_threshold", Kind::Int),
    (
        "PROVIDER_BREAKER_COOLDOWN_SECS",
        "providers.breaker_cooldown_secs",
        Kind::Int,
    ),
    (
        "RECONCILE_INTERVAL_SECS",
        "providers.reconcile_interval_secs",
        Kind::Int,
    ),
    ("RECONCILE_MIN_AGE_SECS", "providers.reconcile_min_age_secs", Kind::Int),
    ("WEBHOOK_TOLERANCE_SECS", "providers.webhook_tolerance_secs", Kind::Int),
    (
        "REQUIRES_ACTION_TTL_SECS",
        "providers.requires_action_ttl_secs",
        Kind::Int,
    ),
    ("PROVIDER_ROUTES", "providers.routes", Kind::Json),
    // Aliases first: when both are set, the documented name wins.
    ("STRIPE_API_KEY", "providers.stripe.secret_key", Kind::Str),
    ("STRIPE_SECRET_KEY", "providers.stripe.secret_key", Kind::Str),
    ("STRIPE_WEBHOOK_SECRET", "providers.stripe.webhook_secret", Kind::Str),
    ("STRIPE_API_BASE", "providers.stripe.api_base", Kind::Str),
    ("PAYSTACK_API_KEY", "providers.paystack.secret_key", Kind::Str),
    ("PAYSTACK_SECRET_KEY", "providers.paystack.secret_key", Kind::Str),
    ("PAYSTACK_API_BASE", "providers.paystack.api_base", Kind::Str),
    ("FLUTTERWAVE_API_KEY", "providers.flutterwave.secret_key", Kind::Str),
    ("FLUTTERWAVE_SECRET_KEY", "providers.flutterwave.secret_key", Kind::Str),
    (
        "FLUTTERWAVE_SECRET_HASH",
        "providers.flutterwave.secret_hash",
        Kind::Str,
    ),
    ("FLUTTERWAVE_API_BASE", "providers.flutterwave.api_base", Kind::Str),
    (
        "FLUTTERWAVE_ENCRYPTION_KEY",
        "providers.flutterwave.encryption_key",
        Kind::Str,
    ),
    ("PAYPAL_CLIENT_ID", "providers.paypal.client_id", Kind::Str),
    ("PAYPAL_CLIENT_SECRET", "providers.paypal.client_secret", Kind::Str),
    ("PAYPAL_MODE", "providers.paypal.mode", Kind::Str),
    ("PAYPAL_WEBHOOK_ID", "providers.paypal.webhook_id", Kind::Str),
    ("PAYPAL_API_BASE", "providers.paypal.api_base", Kind::Str),
    (
        "PAYPAL_WEBHOOK_VERIFICATION",
        "providers.paypal.webhook_verification",
        Kind::Str,
    ),
    ("PAYPAL_CERT_HOSTS", "providers.paypal.cert_hosts", Kind::Str),
    ("CARD_FINGERPRINT_KEY", "security.card_fingerprint_key", Kind::Str),
    ("ENCRYPTION_KEY", "security.encryption_key", Kind::Str),
    ("ENCRYPTION_KEY_ID", "security.encryption_key_id", Kind::Str),
    (
        "ENCRYPTION_PREVIOUS_KEYS",
        "security.previous_encryption_keys",
        Kind::Str,
    ),
    ("RATE_LIMIT_ENABLED", "rate_limit.enabled", Kind::Bool),
    ("RATE_LIMIT_PER_SECOND", "rate_limit.per_second", Kind::Int),
    ("RATE_LIMIT_BURST", "rate_limit.burst", Kind::Int),
    ("PROVIDER_MAX_CONCURRENCY", "providers.max_concurrency", Kind::Int),
    (
        "WEBHOOK_ALLOW_PRIVATE_TARGETS",
        "merchant_events.allow_private_targets",
        Kind::Bool,
    ),
    ("WEBHOOK_RETRY_SCHEDULE", "merchant_events.retry_schedule", Kind::Str),
    ("WEBHOOK_TIMEOUT_MS", "merchant_events.timeout_ms", Kind::Int),
    (
        "WEBHOOK_POLL_INTERVAL_MS",
        "merchant_events.poll_interval_ms",
        Kind::Int,
    ),
    (
        "WEBHOOK_BREAKER_COOLDOWN_MS",
        "merchant_events.breaker_cooldown_ms",
        Kind::Int,
    ),
];

/// Sets every key whose variable is present (and not empty) in `env`.
pub(super) fn overlay(merged: &mut toml::Value, env: &HashMap<String, String>) -> Result<(), ConfigError> {
    for &(var, key, kind) in ENV_KEYS {
        if let Some(raw) = env.get(var).filter(|v| !v.is_empty()) {
            let value = match kind {
                Kind::Str => toml::Value::String(raw.clone()),
                Kind::Int => toml::Value::Integer(raw.trim().parse().map_err(|_| ConfigError::Invalid {
                    key: format!("{key} (from {var})"),
                    message: "expected an integer".into(),
                })?),
                Kind::Json => serde_json::from_str::<toml::Value>(raw).map_err(|e| ConfigError::Invalid {
                    key: format!("{key} (from {var})"),
                    message: format!("expected JSON: {e}"),
                })?,
                Kind::List => toml::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(|item| toml::Value::String(item.to_owned()))
                        .collect(),
                ),
                Kind::Bool => toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" | "on" => true,
                    "false" | "0" | "no" | "off" => false,
                    _ => {
                        return Err(ConfigError::Invalid {
                            key: format!("{key} (from {var})"),
                            message: "expected true or false".into(),
                        })
                    }
                }),
            };
            set(merged, key, value);
        }
    }
    Ok(())
}

/// Sets the dotted key (`providers.stripe.secret_key`) in a TOML tree, creating tables on the way.
pub(super) fn set(root: &mut toml::Value, dotted: &str, value: toml::Value) {
    let mut node = root;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let toml::Value::Table(table) = node else { return };
        if parts.peek().is_none() {
            table.insert(part.to_owned(), value);
            return;
        }
        node = table
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
}
