//! Stripe webhooks: input = `Stripe-Signature` header line, then the body. The signature check
//! (header parsing, tolerance, constant-time compare) and the event parser on arbitrary input,
//! and on the same body correctly signed, so the parser is reached past a valid signature.

use hmac::{Hmac, Mac};
use payrail::providers::stripe::webhook;
use sha2::Sha256;

const SECRET: &str = "whsec_fuzz";
const NOW: i64 = 1_700_000_000;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let (header, body) = payrail_fuzz::split_line(data);
        if let Some(header) = payrail_fuzz::header_text(header) {
            let _ = webhook::verify(header, body, SECRET, 300, NOW);
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
        mac.update(format!("{NOW}.").as_bytes());
        mac.update(body);
        let signed = format!("t={NOW},v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(
            webhook::verify(&signed, body, SECRET, 300, NOW),
            Ok(()),
            "a valid signature refused"
        );
        let _ = webhook::parse(body);
    });
}
