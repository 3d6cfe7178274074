//! A Stripe idempotency key reused with other parameters (`400 idempotency_error`) means the first
//! request with that key stands — it may have authorised money — so payrail's Stripe client calls
//! it an unknown outcome (reconciled later), never a refusal that would fail the payment. This is
//! what a create resumed on a node with another return URL met (see `cluster.rs`).

use payrail::providers::stripe::Stripe;
use payrail::secret::Secret;
use payrail_core::domain::{
    Amount, AuthorizationOutcome, CardDetails, CardNumber, Currency, Cvc, PaymentId, PaymentMethod,
};
use payrail_core::ports::{AuthorizeRequest, Provider, ProviderError};

use crate::fakes::stripe::{FakeStripe, SECRET_KEY};

fn authorize_request(payment: &PaymentId, return_url: &str) -> AuthorizeRequest {
    let card = CardDetails::new(
        CardNumber::parse("4242424242424242").unwrap(),
        12,
        2034,
        Cvc::parse("123").unwrap(),
        (2026, 12),
    )
    .unwrap();
    AuthorizeRequest {
        payment_id: payment.clone(),
        amount: Amount::new(1_500).unwrap(),
        currency: Currency::parse("usd").unwrap(),
        capture: false,
        method: PaymentMethod::Card(card),
        description: None,
        return_url: Some(return_url.to_owned()),
        idempotency_key: format!("{payment}:authorize"),
    }
}

#[actix_web::test]
async fn a_key_reused_with_other_parameters_is_an_unknown_outcome_not_a_decline() {
    let fake = FakeStripe::start();
    let stripe = Stripe::new(reqwest::Client::new(), &fake.base_url, Secret::new(SECRET_KEY));
    let payment = PaymentId::generate();

    let first = stripe
        .authorize(authorize_request(&payment, "http://node-a.test/return"))
        .await
        .expect("the first request is authorised");
    let AuthorizationOutcome::Authorized { provider_reference } = first else {
        panic!("expected an authorisation, got {first:?}");
    };
    assert_eq!(fake.intent(&provider_reference)["status"], "requires_capture");

    // The same key from a node whose return URL differs: Stripe refuses the reuse.
    let second = stripe
        .authorize(authorize_request(&payment, "http://node-b.test/return"))
        .await;
    assert!(
        matches!(second, Err(ProviderError::Failed(_))),
        "a reused key must be an unknown outcome, got {second:?}"
    );
    let refused = fake.requests().iter().filter(|r| r.contains("payment_intents")).count();
    assert!(refused >= 2, "the fake saw the second request: {:?}", fake.requests());
    // The money the first request authorised is still there for the reconciler to find.
    assert_eq!(fake.intent(&provider_reference)["status"], "requires_capture");
}
