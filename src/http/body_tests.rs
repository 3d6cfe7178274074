//! The JSON edge's rules (`body.rs`), one test per rule: size, depth and string limits before
//! parsing, control characters refused by path, integers as numbers or `.0` floats, cut-off input.

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
    error_bytes(json.as_bytes())
}

fn error_bytes(json: &[u8]) -> (String, Option<String>, String) {
    match parse_json::<Body>(json).unwrap_err() {
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
fn control_characters_are_refused_naming_the_field() {
    let refused = |json: &str| {
        let (code, param, message) = error(json);
        assert_eq!(code, "invalid_characters", "{json}: {message}");
        param.unwrap_or_default()
    };
    assert_eq!(refused(r#"{"amount":1,"card":{"number":"42\u0000"}}"#), "card.number");
    assert_eq!(refused(r#"{"amount":1,"card":{"number":"4\n2"}}"#), "card.number");
    assert_eq!(refused(r#"{"amount":1,"x":[{"a":"ok"},{"b":"\u001b[31m"}]}"#), "x[1].b");
    assert_eq!(
        refused(r#"{"amount":1,"x":{"\u0000":"v"}}"#),
        "x",
        "a bad key names its object"
    );
    assert_eq!(refused(r#"{"a\tb":1}"#), "body");
    assert_eq!(refused("{\"amount\":1,\"x\":\"\u{7f}\"}"), "x", "DEL, raw");
    assert_eq!(
        refused(r#"{"amount":1,"x":{"4242424242424242":"\u0007"}}"#),
        "x.****************"
    );
    // Escaped quotes, backslashes and non-ASCII text are fine.
    assert!(parse_json::<Body>(r#"{"amount":1,"card":{"number":"a\"b\\c\u00e9\u20ac/"}}"#.as_bytes()).is_ok());
    let (code, param, _) = error_bytes(b"{\"amount\":1,\"card\":{\"number\":\"\xff\"}}");
    assert_eq!(
        (code.as_str(), param.as_deref()),
        ("invalid_characters", Some("body")),
        "not UTF-8"
    );
}

/// Found by the `create_body` AFL++ target (`fuzz/`): a body cut off right after a backslash
/// inside a string made the scan slice past the end and panic.
#[test]
fn a_body_cut_off_inside_an_escape_is_a_400_not_a_panic() {
    assert_eq!(error(r#"{"amou\"#).0, "invalid_json");
    // serde may name an unknown field before it reaches the cut: still a 400.
    for cut in [
        r#"{"amount":1,"x:1,"x":[["\n"\"#,
        r#"{r":2034,"cvc":"1qmd""u1111inln":x\"#,
    ] {
        error(cut);
    }
}

#[test]
fn an_empty_body_reads_as_an_empty_object() {
    assert_eq!(error("").1.as_deref(), Some("amount"));
}
