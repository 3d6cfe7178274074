//! The edge's one text rule ([`forbidden_char`]): no text a client sends — body strings (checked
//! by `body.rs`'s scan of the raw JSON), path segments and query parameters (checked by
//! [`request_target`] in the request middleware, `headers.rs`), headers (`IdempotencyKey` and
//! `X-Request-Id` take printable ASCII only) — may carry a control character or broken UTF-8. So
//! none reaches the database (PostgreSQL refuses a NUL, SQLite would store it: the backends would
//! differ) or a log line, and the refusal is a 400 `invalid_characters` naming the field. Names a
//! client chose are echoed only through [`mask_digit_runs`], so an error cannot repeat a PAN.

use crate::http::ApiError;

/// C0 control characters (NUL, newline, tab, escape, ...) and DEL. No field of the API documents
/// a use for them; PostgreSQL refuses NUL in text, and the others forge log lines and terminals.
pub fn forbidden_char(c: char) -> bool {
    c.is_ascii_control()
}

/// The 400 for text breaking the rule; `param` names the field, never echoes its value.
pub fn invalid_characters(param: &str) -> ApiError {
    ApiError::invalid(
        "invalid_characters",
        format!("`{param}` must be UTF-8 text without control characters"),
        param,
    )
}

/// A request's path and query string, percent-decoded, must be UTF-8 without control characters.
/// A bad query parameter is named (the name is the client's: digit runs masked, cut to 64
/// characters); a bad path segment is reported as `path`.
pub fn request_target(path: &str, query: &str) -> Result<(), ApiError> {
    if !clean(&percent_decode(path, false)) {
        return Err(invalid_characters("path"));
    }
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name, true);
        if !clean(&name) {
            return Err(invalid_characters("query"));
        }
        if !clean(&percent_decode(value, true)) {
            let name: String = mask_digit_runs(&String::from_utf8_lossy(&name))
                .chars()
                .take(64)
                .collect();
            return Err(invalid_characters(&name));
        }
    }
    Ok(())
}

fn clean(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| !text.chars().any(forbidden_char))
}

/// `%XX` to its byte (a malformed escape stays as written, as browsers and actix leave it); in a
/// query, `+` is a space.
fn percent_decode(text: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (hex, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') if plus_is_space => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    out
}

/// Replaces runs of 6 or more digits with `*`s, so a client's field name cannot echo a PAN.
pub fn mask_digit_runs(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::request_target;

    fn refused_param(path: &str, query: &str) -> Option<String> {
        match request_target(path, query) {
            Ok(()) => None,
            Err(crate::http::ApiError::InvalidRequest { code, param, .. }) => {
                assert_eq!(code, "invalid_characters");
                param
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn paths_and_queries_are_text_without_control_characters() {
        assert_eq!(
            refused_param("/api/v1/payments/order/o-1%20x", "limit=5&order_id=a+b%2Fc"),
            None
        );
        assert_eq!(
            refused_param("/api/v1/payments/order/caf%C3%A9", "order_id=%E2%82%AC&x"),
            None
        );
        assert_eq!(
            refused_param("/api/v1/payments/order/o%00", "").as_deref(),
            Some("path")
        );
        assert_eq!(refused_param("/p", "order_id=o%00").as_deref(), Some("order_id"));
        assert_eq!(
            refused_param("/p", "starting_after=%0a").as_deref(),
            Some("starting_after")
        );
        assert_eq!(
            refused_param("/p", "order_id=%FF").as_deref(),
            Some("order_id"),
            "not UTF-8"
        );
        assert_eq!(refused_param("/p", "a%00b=1").as_deref(), Some("query"));
        assert_eq!(refused_param("/p", "gateway=x%7F").as_deref(), Some("gateway"));
        // A malformed escape is text, as actix reads it.
        assert_eq!(refused_param("/p%zz", "q=%4"), None);
    }
}
