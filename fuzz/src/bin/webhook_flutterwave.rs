//! Flutterwave webhooks: input = a selector byte, a header line, then the body. The header is the
//! HMAC `flutterwave-signature` or the legacy `verif-hash` (the selector's low bit); both checks on
//! arbitrary input and on correct values, then the event parser.

use base64::Engine;
use hmac::{Hmac, Mac};
use payrail::providers::flutterwave::webhook;
use sha2::Sha256;

const SECRET_HASH: &str = "flw-fuzz-hash";

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Some((&selector, rest)) = data.split_first() else {
            return;
        };
        let (header, body) = payrail_fuzz::split_line(rest);
        if let Some(header) = payrail_fuzz::header_text(header) {
            let (signature, hash) = if selector & 1 == 0 {
                (Some(header), None)
            } else {
                (None, Some(header))
            };
            let _ = webhook::verify(signature, hash, body, SECRET_HASH);
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET_HASH.as_bytes()).expect("any key length");
        mac.update(body);
        let signed = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(
            webhook::verify(Some(&signed), None, body, SECRET_HASH),
            Ok(()),
            "a valid signature refused"
        );
        assert_eq!(
            webhook::verify(None, Some(SECRET_HASH), body, SECRET_HASH),
            Ok(()),
            "the hash refused"
        );
        let _ = webhook::parse(body);
    });
}
