//! Typed configuration: `config/default.toml`, then `config/{ENVIRONMENT}.toml`, then environment
//! variables, merged into one [`Settings`] and validated at start-up with an error naming the key.
//!
//! The TOML files are embedded in the binary as a fallback, so `payrail` runs from any directory;
//! a `config/` directory next to the working directory (or `CONFIG_DIR`) takes precedence.
//!
//! This file holds the settings themselves; `layers.rs` reads and merges the files and validates
//! the result, `env.rs` maps environment variables onto settings keys.
//!
//! Why not `figment` or `config`: what they would replace is `layers.rs`'s file merge (~25 lines).
//! The rest stays ours either way — the environment layer is a table of the seeds' variable names
//! (`DATABASE_URL`, `PORT`, `STRIPE_API_KEY` as an alias of `STRIPE_SECRET_KEY`, …) onto nested
//! keys, which figment's `Env` provider would need spelled out name by name, with comma-separated
//! lists (`CORS_ORIGINS`) and JSON (`PROVIDER_ROUTES`) converted by hand; and the errors already
//! name the key (`serde_path_to_error`). Revisit if payrail grows a second source (a secrets
//! manager, say) where a provider model pays off.

mod env;
mod layers;
mod merchant_events;
#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::Deserialize;

// Settings hold secrets; the type lives below configuration so crypto and providers can use it too.
pub use crate::secret::Secret;
// Provider settings sit beside the adapters that read them; configuration only gathers them.
pub use crate::providers::config::ProviderSettings;
pub use merchant_events::MerchantEventSettings;

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
    /// Outbound webhooks to merchants (issue 11); optional in the files.
    #[serde(default)]
    pub merchant_events: MerchantEventSettings,
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
    /// payrail's address as customers' browsers and providers reach it (`PUBLIC_URL`), for the
    /// return endpoint providers redirect to and the sandbox's challenge pages. Unset = the
    /// address bound (`http://{host}:{port}`), filled in at start-up.
    #[serde(default)]
    pub public_url: Option<String>,
}

impl HttpSettings {
    /// [`HttpSettings::public_url`], or the configured listen address when unset.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}:{}", self.host, self.port),
        }
    }
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
    /// How long a node's lease on a one-node-at-a-time job (reconciler, idempotency reaper,
    /// audit appender) lasts without renewal: another node takes the job over after this.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
}

fn default_lease_secs() -> u64 {
    15
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
    /// Opens the operator console (`OPERATOR_TOKEN`); unset: only JWTs with the `operator` role do.
    #[serde(default)]
    pub operator_token: Option<Secret>,
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
    /// Keep the sandbox's own ledger (`sandbox_ledger`) for reconciliation reports; one insert per
    /// capture or refund, which a load test may turn off.
    #[serde(default = "default_true")]
    pub ledger: bool,
}

fn default_true() -> bool {
    true
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
    /// How often one node walks the whole audit chain (as `payrail audit verify` does) and reports
    /// the verdict as metrics; 0 turns it off.
    #[serde(default = "default_audit_verify_interval")]
    pub verify_interval_secs: u64,
}

fn default_audit_verify_interval() -> u64 {
    21_600
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
