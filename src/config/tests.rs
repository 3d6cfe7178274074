//! Loading, layering, validation and redaction of the settings.

use std::collections::HashMap;

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
    let err = Settings::from_env(&env(&[("PUBLIC_URL", "payrail.example.com")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("http.public_url"), "{err}");
    let err = Settings::from_env(&env(&[("FLUTTERWAVE_ENCRYPTION_KEY", "short")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("providers.flutterwave.encryption_key"), "{err}");
    assert!(!err.contains("short"), "the key itself is never printed: {err}");
    let ok = Settings::from_env(&env(&[("FLUTTERWAVE_ENCRYPTION_KEY", "FLWSECK_TEST85d27f01c26e")])).unwrap();
    assert!(ok.providers.flutterwave.encryption_key.is_some());
}

#[test]
fn customer_action_settings_come_from_the_environment() {
    let settings = Settings::from_env(&env(&[
        ("PUBLIC_URL", "https://pay.example.com/"),
        ("REQUIRES_ACTION_TTL_SECS", "600"),
    ]))
    .unwrap();
    assert_eq!(settings.http.public_url(), "https://pay.example.com");
    assert_eq!(settings.providers.requires_action_ttl_secs, 600);
    let defaults = Settings::from_env(&env(&[])).unwrap();
    assert_eq!(defaults.http.public_url(), "http://127.0.0.1:8080");
    assert_eq!(defaults.providers.requires_action_ttl_secs, 86_400);
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
