//! `POST /payments`' body through the whole edge: the raw-byte scan (depth, string length, the
//! control-character rule), serde, then the domain's types. Refusals are 400s; an accepted body
//! carries no control character in any text that would be stored.

use payrail_core::domain::MerchantId;

fn main() {
    let merchant = MerchantId::parse("merchant_fuzz").expect("a valid merchant id");
    let providers = vec!["sandbox".to_owned(), "stripe".to_owned()];
    afl::fuzz!(|data: &[u8]| {
        match payrail::http::create_request(merchant.clone(), data, &providers, "sandbox") {
            Ok((payment, _method)) => {
                let stored = [payment.order_id.as_deref(), payment.description.as_deref()];
                let metadata = payment.metadata.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]);
                for text in stored.into_iter().flatten().chain(metadata) {
                    assert!(
                        !text.chars().any(|c| c.is_ascii_control()),
                        "stored text with a control character"
                    );
                }
            }
            Err(error) => payrail_fuzz::assert_client_error(&error),
        }
    });
}
