//! The API's wire format: request bodies as clients send them, and the JSON views clients receive
//! (DESIGN §8). The views of payments and refunds live in `crate::views`, below this layer,
//! because merchant events carry them too; they are re-exported here.

use std::collections::BTreeMap;

use payrail_core::domain::PaymentEvent;
use serde::{Deserialize, Serialize};

/// `POST /payments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePaymentBody {
    #[serde(deserialize_with = "integral::required")]
    pub amount: i64,
    pub currency: String,
    pub capture: Option<bool>,
    pub order_id: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub provider: Option<String>,
    pub payment_method: PaymentMethodBody,
    /// Stored sealed (AES-256-GCM), see `store/contacts.rs`.
    pub receipt_email: Option<String>,
    /// Where the customer goes after a customer action (issue 13).
    pub return_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub card: Option<CardBody>,
    /// A provider-issued token (`"type": "token"`), e.g. Stripe's `pm_…`.
    pub token: Option<String>,
}

/// Raw card details: they live only in memory until the provider call.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    pub number: String,
    #[serde(deserialize_with = "integral::required")]
    pub exp_month: i64,
    #[serde(deserialize_with = "integral::required")]
    pub exp_year: i64,
    pub cvc: String,
}

impl std::fmt::Debug for CardBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardBody([redacted])")
    }
}

/// `POST /payments/{id}/capture`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureBody {
    #[serde(default, deserialize_with = "integral::optional")]
    pub amount: Option<i64>,
}

/// `POST /payments/{id}/cancel`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {}

/// `POST /payments/{id}/refund`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    #[serde(default, deserialize_with = "integral::optional")]
    pub amount: Option<i64>,
    pub reason: Option<String>,
}

/// `POST /payments/{id}/confirm`: exactly one of the values a next action may ask for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    pub otp: Option<String>,
    pub pin: Option<String>,
    pub phone: Option<String>,
    pub birthday: Option<String>,
    pub address: Option<AddressBody>,
}

/// `confirm`'s `address`: the card's billing address for an address check (`next_action.type`
/// `address`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    pub address: String,
    pub city: String,
    pub state: String,
    pub country: String,
    pub zipcode: String,
}

/// A PIN or an OTP never prints, not even in a debug log.
impl std::fmt::Debug for ConfirmBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfirmBody([redacted])")
    }
}

/// Query of the list endpoints.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub limit: Option<String>,
    pub starting_after: Option<String>,
    pub order_id: Option<String>,
}

pub use crate::views::{timestamp, PaymentView, RefundView};

#[derive(Debug, Serialize)]
pub struct EventView {
    pub id: String,
    pub payment_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub sequence: i64,
    pub from_status: Option<&'static str>,
    pub to_status: &'static str,
    pub amount: Option<i64>,
    pub refund_id: Option<String>,
    pub failure_code: Option<String>,
    pub created_at: String,
}

impl From<PaymentEvent> for EventView {
    fn from(e: PaymentEvent) -> Self {
        Self {
            id: e.id.to_string(),
            payment_id: e.payment_id.to_string(),
            kind: e.kind.as_str(),
            sequence: e.sequence,
            from_status: e.from_status.map(|s| s.as_str()),
            to_status: e.to_status.as_str(),
            amount: e.amount,
            refund_id: e.refund_id.map(|r| r.to_string()),
            failure_code: e.failure_code,
            created_at: timestamp(e.created_at),
        }
    }
}

/// `{"data": [...], "has_more": bool}`.
#[derive(Debug, Serialize)]
pub struct ListView<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// Integer fields as JSON Schema (and so the OpenAPI document) defines them: `2500` and `2500.0`
/// are both the integer 2500. Fractions, and floats beyond 2^53 (where they stop being exact), are
/// refused as "expected an integer" like any other wrong type.
mod integral {
    use serde::de::{self, Deserialize, Deserializer, Unexpected, Visitor};

    const EXACT_FLOAT_LIMIT: f64 = 9_007_199_254_740_992.0;

    struct Integral(i64);

    impl<'de> Deserialize<'de> for Integral {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(IntegralVisitor).map(Integral)
        }
    }

    struct IntegralVisitor;

    impl Visitor<'_> for IntegralVisitor {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
            if v.fract() == 0.0 && v.abs() <= EXACT_FLOAT_LIMIT {
                // Exact: |v| <= 2^53 and integral.
                Ok(v as i64)
            } else {
                Err(E::invalid_type(Unexpected::Float(v), &self))
            }
        }
    }

    pub fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        Integral::deserialize(deserializer).map(|i| i.0)
    }

    pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        Option::<Integral>::deserialize(deserializer).map(|o| o.map(|i| i.0))
    }
}

#[cfg(test)]
mod tests {
    use super::CaptureBody;
    use crate::http::body::parse_json;

    #[test]
    fn integers_may_be_written_as_integral_floats() {
        let amount = |json: &str| parse_json::<CaptureBody>(json.as_bytes()).map(|b| b.amount);
        assert_eq!(amount(r#"{"amount": 2500}"#).unwrap(), Some(2500));
        assert_eq!(amount(r#"{"amount": 2500.0}"#).unwrap(), Some(2500));
        assert_eq!(amount(r#"{"amount": null}"#).unwrap(), None);
        assert_eq!(amount("{}").unwrap(), None);
        for bad in [r#"{"amount": 10.5}"#, r#"{"amount": 1e30}"#, r#"{"amount": "1"}"#] {
            assert!(amount(bad).is_err(), "{bad}");
        }
    }
}
