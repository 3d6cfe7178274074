//! How a new payment that names no provider picks one: the first routing rule (by priority) that
//! matches its currency and amount names the providers to try, in order; none matching, the
//! default. The create operation then skips providers whose circuit is open (see
//! [`crate::resilience`]), so a payment is not sent to fail fast at a provider known to be down.

/// One routing rule: which payments it matches, and the providers to try for them, in order.
#[derive(Clone, Debug, Default)]
pub struct Route {
    /// Currencies (ISO codes, any case) it matches; empty matches every currency.
    pub currencies: Vec<String>,
    pub min_amount: Option<i64>,
    pub max_amount: Option<i64>,
    /// Higher wins; among equal priorities, the configured order stands.
    pub priority: i64,
    pub providers: Vec<String>,
}

impl Route {
    pub fn matches(&self, currency: &str, amount: i64) -> bool {
        (self.currencies.is_empty() || self.currencies.iter().any(|c| c.eq_ignore_ascii_case(currency)))
            && self.min_amount.map_or(true, |min| amount >= min)
            && self.max_amount.map_or(true, |max| amount <= max)
    }
}

/// The routing rules over the providers that are configured.
#[derive(Clone, Debug)]
pub struct Routes {
    rules: Vec<Route>,
    available: Vec<String>,
    default: String,
}

impl Routes {
    pub fn new(mut rules: Vec<Route>, available: Vec<String>, default: &str) -> Self {
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

    fn rule(currencies: &[&str], min: Option<i64>, max: Option<i64>, priority: i64, providers: &[&str]) -> Route {
        Route {
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
        let routes = Routes::new(
            vec![
                rule(&[], None, None, 0, &["stripe", "sandbox"]),
                rule(&["ngn"], None, None, 10, &["paystack", "flutterwave", "stripe"]),
                rule(&["usd"], Some(100_000), None, 20, &["sandbox"]),
            ],
            available,
            "sandbox",
        );
        assert_eq!(routes.route("ngn", 500), ["paystack", "stripe"]);
        assert_eq!(routes.route("usd", 500), ["stripe", "sandbox"]);
        assert_eq!(routes.route("usd", 100_000), ["sandbox"]);
        let empty = Routes::new(vec![], vec!["sandbox".into()], "sandbox");
        assert_eq!(empty.route("eur", 1), ["sandbox"]);
    }
}
