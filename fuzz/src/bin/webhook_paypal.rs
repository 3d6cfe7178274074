//! PayPal webhooks, offline verification: input = lines of `name: value` transmission headers,
//! an empty line, then the body. Header reading, the algorithm check, the signed message (with
//! the body's CRC32) and the base64 signature, up to the certificate host check (no host is
//! allowed, so nothing is fetched); then the event parser.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use payrail::providers::paypal::{offline, webhook};

fn headers(mut head: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    while !head.is_empty() {
        let (line, rest) = payrail_fuzz::split_line(head);
        head = rest;
        let Some((name, value)) = payrail_fuzz::header_text(line).and_then(|l| l.split_once(':')) else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.trim()), HeaderValue::from_str(value.trim())) {
            map.insert(name, value);
        }
    }
    map
}

fn main() {
    // A panic inside it ends the process (AFL++ sees a crash); nothing of it is used afterwards.
    let verifier = std::panic::AssertUnwindSafe(offline::CertVerifier::new(reqwest::Client::new(), Vec::new()));
    afl::fuzz!(|data: &[u8]| {
        let split = data.windows(2).position(|w| w == b"\n\n").unwrap_or(data.len());
        let (head, body) = (&data[..split], data.get(split + 2..).unwrap_or_default());
        let headers = headers(head);
        let verified = futures_executor::block_on(verifier.verify("WH-FUZZ", &headers, body));
        assert!(verified.is_err(), "verified without any allowed certificate host");
        let _ = offline::signed_message("id", "time", "WH-FUZZ", body);
        let _ = webhook::parse(body);
    });
}
