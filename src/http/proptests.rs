//! Property tests for the request edge: whatever bytes or JSON arrive, parsing a create, capture or
//! refund body (and turning it into domain values) never panics and never yields anything but a
//! 4xx — a 5xx from input would be a bug. Also: PANs are found in free text and never echoed.

use actix_web::ResponseError;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::http::body::parse_json;
use crate::http::parse;
use crate::http::wire::{CaptureBody, CreatePaymentBody, RefundBody};
use crate::http::ApiError;

/// Field names payrail knows, so generated objects reach deep into the structure.
const KEYS: &[&str] = &[
    "amount",
    "currency",
    "capture",
    "order_id",
    "description",
    "metadata",
    "provider",
    "receipt_email",
    "payment_method",
    "type",
    "card",
    "number",
    "exp_month",
    "exp_year",
    "cvc",
    "reason",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        "[0-9 -]{0,24}".prop_map(Value::String),
        proptest::sample::select(&["usd", "card", "4242424242424242", "123", "sandbox", "a@b.co"][..])
            .prop_map(|s| json!(s)),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid create body with some fields replaced by arbitrary JSON.
fn mutated_create() -> impl Strategy<Value = Value> {
    let valid = json!({
        "amount": 1000, "currency": "usd", "capture": false, "order_id": "o-1", "metadata": {"k": "v"},
        "receipt_email": "a@b.co",
        "payment_method": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12,
            "exp_year": 2034, "cvc": "123"}}
    });
    proptest::collection::vec((proptest::sample::select(KEYS), any_json()), 0..4).prop_map(move |changes| {
        let mut body = valid.clone();
        for (key, value) in changes {
            let parent = match key {
                "type" | "card" => "/payment_method",
                "number" | "exp_month" | "exp_year" | "cvc" => "/payment_method/card",
                _ => "",
            };
            // An earlier change may have replaced the parent with a non-object; then skip.
            if let Some(object) = body.pointer_mut(parent).and_then(Value::as_object_mut) {
                object.insert(key.to_owned(), value);
            }
        }
        body
    })
}

fn assert_client_error(error: &ApiError) {
    assert!(error.status_code().is_client_error(), "{error:?} is not a 4xx");
}

/// Everything a create request goes through before the payment's actor.
fn create(bytes: &[u8]) {
    let Ok(mut body) = parse_json::<CreatePaymentBody>(bytes).inspect_err(assert_client_error) else {
        return;
    };
    let merchant = payrail_core::domain::MerchantId::parse("m").unwrap();
    let email = parse::receipt_email(body.receipt_email.take());
    if let Err(error) = &email {
        assert_client_error(error);
    }
    if let Err(error) = parse::new_payment(merchant, body, &["sandbox".to_owned()], "sandbox") {
        assert_client_error(&error);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_and_are_at_most_a_400(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        create(&bytes);
        if let Err(error) = parse_json::<CaptureBody>(&bytes) { assert_client_error(&error); }
        if let Err(error) = parse_json::<RefundBody>(&bytes) { assert_client_error(&error); }
    }

    #[test]
    fn arbitrary_json_never_panics_and_is_at_most_a_400(value in any_json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        create(&bytes);
        if let Err(error) = parse_json::<RefundBody>(&bytes) { assert_client_error(&error); }
    }

    #[test]
    fn mutated_create_bodies_parse_or_are_a_400(value in mutated_create()) {
        create(&serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn errors_never_echo_a_card_number(pan_digits in "4[0-9]{15}", key_first in any::<bool>()) {
        let body = if key_first {
            format!(r#"{{"amount":1,"{pan_digits}":1}}"#)
        } else {
            format!(r#"{{"amount":"{pan_digits}"}}"#)
        };
        if let Err(ApiError::InvalidRequest { message, param, .. }) = parse_json::<CaptureBody>(body.as_bytes()) {
            prop_assert!(!message.contains(&pan_digits[..12]), "{}", message);
            prop_assert!(!param.unwrap_or_default().contains(&pan_digits[..12]));
        }
    }

    #[test]
    fn luhn_valid_numbers_are_found_in_free_text(prefix in "[a-z ]{0,10}", digits in "[1-9][0-9]{14}", suffix in "[a-z ]{0,10}") {
        // Complete `digits` with its Luhn check digit.
        let check = (0..10).find(|d| payrail_core::domain::CardNumber::parse(&format!("{digits}{d}")).is_ok()).unwrap();
        let text = format!("{prefix}{digits}{check}{suffix}");
        prop_assert!(parse::contains_pan(&text), "{}", text);
    }
}
