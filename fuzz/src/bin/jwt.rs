//! The JWT path: input = an `Authorization` header value. Bearer extraction, then HS256
//! verification (algorithm pinned, `exp` required, `sub` a merchant id). Nothing but a token this
//! target signed itself may ever verify.

use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use payrail::auth::{bearer_token, Jwt};
use payrail::config::Secret;
use payrail_core::domain::MerchantId;

fn main() {
    let jwt = Jwt::hs256(&Secret::new("jwt-secret-for-the-fuzz-target-0123456789"));
    let merchant = MerchantId::parse("merchant_fuzz").expect("a valid merchant id");
    let genuine = jwt.issue(&merchant, 3600).expect("a token");
    afl::fuzz!(|data: &[u8]| {
        let Some(value) = payrail_fuzz::header_text(data).and_then(|v| HeaderValue::from_str(v).ok()) else {
            return;
        };
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value);
        if let Some(token) = bearer_token(&headers) {
            if let Ok(verified) = jwt.verify(token) {
                assert_eq!(token.trim(), genuine, "a forged token verified");
                assert_eq!(verified, merchant);
            }
        }
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = jwt.verify(text);
        }
    });
}
