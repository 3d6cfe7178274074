//! `Idempotency-Key` and the request fingerprint: input = a key line, then a body. The key parser
//! (1-255 printable ASCII); the fingerprint (JSON scan, canonical JSON, HMAC) must be a pure
//! function of the request — the same for the `/payments` alias, and 64 hex digits — or a 4xx.

use payrail_core::idempotency::IdempotencyKey;

const KEY: &[u8] = b"fingerprint-key";

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let (key, body) = payrail_fuzz::split_line(data);
        if let Some(parsed) = std::str::from_utf8(key).ok().and_then(IdempotencyKey::parse) {
            assert!(parsed.as_str().bytes().all(|b| (0x20..0x7f).contains(&b)));
            assert!((1..=255).contains(&parsed.as_str().len()));
        }
        let canonical = payrail::http::idempotency::fingerprint(KEY, "POST", "/api/v1/payments", body);
        let alias = payrail::http::idempotency::fingerprint(KEY, "POST", "/payments", body);
        match (canonical, alias) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "the alias fingerprints differently");
                assert!(a.len() == 64 && a.bytes().all(|c| c.is_ascii_hexdigit()));
            }
            (Err(error), Err(_)) => payrail_fuzz::assert_client_error(&error),
            _ => panic!("the alias parses differently"),
        }
    });
}
