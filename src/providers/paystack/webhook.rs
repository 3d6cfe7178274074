//! Paystack webhooks: `x-paystack-signature` is the lowercase hex HMAC-SHA512 of the raw body,
//! keyed with the secret API key; there is no timestamp and no event id, so deliveries are deduped
//! by the event name and the object's id.

use hmac::{Hmac, Mac};
use payrail_core::operation::ProviderUpdate;
use serde::Deserialize;
use sha2::Sha512;

use crate::providers::paystack::transformers::{self as wire, Transaction};
use crate::providers::webhook::{ParsedEvent, SignatureError};

pub const SIGNATURE_HEADER: &str = "x-paystack-signature";

pub fn verify(header: &str, body: &[u8], secret_key: &str) -> Result<(), SignatureError> {
    let signature = hex::decode(header.trim()).map_err(|_| SignatureError::Malformed)?;
    let mut mac = Hmac::<Sha512>::new_from_slice(secret_key.as_bytes()).map_err(|_| SignatureError::Malformed)?;
    mac.update(body);
    mac.verify_slice(&signature).map_err(|_| SignatureError::Mismatch)
}

#[derive(Deserialize)]
struct Event {
    event: String,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct RefundData {
    id: Option<serde_json::Value>,
    status: String,
    transaction_reference: Option<String>,
    refund_reference: Option<String>,
}

pub fn parse(body: &[u8]) -> Result<ParsedEvent, serde_json::Error> {
    let event: Event = serde_json::from_slice(body)?;
    let object_id = event
        .data
        .get("id")
        .map(|id| id.to_string().trim_matches('"').to_owned())
        .unwrap_or_default();
    let status = event.data.get("status").and_then(|s| s.as_str()).unwrap_or_default();
    let mut parsed = ParsedEvent {
        id: format!("{}:{object_id}:{status}", event.event),
        kind: event.event.clone(),
        payment_id: None,
        update: None,
    };
    if event.event.starts_with("charge.") {
        let tx: Transaction = serde_json::from_value(event.data)?;
        parsed.payment_id = tx.reference.as_deref().and_then(wire::payment_id);
        parsed.update = Some(ProviderUpdate::Authorization(wire::transaction_outcome(&tx)));
    } else if event.event.starts_with("refund.") {
        let refund: RefundData = serde_json::from_value(event.data)?;
        parsed.payment_id = refund.transaction_reference.as_deref().and_then(wire::payment_id);
        let reference = refund
            .id
            .map(|id| id.to_string().trim_matches('"').to_owned())
            .or(refund.refund_reference);
        parsed.update = Some(ProviderUpdate::Refund {
            refund_id: None,
            provider_reference: reference,
            status: wire::refund_status(&refund.status),
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha512_of_the_body_with_the_secret_key() {
        let body = br#"{"event":"charge.success","data":{"id":1,"status":"success","reference":"x"}}"#;
        let mut mac = Hmac::<Sha512>::new_from_slice(b"sk_test_abc").unwrap();
        mac.update(body);
        let header = hex::encode(mac.finalize().into_bytes());
        assert_eq!(verify(&header, body, "sk_test_abc"), Ok(()));
        assert_eq!(verify(&header, body, "sk_test_other"), Err(SignatureError::Mismatch));
        assert_eq!(verify("nothex", body, "sk_test_abc"), Err(SignatureError::Malformed));
        assert_eq!(parse(body).unwrap().id, "charge.success:1:success");
    }
}
