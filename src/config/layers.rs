//! The layers of configuration — `config/default.toml`, `config/{ENVIRONMENT}.toml` (from
//! `CONFIG_DIR`, else `config/`, else the copies embedded in the binary), then environment
//! variables (`env.rs`) — merged into one [`Settings`] and validated, or refused naming the key.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{env, ConfigError, Environment, Settings};

const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
const DEVELOPMENT_TOML: &str = include_str!("../../config/development.toml");
const PRODUCTION_TOML: &str = include_str!("../../config/production.toml");

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
        env::overlay(&mut merged, env)?;
        env::set(
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
        let public = self.http.public_url.as_deref().unwrap_or("http://");
        if !(public.starts_with("https://") || public.starts_with("http://")) || public.contains(['?', '#']) {
            return invalid("http.public_url", "must be an http(s) URL without query or fragment");
        }
        self.auth.validate(self.environment)?;
        self.security.validate(self.environment)?;
        self.merchant_events.validate()?;
        if let Some(message) = self.providers.flutterwave.encryption_key_problem() {
            return invalid("providers.flutterwave.encryption_key", message);
        }
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
