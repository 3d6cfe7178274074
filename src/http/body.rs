//! Reading requests at the edge: a JSON body extractor and a query-string parser that turn every
//! malformed input into a 400 naming the parameter, never a 5xx, and never echo a submitted value
//! (a body may carry a card number).

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::http::ApiError;

/// A JSON request body deserialised into `T`. An empty body reads as `{}`, so operations whose
/// fields are all optional (capture, cancel, refund) accept no body at all.
/// (The mutating payment endpoints use `KeyedJson`, which also reads `Idempotency-Key`.)
#[allow(dead_code)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(read_error)?;
            parse_json(&bytes).map(JsonBody)
        })
    }
}

/// A request body as raw bytes (a webhook's: its signature covers them exactly), whose read
/// failures are answered like every other error of the API (JSON, with a code) instead of actix's
/// plain text.
pub struct RawBody(pub actix_web::web::Bytes);

impl actix_web::FromRequest for RawBody {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let bytes = actix_web::web::Bytes::from_request(req, payload);
        Box::pin(async move { bytes.await.map(RawBody).map_err(read_error) })
    }
}

/// A body that could not be read: too large, or broken off.
pub fn read_error(error: actix_web::Error) -> ApiError {
    if error.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::InvalidRequest {
            code: "invalid_body",
            message: "the request body could not be read".into(),
            param: None,
        }
    }
}

/// Parses a JSON document strictly, describing failures by parameter path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    // serde would also read a struct from a JSON array; the API takes objects only.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "the request body must be a JSON object",
            "body",
        ));
    }
    check_shape(bytes)?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(describe)?;
    deserializer
        .end()
        .map_err(|_| malformed("unexpected characters after the JSON document"))?;
    Ok(value)
}

/// Deepest nesting a request body may have; payrail's bodies need three levels.
pub const MAX_JSON_DEPTH: usize = 16;
/// Longest JSON string (in bytes, escapes counted raw) anywhere in a body; fields have tighter
/// limits of their own, this bounds what serde allocates before they are checked.
pub const MAX_JSON_STRING: usize = 4096;

/// One pass over the raw bytes, before any allocation for the document: refuses bodies nested
/// deeper than [`MAX_JSON_DEPTH`] or holding a string longer than [`MAX_JSON_STRING`]. Syntax is
/// left to serde; this only tracks brackets outside strings.
fn check_shape(bytes: &[u8]) -> Result<(), ApiError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut string_len = 0usize;
    for &b in bytes {
        if in_string {
            string_len += 1;
            if string_len > MAX_JSON_STRING {
                return Err(ApiError::invalid(
                    "string_too_long",
                    format!("strings in the request body may be at most {MAX_JSON_STRING} bytes"),
                    "body",
                ));
            }
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                string_len = 0;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(ApiError::invalid(
                        "json_too_deep",
                        format!("the request body may nest at most {MAX_JSON_DEPTH} levels"),
                        "body",
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn malformed(detail: &str) -> ApiError {
    ApiError::InvalidRequest {
        code: "invalid_json",
        message: format!("the request body is not valid JSON: {detail}"),
        param: None,
    }
}

fn describe(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = error.inner();
    if inner.classify() != Category::Data {
        // serde_json's syntax messages name a position, never the input's content.
        return malformed(&inner.to_string());
    }
    let path = error.path().to_string();
    let join = |field: &str| {
        if path == "." {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    let text = inner.to_string();
    let quoted = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = quoted("missing field `") {
        let param = join(&field);
        return ApiError::invalid(
            "parameter_missing",
            format!("missing required parameter `{param}`"),
            param,
        );
    }
    if quoted("unknown field `").is_some() {
        // The path already ends with the unknown field's name, which the client chose: it could be
        // a card number, so long digit runs are masked before it is echoed.
        let param: String = mask_digit_runs(&path).chars().take(128).collect();
        return ApiError::invalid("parameter_unknown", format!("unknown parameter `{param}`"), param);
    }
    // "invalid type: integer `4242…`, expected a string": keep only what was expected.
    let expected = text
        .split_once(", expected ")
        .map(|(_, rest)| rest.split(" at line ").next().unwrap_or(rest))
        .map(|e| match e {
            "i64" | "u64" | "i32" | "u32" | "u8" | "u16" => "an integer",
            other => other,
        })
        .unwrap_or("a different value");
    let param = if path == "." { "body".to_owned() } else { path };
    ApiError::invalid(
        "parameter_invalid",
        format!("invalid value for `{param}`: expected {expected}"),
        param,
    )
}

/// Replaces runs of 6 or more digits with `*`s, so a client's field name cannot echo a PAN.
fn mask_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 6 {
            out.push_str(&"*".repeat(digits.len()));
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// Parses a query string into `T`; unknown parameters are ignored, as browsers and proxies add them.
pub fn parse_query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    serde_urlencoded::from_str(req.query_string()).map_err(|_| ApiError::InvalidRequest {
        code: "invalid_query",
        message: "malformed query string".into(),
        param: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Card {
        number: String,
    }

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        amount: i64,
        card: Option<Card>,
    }

    fn error(json: &str) -> (String, Option<String>, String) {
        match parse_json::<Body>(json.as_bytes()).unwrap_err() {
            ApiError::InvalidRequest { code, message, param } => (code.to_owned(), param, message),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_parameter() {
        assert_eq!(error("{").0, "invalid_json");
        assert_eq!(error("{}").1.as_deref(), Some("amount"));
        assert_eq!(error("{}").0, "parameter_missing");
        assert_eq!(error(r#"{"amount":1,"x":2}"#).0, "parameter_unknown");
        assert_eq!(error(r#"{"amount":"1"}"#).1.as_deref(), Some("amount"));
        assert_eq!(error(r#"{"amount":1.5}"#).0, "parameter_invalid");
        assert_eq!(error(r#"{"amount":1,"card":{}}"#).1.as_deref(), Some("card.number"));
        assert_eq!(error(r#"{"amount":1} x"#).0, "invalid_json");
    }

    #[test]
    fn errors_never_echo_the_value() {
        let (_, param, message) = error(r#"{"amount":1,"card":{"number":4242424242424242}}"#);
        assert_eq!(param.as_deref(), Some("card.number"));
        assert!(!message.contains("4242"), "{message}");
    }

    #[test]
    fn deep_or_long_bodies_are_refused_before_parsing() {
        let deep = format!("{}{}", "[".repeat(MAX_JSON_DEPTH + 1), "]".repeat(MAX_JSON_DEPTH + 1));
        assert_eq!(error(&format!(r#"{{"amount":1,"x":{deep}}}"#)).0, "json_too_deep");
        let long = format!(
            r#"{{"amount":1,"card":{{"number":"{}"}}}}"#,
            "4".repeat(MAX_JSON_STRING + 1)
        );
        assert_eq!(error(&long).0, "string_too_long");
        // Brackets and escaped quotes inside strings are not structure.
        let quoted = format!(
            r#"{{"amount":1,"card":{{"number":"{}\"{}"}}}}"#,
            "[".repeat(40),
            "{".repeat(40)
        );
        assert!(parse_json::<Body>(quoted.as_bytes()).is_ok());
    }

    #[test]
    fn unknown_field_names_never_echo_a_card_number() {
        let (code, param, message) = error(r#"{"amount":1,"4242424242424242":"x"}"#);
        assert_eq!(code, "parameter_unknown");
        assert!(!param.unwrap().contains("4242424242"));
        assert!(!message.contains("4242424242"), "{message}");
    }

    #[test]
    fn an_empty_body_reads_as_an_empty_object() {
        assert_eq!(error("").1.as_deref(), Some("amount"));
    }
}
