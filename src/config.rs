//! Typed configuration: `config/default.toml`, then `config/{ENVIRONMENT}.toml`, then environment
//! variables, merged into one [`Settings`] and validated at start-up with an error naming the key.
//!
//! The TOML files are embedded in the binary as a fallback, so `payrail` runs from any directory;
//! a `config/` directory next to the working directory (or `CONFIG_DIR`) takes precedence.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// A secret from configuration. `Debug` and `Display` never show it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    fn file_name(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub environment: Environment,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub sandbox: SandboxSettings,
    pub actors: ActorSettings,
    pub providers: ProviderSettings,
    pub idempotency: IdempotencySettings,
    pub audit: AuditSettings,
    pub rate_limit: RateLimitSettings,
    pub security: SecuritySettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub shutdown_timeout_secs: u64,
    /// Browser origins allowed by CORS (`CORS_ORIGINS`, comma-separated); empty = none.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`, addresses or CIDR
    /// ranges, comma-separated); empty = the TCP peer is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    /// Connections of the pool given to the group-commit writer on PostgreSQL, i.e. batches in
    /// flight at once (0 = half the pool); the rest serve reads.
    #[serde(default)]
    pub commit_writers: usize,
}

impl DatabaseSettings {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.acquire_timeout_secs)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_secret: Option<Secret>,
    /// `HS256` or `RS256`; unset = RS256 when `jwt_public_key` is set, else HS256.
    #[serde(default)]
    pub jwt_algorithm: Option<String>,
    /// PEM of the RSA public key that verifies RS256 tokens.
    #[serde(default)]
    pub jwt_public_key: Option<String>,
    #[serde(default)]
    pub jwt_audience: Option<String>,
    #[serde(default)]
    pub jwt_issuer: Option<String>,
    pub dev_merchant: String,
    pub token_ttl_secs: u64,
}

/// The one JWT algorithm payrail accepts, fixed by configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
}

impl AuthSettings {
    /// The configured algorithm (validated at start-up, so an unknown name cannot reach here).
    pub fn algorithm(&self) -> JwtAlgorithm {
        match self.jwt_algorithm.as_deref().map(str::to_ascii_uppercase).as_deref() {
            Some("RS256") => JwtAlgorithm::Rs256,
            Some(_) => JwtAlgorithm::Hs256,
            None if self.jwt_public_key.is_some() => JwtAlgorithm::Rs256,
            None => JwtAlgorithm::Hs256,
        }
    }

    fn validate(&self, environment: Environment) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                message: message.into(),
            })
        };
        match self.jwt_algorithm.as_deref().map(str::to_ascii_uppercase).as_deref() {
            None if self.jwt_secret.is_some() && self.jwt_public_key.is_some() => {
                return invalid(
                    "auth.jwt_algorithm",
                    "both JWT_SECRET and JWT_PUBLIC_KEY are set: choose one with JWT_ALGORITHM",
                )
            }
            None | Some("HS256" | "RS256") => {}
            Some(_) => return invalid("auth.jwt_algorithm", "must be HS256 or RS256"),
        }
        match self.algorithm() {
            JwtAlgorithm::Rs256 if self.jwt_public_key.is_none() => {
                invalid("auth.jwt_public_key", "JWT_PUBLIC_KEY is required for RS256")
            }
            JwtAlgorithm::Rs256 => Ok(()),
            JwtAlgorithm::Hs256 if environment == Environment::Production => match &self.jwt_secret {
                None => invalid("auth.jwt_secret", "JWT_SECRET is required in production"),
                Some(secret) if secret.expose().len() < 32 => {
                    invalid("auth.jwt_secret", "must be at least 32 bytes in production")
                }
                Some(_) => Ok(()),
            },
            JwtAlgorithm::Hs256 => Ok(()),
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    pub latency_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorSettings {
    pub idle_timeout_secs: u64,
    pub queue_per_payment: usize,
    pub max_in_flight: usize,
}

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
    #[serde(default)]
    pub routes: Vec<crate::providers::config::RouteRule>,
    pub stripe: crate::providers::config::StripeSettings,
    pub paystack: crate::providers::config::PaystackSettings,
    pub flutterwave: crate::providers::config::FlutterwaveSettings,
    pub paypal: crate::providers::config::PaypalSettings,
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
pub struct IdempotencySettings {
    /// Key for the request fingerprints' HMAC; derived from `auth.jwt_secret` when unset.
    pub secret: Option<Secret>,
    pub lock_timeout_secs: u64,
    pub ttl_secs: u64,
    pub reap_interval_secs: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    pub interval_ms: u64,
    pub batch_size: u32,
}

/// Token buckets per merchant / client IP, in memory per node (see `http/rate_limit.rs`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub per_second: u32,
    pub burst: u32,
}

/// Keys for data at rest (issue 5). Development falls back to fixed, public development keys;
/// production refuses to start without real ones.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    #[serde(default)]
    pub card_fingerprint_key: Option<Secret>,
    /// AES-256-GCM key, 64 hex digits (`ENCRYPTION_KEY`).
    #[serde(default)]
    pub encryption_key: Option<Secret>,
    /// The id stored beside every value sealed with `encryption_key` (`ENCRYPTION_KEY_ID`).
    pub encryption_key_id: String,
    /// Older keys that rows may still be sealed with: `id:hex,id:hex` (`ENCRYPTION_PREVIOUS_KEYS`).
    #[serde(default)]
    pub previous_encryption_keys: Option<Secret>,
}

impl SecuritySettings {
    pub fn card_fingerprint_key(&self) -> Secret {
        self.card_fingerprint_key
            .clone()
            .unwrap_or_else(|| Secret::new(crate::crypto::DEVELOPMENT_FINGERPRINT_KEY))
    }

    /// The cipher for data at rest; development without `ENCRYPTION_KEY` uses the public
    /// development key under id `dev`.
    pub fn cipher(&self) -> Result<crate::crypto::Cipher, crate::crypto::CryptoError> {
        let development = Secret::new(crate::crypto::DEVELOPMENT_ENCRYPTION_KEY);
        let current = match &self.encryption_key {
            Some(key) => (self.encryption_key_id.as_str(), key),
            None => ("dev", &development),
        };
        let mut previous = Vec::new();
        if let Some(list) = &self.previous_encryption_keys {
            for entry in list.expose().split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (id, key) = entry
                    .split_once(':')
                    .ok_or_else(|| crate::crypto::CryptoError::BadKey("previous_encryption_keys".into()))?;
                previous.push((id.trim().to_owned(), Secret::new(key.trim())));
            }
        }
        crate::crypto::Cipher::new(current, &previous)
    }

    fn validate(&self, environment: Environment) -> Result<(), ConfigError> {
        let id_ok = !self.encryption_key_id.is_empty()
            && self.encryption_key_id.len() <= 32
            && self
                .encryption_key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(ConfigError::Invalid {
                key: "security.encryption_key_id".into(),
                message: "1-32 characters of [A-Za-z0-9_-]".into(),
            });
        }
        if let Err(error) = self.cipher() {
            return Err(ConfigError::Invalid {
                key: "security.encryption_key".into(),
                message: error.to_string(),
            });
        }
        if environment != Environment::Production {
            return Ok(());
        }
        match &self.encryption_key {
            Some(key) if key.expose().trim() != crate::crypto::DEVELOPMENT_ENCRYPTION_KEY => {}
            _ => {
                return Err(ConfigError::Invalid {
                    key: "security.encryption_key".into(),
                    message: "ENCRYPTION_KEY (64 hex digits, not the development key) is required in production".into(),
                })
            }
        }
        match &self.card_fingerprint_key {
            Some(key) if key.expose().len() >= 32 && key.expose() != crate::crypto::DEVELOPMENT_FINGERPRINT_KEY => {
                Ok(())
            }
            _ => Err(ConfigError::Invalid {
                key: "security.card_fingerprint_key".into(),
                message: "CARD_FINGERPRINT_KEY (at least 32 bytes, not the development key) is required in production"
                    .into(),
            }),
        }
    }
}

/// A configuration problem, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {file}: {message}")]
    File { file: String, message: String },
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

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
    ("JWT_SECRET", "auth.jwt_secret", Kind::Str),
    ("JWT_ALGORITHM", "auth.jwt_algorithm", Kind::Str),
    ("JWT_PUBLIC_KEY", "auth.jwt_public_key", Kind::Str),
    ("JWT_AUDIENCE", "auth.jwt_audience", Kind::Str),
    ("JWT_ISSUER", "auth.jwt_issuer", Kind::Str),
    ("LOG_LEVEL", "log.level", Kind::Str),
    ("LOG_FORMAT", "log.format", Kind::Str),
    ("SANDBOX_LATENCY_MS", "sandbox.latency_ms", Kind::Int),
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
    ("AUDIT_BATCH_SIZE", "audit.batch_size", Kind::Int),
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
];

const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const DEVELOPMENT_TOML: &str = include_str!("../config/development.toml");
const PRODUCTION_TOML: &str = include_str!("../config/production.toml");

impl Settings {
    /// Settings from the files and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_env(&std::env::vars().collect())
    }

    /// Settings from the files and the given variables (tests pass their own).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let dir = PathBuf::from(env.get("CONFIG_DIR").map_or("config", String::as_str));
        let environment = match env.get("ENVIRONMENT").or_else(|| env.get("APP_ENVIRONMENT")) {
            Some(name) => parse_environment(name)?,
            None => Environment::Development,
        };
        let mut merged = read_layer(&dir, "default", DEFAULT_TOML)?;
        let embedded = match environment {
            Environment::Development => DEVELOPMENT_TOML,
            Environment::Production => PRODUCTION_TOML,
        };
        merge(&mut merged, read_layer(&dir, environment.file_name(), embedded)?);
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
                set(&mut merged, key, value);
            }
        }
        set(
            &mut merged,
            "environment",
            toml::Value::String(environment.file_name().into()),
        );
        let settings: Settings = serde_path_to_error::deserialize(merged).map_err(|e| ConfigError::Invalid {
            key: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                message: message.into(),
            })
        };
        let url = &self.database.url;
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return invalid("database.url", "must start with sqlite:, postgres:// or postgresql://");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        if self.http.max_body_bytes < 1024 {
            return invalid("http.max_body_bytes", "must be at least 1024");
        }
        if self.actors.queue_per_payment == 0 || self.actors.max_in_flight == 0 {
            return invalid("actors", "queue_per_payment and max_in_flight must be at least 1");
        }
        if self.actors.idle_timeout_secs == 0 {
            return invalid("actors.idle_timeout_secs", "must be at least 1");
        }
        if self.providers.timeout_secs == 0 || self.providers.max_concurrency == 0 {
            return invalid("providers", "timeout_secs and max_concurrency must be at least 1");
        }
        if self.idempotency.lock_timeout_secs == 0 || self.idempotency.reap_interval_secs == 0 {
            return invalid(
                "idempotency",
                "lock_timeout_secs and reap_interval_secs must be at least 1",
            );
        }
        if self.audit.interval_ms == 0 || self.audit.batch_size == 0 {
            return invalid("audit", "interval_ms and batch_size must be at least 1");
        }
        crate::providers::config::validate(&self.providers).map_err(|(key, message)| ConfigError::Invalid {
            key: format!("providers.{key}"),
            message,
        })?;
        if self.log.level.parse::<tracing_subscriber::EnvFilter>().is_err() {
            return invalid("log.level", "not a valid log filter (e.g. info, payrail=debug)");
        }
        if self.rate_limit.enabled && (self.rate_limit.per_second == 0 || self.rate_limit.burst == 0) {
            return invalid("rate_limit", "per_second and burst must be at least 1");
        }
        self.auth.validate(self.environment)?;
        self.security.validate(self.environment)?;
        Ok(())
    }
}

fn parse_environment(name: &str) -> Result<Environment, ConfigError> {
    match name.to_ascii_lowercase().as_str() {
        "development" | "dev" | "local" => Ok(Environment::Development),
        "production" | "prod" => Ok(Environment::Production),
        _ => Err(ConfigError::Invalid {
            key: "environment (from ENVIRONMENT)".into(),
            message: "expected development or production".into(),
        }),
    }
}

fn read_layer(dir: &std::path::Path, name: &str, embedded: &str) -> Result<toml::Value, ConfigError> {
    let path = dir.join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| embedded.to_owned());
    text.parse::<toml::Value>().map_err(|e| ConfigError::File {
        file: path.display().to_string(),
        message: e.to_string(),
    })
}

fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn set(root: &mut toml::Value, dotted: &str, value: toml::Value) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_development_sqlite_on_8080() {
        let s = Settings::from_env(&env(&[])).unwrap();
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.http.port, 8080);
        assert_eq!(s.database.url, "sqlite://payrail.db");
        assert!(s.auth.jwt_secret.is_none());
    }

    #[test]
    fn environment_variables_override_files() {
        let s = Settings::from_env(&env(&[
            ("HTTP_PORT", "9090"),
            ("DATABASE_URL", "postgres://x/y"),
            ("JWT_SECRET", "12345"),
            ("DATABASE_COMMIT_WRITERS", "3"),
        ]))
        .unwrap();
        assert_eq!(s.http.port, 9090);
        assert_eq!(s.database.url, "postgres://x/y");
        assert_eq!(s.database.commit_writers, 3);
        assert_eq!(s.auth.jwt_secret.unwrap().expose(), "12345");
        assert_eq!(Settings::from_env(&env(&[("PORT", "7000")])).unwrap().http.port, 7000);
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = Settings::from_env(&env(&[("PORT", "eighty")])).unwrap_err().to_string();
        assert!(err.contains("http.port"), "{err}");
        let err = Settings::from_env(&env(&[("DATABASE_URL", "mysql://x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.url"), "{err}");
    }

    const STRONG: &str = "0123456789abcdef0123456789abcdef";
    const AES_KEY: &str = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0";

    fn production(extra: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut pairs = vec![
            ("ENVIRONMENT", "production"),
            ("JWT_SECRET", STRONG),
            ("CARD_FINGERPRINT_KEY", STRONG),
            ("ENCRYPTION_KEY", AES_KEY),
        ];
        pairs.extend_from_slice(extra);
        Settings::from_env(&env(&pairs))
    }

    #[test]
    fn production_requires_a_strong_jwt_secret() {
        let err = Settings::from_env(&env(&[("ENVIRONMENT", "production")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.jwt_secret"), "{err}");
        assert!(production(&[]).is_ok());
        let err = production(&[("JWT_SECRET", "short")]).unwrap_err().to_string();
        assert!(err.contains("auth.jwt_secret"), "{err}");
    }

    #[test]
    fn production_refuses_missing_or_development_data_keys() {
        let without = Settings::from_env(&env(&[
            ("ENVIRONMENT", "production"),
            ("JWT_SECRET", STRONG),
            ("ENCRYPTION_KEY", AES_KEY),
        ]));
        assert!(without
            .unwrap_err()
            .to_string()
            .contains("security.card_fingerprint_key"));
        let dev = production(&[("CARD_FINGERPRINT_KEY", crate::crypto::DEVELOPMENT_FINGERPRINT_KEY)]);
        assert!(dev.unwrap_err().to_string().contains("security.card_fingerprint_key"));
        let without = Settings::from_env(&env(&[
            ("ENVIRONMENT", "production"),
            ("JWT_SECRET", STRONG),
            ("CARD_FINGERPRINT_KEY", STRONG),
        ]));
        assert!(without.unwrap_err().to_string().contains("security.encryption_key"));
        let dev = production(&[("ENCRYPTION_KEY", crate::crypto::DEVELOPMENT_ENCRYPTION_KEY)]);
        assert!(dev.unwrap_err().to_string().contains("security.encryption_key"));
        let short = production(&[("ENCRYPTION_KEY", "abcd")]);
        assert!(short.unwrap_err().to_string().contains("security.encryption_key"));
    }

    #[test]
    fn the_jwt_algorithm_is_pinned_by_configuration() {
        let s = Settings::from_env(&env(&[("JWT_PUBLIC_KEY", "pem")])).unwrap();
        assert_eq!(s.auth.algorithm(), JwtAlgorithm::Rs256);
        let both = Settings::from_env(&env(&[("JWT_PUBLIC_KEY", "pem"), ("JWT_SECRET", "s")]));
        assert!(both.unwrap_err().to_string().contains("auth.jwt_algorithm"));
        let rs_without_key = Settings::from_env(&env(&[("JWT_ALGORITHM", "RS256")]));
        assert!(rs_without_key.unwrap_err().to_string().contains("auth.jwt_public_key"));
        let none = Settings::from_env(&env(&[("JWT_ALGORITHM", "none")]));
        assert!(none.unwrap_err().to_string().contains("auth.jwt_algorithm"));
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
    }
}
