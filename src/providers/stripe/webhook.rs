//! Stripe webhooks: the `Stripe-Signature` check on the raw body, then the event mapped to a
//! provider update for the payment it names.
//!
//! The header is `t=<unix>,v1=<hex>[,v1=<hex>…]`; each `v1` is HMAC-SHA256 keyed with the whole
//! `whsec_…` secret over `"<t>.<raw body>"`. Any matching `v1` is accepted (several appear while a
//! secret rolls), compared in constant time; `v0` and unknown schemes are ignored. Like Stripe's
//! own libraries, only *old* timestamps are refused (`now − t > tolerance`).

use hmac::{Hmac, Mac};
use payrail_core::domain::{PaymentId, RefundId};
use payrail_core::operation::ProviderUpdate;
use serde::Deserialize;
use sha2::Sha256;

use crate::providers::stripe::transformers::{self as wire, PaymentIntent, RefundObject};
use crate::providers::webhook::{ParsedEvent, SignatureError};

pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Checks `header` against `body`; `now` and `tolerance_secs` are Unix seconds.
pub fn verify(header: &str, body: &[u8], secret: &str, tolerance_secs: i64, now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mac = |key: &str| -> Result<Hmac<Sha256>, SignatureError> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).map_err(|_| SignatureError::Malformed)?;
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        Ok(mac)
    };
    // `verify_slice` compares in constant time.
    let matched = signatures.iter().try_fold(false, |found, sig| {
        Ok::<_, SignatureError>(found || mac(secret)?.verify_slice(sig).is_ok())
    })?;
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if now - timestamp > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// Maps a verified event body. Events payrail does not act on are parsed with no update.
pub fn parse(body: &[u8]) -> Result<ParsedEvent, serde_json::Error> {
    let event: Event = serde_json::from_slice(body)?;
    let mut parsed = ParsedEvent {
        id: event.id,
        kind: event.kind.clone(),
        payment_id: None,
        update: None,
    };
    let payment_id = |metadata: &std::collections::HashMap<String, String>| {
        metadata
            .get(wire::PAYMENT_ID_KEY)
            .and_then(|id| PaymentId::parse(id).ok())
    };
    if event.kind.starts_with("payment_intent.") {
        let intent: PaymentIntent = serde_json::from_value(event.data.object)?;
        parsed.payment_id = payment_id(&intent.metadata);
        parsed.update = Some(if intent.status == "canceled" {
            // Uncaptured authorisations expire after 7 days; Stripe cancels the intent.
            ProviderUpdate::Canceled {
                provider_reference: Some(intent.id.clone()),
            }
        } else {
            ProviderUpdate::Authorization(wire::intent_outcome(&intent))
        });
    } else if event.kind.starts_with("refund.") || event.kind == "charge.refund.updated" {
        let refund: RefundObject = serde_json::from_value(event.data.object)?;
        parsed.payment_id = payment_id(&refund.metadata);
        parsed.update = Some(ProviderUpdate::Refund {
            refund_id: refund
                .metadata
                .get(wire::REFUND_ID_KEY)
                .and_then(|id| RefundId::parse(id).ok()),
            provider_reference: Some(refund.id.clone()),
            status: wire::refund_status(&refund.status),
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn accepts_any_matching_v1_and_refuses_stale_or_altered() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign("whsec_a", 1000, body);
        let other = sign("whsec_b", 1000, body);
        let header = format!("t=1000,v0=abc,v1={other},v1={good}");
        assert_eq!(verify(&header, body, "whsec_a", 300, 1200), Ok(()));
        assert_eq!(verify(&header, body, "whsec_a", 300, 1301), Err(SignatureError::Stale));
        assert_eq!(
            verify(&header, b"{}", "whsec_a", 300, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, body, "whsec_c", 300, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("v1=00", body, "whsec_a", 300, 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(verify("", body, "whsec_a", 300, 1000), Err(SignatureError::Malformed));
        // Future timestamps pass, as in Stripe's libraries.
        assert_eq!(verify(&header, body, "whsec_a", 300, 10), Ok(()));
    }
}
