//! Settings for merchant events (issue 11): outbound webhook delivery — timeouts, the retry
//! schedule, concurrency and the breaker per endpoint, and which targets may be called.
//! The section is optional in the files (`[merchant_events]`); every key has a default.

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, Environment};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MerchantEventSettings {
    /// Loopback, private, link-local and metadata targets allowed (`WEBHOOK_ALLOW_PRIVATE_TARGETS`);
    /// unset = allowed in development only. Production also requires `https://`.
    pub allow_private_targets: Option<bool>,
    /// Waits after each failed attempt, comma-separated with units (`WEBHOOK_RETRY_SCHEDULE`,
    /// e.g. `5s,5m,30m,2h`; tests use `ms`). After the last one the delivery is `failed`.
    pub retry_schedule: String,
    /// An attempt not answered with a 2xx within this long failed (`WEBHOOK_TIMEOUT_MS`).
    pub timeout_ms: u64,
    /// How often the dispatcher looks for new events and due deliveries (`WEBHOOK_POLL_INTERVAL_MS`).
    pub poll_interval_ms: u64,
    /// Attempts in flight at once per endpoint, per node.
    pub max_in_flight_per_endpoint: usize,
    /// Consecutive failed attempts that open an endpoint's breaker, and how long it stays open
    /// before one attempt probes it (`WEBHOOK_BREAKER_COOLDOWN_MS`).
    pub breaker_threshold: u32,
    pub breaker_cooldown_ms: u64,
    /// An endpoint failing every attempt for this long is disabled (3 days).
    pub disable_after_secs: u64,
    /// How far behind the clock the fan-out scan starts, so an event committed a little after
    /// its timestamp is still found (a sweep every minute looks back 10 minutes).
    pub fan_out_window_ms: u64,
    /// Events are listed and redeliverable this long (30 days).
    pub retention_days: u64,
    /// A rotated secret keeps signing beside the new one this long (24 h).
    pub rotation_overlap_secs: u64,
}

impl Default for MerchantEventSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: None,
            retry_schedule: "5s,5m,30m,2h,5h,10h,10h,10h,10h,10h,10h".into(),
            timeout_ms: 10_000,
            poll_interval_ms: 200,
            max_in_flight_per_endpoint: 16,
            breaker_threshold: 5,
            breaker_cooldown_ms: 30_000,
            disable_after_secs: 3 * 24 * 3600,
            fan_out_window_ms: 5_000,
            retention_days: 30,
            rotation_overlap_secs: 24 * 3600,
        }
    }
}

impl MerchantEventSettings {
    pub fn private_targets_allowed(&self, environment: Environment) -> bool {
        self.allow_private_targets
            .unwrap_or(environment == Environment::Development)
    }

    /// The retry schedule, validated at start-up (so this cannot fail later).
    pub fn retries(&self) -> Vec<Duration> {
        parse_schedule(&self.retry_schedule).unwrap_or_default()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: format!("merchant_events.{key}"),
            message,
        };
        parse_schedule(&self.retry_schedule).map_err(|m| invalid("retry_schedule", m))?;
        if self.timeout_ms == 0 || self.poll_interval_ms == 0 || self.max_in_flight_per_endpoint == 0 {
            return Err(invalid(
                "timeout_ms",
                "timeout_ms, poll_interval_ms and max_in_flight_per_endpoint must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// `5s,5m,30m,2h` (units ms, s, m, h) into durations.
pub fn parse_schedule(raw: &str) -> Result<Vec<Duration>, String> {
    let mut schedule = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let split = part.find(|c: char| !c.is_ascii_digit()).unwrap_or(part.len());
        let (number, unit) = part.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("`{part}`: expected a number with a unit (ms, s, m, h)"))?;
        let millis = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(format!("`{part}`: unit must be ms, s, m or h")),
        };
        schedule.push(Duration::from_millis(number.saturating_mul(millis)));
    }
    if schedule.is_empty() {
        return Err("at least one retry interval is required".into());
    }
    Ok(schedule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_read_with_units() {
        assert_eq!(
            parse_schedule("50ms, 2s,5m,1h").unwrap(),
            vec![
                Duration::from_millis(50),
                Duration::from_secs(2),
                Duration::from_secs(300),
                Duration::from_secs(3600)
            ]
        );
        assert!(parse_schedule("5 parsecs").is_err());
        assert!(parse_schedule("").is_err());
    }
}
