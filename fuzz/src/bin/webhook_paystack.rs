//! Paystack webhooks: input = `x-paystack-signature` header line, then the body. HMAC-SHA512
//! check on arbitrary input and on a correct signature, then the event parser.

use hmac::{Hmac, Mac};
use payrail::providers::paystack::webhook;
use sha2::Sha512;

const SECRET: &str = "sk_test_fuzz";

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let (header, body) = payrail_fuzz::split_line(data);
        if let Some(header) = payrail_fuzz::header_text(header) {
            let _ = webhook::verify(header, body, SECRET);
        }
        let mut mac = Hmac::<Sha512>::new_from_slice(SECRET.as_bytes()).expect("any key length");
        mac.update(body);
        let signed = hex::encode(mac.finalize().into_bytes());
        assert_eq!(
            webhook::verify(&signed, body, SECRET),
            Ok(()),
            "a valid signature refused"
        );
        let _ = webhook::parse(body);
    });
}
