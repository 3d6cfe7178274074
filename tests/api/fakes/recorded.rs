//! What a fake received, kept whole (method, path, query, headers, raw body) so a test can check
//! every request payrail sent against the provider's published OpenAPI document
//! (`provider_specs.rs`), and the small field checks the fakes share to refuse what the real
//! provider refuses: a required field missing, a field of the wrong type, a string sent as `null`.

use actix_web::HttpRequest;
use serde_json::{json, Value};

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names in lowercase; the `authorization` value is kept (the fakes' own test keys).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn of(req: &HttpRequest, body: &[u8]) -> Self {
        Self {
            method: req.method().to_string(),
            path: req.path().to_owned(),
            query: req.query_string().to_owned(),
            headers: req
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_ascii_lowercase(),
                        value.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The form the spec checker reads (one JSON object per request).
    pub fn to_json(&self, provider: &str) -> Value {
        json!({ "provider": provider, "method": self.method, "path": self.path, "query": self.query,
            "headers": self.headers.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(), "body": self.body })
    }
}

/// Why a field was refused, as a JSON pointer and an issue name (PayPal's vocabulary).
pub type Refusal = (String, &'static str);

/// A required string of at most `max` characters (at least one).
pub fn required_string(body: &Value, pointer: &str, max: usize) -> Result<(), Refusal> {
    match body.pointer(pointer) {
        None => Err((pointer.to_owned(), "MISSING_REQUIRED_PARAMETER")),
        Some(_) => optional_string(body, pointer, max),
    }
}

/// An optional string: absent is fine, `null` or another type is not, nor an empty or long one.
pub fn optional_string(body: &Value, pointer: &str, max: usize) -> Result<(), Refusal> {
    match body.pointer(pointer) {
        None => Ok(()),
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= max => Ok(()),
        Some(Value::String(_)) => Err((pointer.to_owned(), "INVALID_STRING_LENGTH")),
        Some(_) => Err((pointer.to_owned(), "INVALID_PARAMETER_SYNTAX")),
    }
}

/// A required JSON integer.
pub fn required_integer(body: &Value, pointer: &str) -> Result<(), Refusal> {
    match body.pointer(pointer) {
        None => Err((pointer.to_owned(), "MISSING_REQUIRED_PARAMETER")),
        Some(v) if v.is_i64() || v.is_u64() => Ok(()),
        Some(_) => Err((pointer.to_owned(), "INVALID_PARAMETER_SYNTAX")),
    }
}

/// The number of decimals `currency` (any case) has in ISO 4217, or `None` if it is no currency.
pub fn exponent(currency: &str) -> Option<u8> {
    payrail_core::domain::Currency::parse(currency)
        .ok()
        .map(|c| c.exponent())
}

/// Minor units from a decimal string in major units, if it has at most `exponent` decimals.
pub fn minor_from_decimal(value: &str, exponent: u8) -> Option<i64> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let exponent = usize::from(exponent);
    if fraction.len() > exponent || whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    format!("{whole}{fraction:0<exponent$}").parse().ok()
}
