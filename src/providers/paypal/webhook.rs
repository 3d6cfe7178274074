//! PayPal webhooks, verified online: the transmission headers, payrail's `PAYPAL_WEBHOOK_ID` and
//! the event go to PayPal's `POST /v1/notifications/verify-webhook-signature`, and only a
//! `SUCCESS` is accepted (the offline alternative is in [`super::offline`]). The body is parsed as
//! JSON to send it, but nothing in it is acted on before PayPal vouches for it.

use actix_web::http::header::HeaderMap;
use payrail_core::domain::{AuthorizationOutcome, PaymentId};
use payrail_core::operation::ProviderUpdate;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::providers::paypal::transformers::{self as wire, Order};
use crate::providers::paypal::Paypal;
use crate::providers::webhook::{ParsedEvent, SignatureError};

const HEADERS: [(&str, &str); 5] = [
    ("auth_algo", "paypal-auth-algo"),
    ("cert_url", "paypal-cert-url"),
    ("transmission_id", "paypal-transmission-id"),
    ("transmission_sig", "paypal-transmission-sig"),
    ("transmission_time", "paypal-transmission-time"),
];

/// Why verification could not complete: a bad delivery, or PayPal could not be asked.
pub enum VerifyError {
    Signature(SignatureError),
    Unavailable,
}

pub async fn verify(paypal: &Paypal, webhook_id: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
    let mut request = serde_json::Map::new();
    for (field, name) in HEADERS {
        let value = headers
            .get(name)
            .ok_or(VerifyError::Signature(SignatureError::Missing))?
            .to_str()
            .map_err(|_| VerifyError::Signature(SignatureError::Malformed))?;
        request.insert(field.into(), json!(value));
    }
    let event: Value = serde_json::from_slice(body).map_err(|_| VerifyError::Signature(SignatureError::Malformed))?;
    request.insert("webhook_id".into(), json!(webhook_id));
    request.insert("webhook_event".into(), event);
    let answer = paypal
        .post_json("/v1/notifications/verify-webhook-signature", &Value::Object(request))
        .await
        .map_err(|_| VerifyError::Unavailable)?;
    match answer["verification_status"].as_str() {
        Some("SUCCESS") => Ok(()),
        _ => Err(VerifyError::Signature(SignatureError::Mismatch)),
    }
}

#[derive(Deserialize)]
struct Event {
    id: String,
    event_type: String,
    resource: Value,
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

pub fn parse(body: &[u8]) -> Result<ParsedEvent, serde_json::Error> {
    let event: Event = serde_json::from_slice(body)?;
    let resource = &event.resource;
    let resource_id = text(resource, "/id").unwrap_or_default().to_owned();
    let order_id = text(resource, "/supplementary_data/related_ids/order_id")
        .map(str::to_owned)
        .unwrap_or_else(|| resource_id.clone());
    let mut payment_id = text(resource, "/custom_id").and_then(|id| PaymentId::parse(id).ok());
    let update = match event.event_type.as_str() {
        "PAYMENT.CAPTURE.COMPLETED" => Some(ProviderUpdate::Authorization(AuthorizationOutcome::Captured {
            provider_reference: order_id,
        })),
        "PAYMENT.AUTHORIZATION.CREATED" => Some(ProviderUpdate::Authorization(AuthorizationOutcome::Authorized {
            provider_reference: order_id,
        })),
        "PAYMENT.CAPTURE.DENIED" | "PAYMENT.CAPTURE.DECLINED" => {
            Some(ProviderUpdate::Authorization(AuthorizationOutcome::Declined {
                provider_reference: Some(order_id),
                code: "card_declined".into(),
                message: "PayPal declined the capture.".into(),
            }))
        }
        "PAYMENT.REFUND.COMPLETED"
        | "PAYMENT.REFUND.FAILED"
        | "PAYMENT.REFUND.PENDING"
        | "PAYMENT.REFUND.CANCELLED" => Some(ProviderUpdate::Refund {
            refund_id: None,
            provider_reference: Some(resource_id),
            status: wire::refund_status(text(resource, "/status").unwrap_or_default()),
        }),
        "CHECKOUT.ORDER.COMPLETED" => {
            let order: Order = serde_json::from_value(resource.clone())?;
            payment_id = text(resource, "/purchase_units/0/custom_id").and_then(|id| PaymentId::parse(id).ok());
            Some(ProviderUpdate::Authorization(wire::order_outcome(&order)))
        }
        _ => None,
    };
    Ok(ParsedEvent {
        id: event.id,
        kind: event.event_type,
        payment_id,
        update,
    })
}
