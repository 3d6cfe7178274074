//! Reading requests at the edge: the JSON body parser and a query-string parser that turn every
//! malformed input into a 400 naming the parameter, never a 5xx, and never echo a submitted value
//! (a body may carry a card number). Before serde sees a body, one pass over its bytes enforces
//! the limits (depth, string length) and the edge's text rule (`text.rs`) on every
//! string of the document, keys included, so no field can carry a NUL to the database.

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::http::text::{forbidden_char, invalid_characters, mask_digit_runs};
use crate::http::ApiError;

/// A request body as raw bytes (a webhook's: its signature covers them exactly), whose read
/// failures are answered like every other error of the API (JSON, with a code) instead of actix's
/// plain text.
pub struct RawBody(pub web::Bytes);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
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

/// One pass over the raw bytes, before any allocation for the document: refuses bodies that are
/// not UTF-8, nested deeper than [`MAX_JSON_DEPTH`], holding a string longer than
/// [`MAX_JSON_STRING`], or a string with a control character (raw or escaped) — named by its
/// path, `metadata.note` or `items[2].name`, as serde names fields. Syntax is left to serde: on
/// a malformed document the path may be off, never the verdict.
fn check_shape(bytes: &[u8]) -> Result<(), ApiError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::invalid(
            "invalid_characters",
            "the request body must be UTF-8",
            "body",
        ));
    }
    let mut levels: Vec<Level> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let is_key = matches!(
                    levels.last(),
                    Some(Level::Object {
                        expecting_key: true,
                        ..
                    })
                );
                let (end, clean) = scan_string(bytes, i + 1)?;
                if !clean {
                    // A bad key is reported on the object holding it.
                    let depth = if is_key {
                        levels.len().saturating_sub(1)
                    } else {
                        levels.len()
                    };
                    let param = path(&levels[..depth]);
                    return Err(invalid_characters(&param));
                }
                if let (true, Some(Level::Object { key, .. })) = (is_key, levels.last_mut()) {
                    *key = String::from_utf8_lossy(&bytes[i + 1..end]).into_owned();
                }
                i = end;
            }
            open @ (b'{' | b'[') => {
                if levels.len() >= MAX_JSON_DEPTH {
                    return Err(ApiError::invalid(
                        "json_too_deep",
                        format!("the request body may nest at most {MAX_JSON_DEPTH} levels"),
                        "body",
                    ));
                }
                levels.push(if open == b'{' {
                    Level::Object {
                        key: String::new(),
                        expecting_key: true,
                    }
                } else {
                    Level::Array { index: 0 }
                });
            }
            b'}' | b']' => {
                levels.pop();
            }
            b':' => {
                if let Some(Level::Object { expecting_key, .. }) = levels.last_mut() {
                    *expecting_key = false;
                }
            }
            b',' => match levels.last_mut() {
                Some(Level::Object { expecting_key, .. }) => *expecting_key = true,
                Some(Level::Array { index }) => *index += 1,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Where the scan is: inside an object (the key of the current member) or an array (its index).
enum Level {
    Object { key: String, expecting_key: bool },
    Array { index: usize },
}

/// The serde-style path of `levels`, digit runs masked (keys are the client's and may hold a
/// PAN); `body` at the top.
fn path(levels: &[Level]) -> String {
    let mut out = String::new();
    for level in levels {
        match level {
            Level::Object { key, .. } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Level::Array { index } => out.push_str(&format!("[{index}]")),
        }
    }
    if out.is_empty() {
        return "body".to_owned();
    }
    mask_digit_runs(&out).chars().take(128).collect()
}

/// Scans a JSON string from just after its opening quote: returns the index of its closing quote
/// (or the body's length, when a truncated body ends inside the string or its last escape) and whether it is free of forbidden characters, raw or escaped (`\n`, `\u0000`).
fn scan_string(bytes: &[u8], start: usize) -> Result<(usize, bool), ApiError> {
    let mut i = start;
    let mut clean = true;
    while i < bytes.len() {
        if i - start > MAX_JSON_STRING {
            return Err(ApiError::invalid(
                "string_too_long",
                format!("strings in the request body may be at most {MAX_JSON_STRING} bytes"),
                "body",
            ));
        }
        match bytes[i] {
            b'"' => return Ok((i, clean)),
            b'\\' => {
                let escaped = bytes.get(i + 1).copied();
                let code = match escaped {
                    Some(b'u') => bytes
                        .get(i + 2..i + 6)
                        .and_then(|hex| std::str::from_utf8(hex).ok())
                        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                        .and_then(char::from_u32),
                    Some(b'b') => Some('\u{8}'),
                    Some(b'f') => Some('\u{c}'),
                    Some(b'n') => Some('\n'),
                    Some(b'r') => Some('\r'),
                    Some(b't') => Some('\t'),
                    _ => None,
                };
                clean &= !code.is_some_and(forbidden_char);
                i += 2;
                continue;
            }
            b => clean &= !forbidden_char(char::from(b)),
        }
        i += 1;
    }
    // A trailing backslash stepped past the end.
    Ok((i.min(bytes.len()), clean))
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

/// Parses a query string into `T`; unknown parameters are ignored, as browsers and proxies add them.
pub fn parse_query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    serde_urlencoded::from_str(req.query_string()).map_err(|_| ApiError::InvalidRequest {
        code: "invalid_query",
        message: "malformed query string".into(),
        param: None,
    })
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
