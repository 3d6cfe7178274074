//! Pure mappings for Flutterwave v3 direct card charges (`POST /v3/charges?type=card`): the
//! payload that is encrypted into `client`, and what the answer's `meta.authorization.mode`
//! asks for — `pin` or `avs_noauth` (resend the payload with the PIN or the billing address),
//! `otp` (`POST /v3/validate-charge` with the charge's `flw_ref`), `redirect` (3-D Secure: send the
//! customer to Flutterwave's page; it comes back to payrail's return URL and is verified by
//! `tx_ref`) — as payrail's next actions.

use payrail_core::domain::{
    ActionInput, AuthorizationOutcome, BillingAddress, CardDetails, Currency, NextAction, PaymentId,
};
use payrail_core::ports::AuthorizeRequest;
use serde::Deserialize;
use serde_json::{json, Value};

use super::transformers::{self as wire, Transaction};

/// The customer's answer to a `pin` or `avs_noauth` mode, resent inside the payload.
pub enum Authorization<'a> {
    Pin(&'a str),
    Address(&'a BillingAddress),
}

/// The JSON payload to encrypt: the card, the amount in major units, `tx_ref` (payrail's payment
/// id), the customer email Flutterwave requires, and payrail's return endpoint as `redirect_url`.
pub fn payload(request: &AuthorizeRequest, card: &CardDetails, authorization: Option<Authorization<'_>>) -> Value {
    let mut body = json!({
        "card_number": card.number.expose(),
        "cvv": card.cvc.expose(),
        "expiry_month": format!("{:02}", card.exp_month),
        "expiry_year": format!("{:02}", card.exp_year % 100),
        "currency": request.currency.code().to_ascii_uppercase(),
        "amount": wire::major_amount(request.currency, request.amount.minor_units()),
        "email": format!("{}@customers.payrail.invalid", request.payment_id),
        "tx_ref": request.payment_id.as_str(),
    });
    if let Some(url) = &request.return_url {
        body["redirect_url"] = json!(url);
    }
    if let Some(description) = request.description.as_deref().filter(|d| !d.is_empty()) {
        body["narration"] = json!(description);
    }
    match authorization {
        Some(Authorization::Pin(pin)) => body["authorization"] = json!({ "mode": "pin", "pin": pin }),
        Some(Authorization::Address(a)) => {
            body["authorization"] = json!({ "mode": "avs_noauth", "city": a.city, "address": a.address,
                "state": a.state, "country": a.country, "zipcode": a.zipcode })
        }
        None => {}
    }
    body
}

/// A card charge's answer: the envelope, with `data` absent when Flutterwave only asks for
/// authorization data, and `meta.authorization` saying what it needs.
#[derive(Debug, Deserialize)]
pub struct ChargeAnswer {
    pub status: String,
    #[serde(default)]
    pub message: String,
    pub data: Option<Transaction>,
    pub meta: Option<ChargeMeta>,
}

#[derive(Debug, Deserialize)]
pub struct ChargeMeta {
    pub authorization: Option<AuthorizationMeta>,
}

#[derive(Debug, Deserialize)]
pub struct AuthorizationMeta {
    pub mode: String,
    /// The 3-D Secure page, for `redirect`.
    pub redirect: Option<String>,
}

impl ChargeAnswer {
    pub fn mode(&self) -> Option<&str> {
        self.meta.as_ref()?.authorization.as_ref().map(|a| a.mode.as_str())
    }

    /// The charge needs the card sent again (with a PIN or an address).
    pub fn needs_card_again(&self) -> bool {
        matches!(self.mode(), Some("pin" | "avs_noauth"))
    }
}

/// What a card charge's answer means for the payment. A charge that asks for a PIN or an address
/// has no Flutterwave reference yet: its `tx_ref` (payrail's id) stands in until it has one.
pub fn outcome(answer: &ChargeAnswer, payment: &PaymentId, currency: Currency, amount: i64) -> AuthorizationOutcome {
    let tx = answer.data.as_ref();
    if let Some(tx) = tx.filter(|tx| tx.status != "pending") {
        // Decided already (a decline, or a card that needs no authentication).
        return wire::transaction_outcome(tx, Some(currency), Some(amount));
    }
    let collect = |input, display_text: Option<String>| NextAction::Collect { input, display_text };
    let flw_ref = tx.and_then(|tx| tx.flw_ref.clone());
    let (reference, next_action) = match answer.mode() {
        Some("pin") => (
            None,
            collect(ActionInput::Pin, Some("Enter the card's 4-digit PIN".into())),
        ),
        Some("avs_noauth") => (
            None,
            collect(ActionInput::Address, Some("Enter the card's billing address".into())),
        ),
        Some("otp") => (
            flw_ref,
            collect(ActionInput::Otp, tx.and_then(|tx| tx.processor_response.clone())),
        ),
        Some("redirect") => match answer
            .meta
            .as_ref()
            .and_then(|m| m.authorization.as_ref()?.redirect.clone())
        {
            Some(url) => (flw_ref, NextAction::RedirectToUrl { url }),
            None => return unknown(tx),
        },
        _ => return unknown(tx),
    };
    AuthorizationOutcome::RequiresAction {
        provider_reference: reference.unwrap_or_else(|| payment.as_str().to_owned()),
        next_action: Some(next_action),
    }
}

fn unknown(tx: Option<&Transaction>) -> AuthorizationOutcome {
    AuthorizationOutcome::Unknown {
        provider_reference: tx.and_then(|tx| tx.id).map(|id| id.to_string()),
    }
}

/// `POST /v3/validate-charge`: the OTP the customer typed, for the charge's `flw_ref`.
pub fn validate_body(otp: &str, flw_ref: &str) -> Value {
    json!({ "otp": otp, "flw_ref": flw_ref, "type": "card" })
}

/// The held card is gone (this process restarted, or `/confirm` reached another node): nothing
/// was charged yet, so the payment fails and the customer pays again.
pub fn card_unavailable() -> AuthorizationOutcome {
    AuthorizationOutcome::Declined {
        provider_reference: None,
        code: "card_details_unavailable".into(),
        message: "The card details are no longer held (they are kept only in memory, for minutes); ask the customer to pay again.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> ChargeAnswer {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn modes_become_next_actions() {
        let payment = PaymentId::generate();
        let ngn = Currency::parse("ngn").unwrap();
        let pin = answer(
            r#"{"status":"success","message":"Charge authorization data required","meta":{"authorization":{"mode":"pin","fields":["pin"]}}}"#,
        );
        assert!(pin.needs_card_again());
        assert!(matches!(
            outcome(&pin, &payment, ngn, 100),
            AuthorizationOutcome::RequiresAction {
                next_action: Some(NextAction::Collect {
                    input: ActionInput::Pin,
                    ..
                }),
                ..
            }
        ));
        let otp = answer(
            r#"{"status":"success","data":{"id":1,"flw_ref":"FLW-1","status":"pending","processor_response":"Enter the OTP"},"meta":{"authorization":{"mode":"otp"}}}"#,
        );
        assert!(!otp.needs_card_again());
        assert_eq!(
            outcome(&otp, &payment, ngn, 100),
            AuthorizationOutcome::RequiresAction {
                provider_reference: "FLW-1".into(),
                next_action: Some(NextAction::Collect {
                    input: ActionInput::Otp,
                    display_text: Some("Enter the OTP".into())
                })
            }
        );
        let redirect = answer(
            r#"{"status":"success","data":{"id":1,"flw_ref":"FLW-2","status":"pending"},"meta":{"authorization":{"mode":"redirect","redirect":"https://x.example/3ds"}}}"#,
        );
        assert!(matches!(
            outcome(&redirect, &payment, ngn, 100),
            AuthorizationOutcome::RequiresAction {
                next_action: Some(NextAction::RedirectToUrl { .. }),
                ..
            }
        ));
        let failed = answer(
            r#"{"status":"success","data":{"id":3,"status":"failed","processor_response":"Insufficient funds"}}"#,
        );
        assert!(
            matches!(outcome(&failed, &payment, ngn, 100), AuthorizationOutcome::Declined { ref code, .. } if code == "insufficient_funds")
        );
    }
}
