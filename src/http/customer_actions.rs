//! The customer's way back from a customer action (issue 13): `GET /api/v1/payments/{id}/return`
//! is the URL payrail hands providers as their return URL (and the sandbox's challenge page
//! redirects to). It completes the payment in its actor — asking the provider what it decided,
//! the same step the reconciler and a provider webhook take, whichever comes first — then sends
//! the customer on to the merchant's `return_url` with `?payment_id=`.
//!
//! `POST /api/v1/payments/{id}/confirm` is the merchant's half for the other kind of customer
//! action: their page asked the customer for what `next_action` names (an OTP, a PIN, a phone
//! number, a birthday) and submits it; payrail hands it to the provider in the payment's actor and
//! answers the payment as it then stands (settled, failed, or waiting for a further step).
//!
//! No merchant credentials on the return: the customer's browser arrives. It learns nothing but the
//! payment id it already had, and can only make payrail ask the provider; a payment not awaiting
//! the customer is a 409 `invalid_state` and changes nothing.

use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{web, HttpResponse};
use payrail_core::operation::{Operation, OperationKind};
use payrail_core::payments::Payments;

use crate::auth::AuthenticatedMerchant;
use crate::http::idempotency::{IdempotencyEdge, KeyedJson, KeyedRequest};
use crate::http::wire::ConfirmBody;
use crate::http::{parse, ApiError, AppState};

pub async fn confirm(
    payments: web::Data<Payments>,
    idempotency: web::Data<IdempotencyEdge>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    KeyedJson { body, key }: KeyedJson<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse::payment_id(&path)?;
    let (input, value) = parse::action_input(body)?;
    let request_key = key.as_ref().map(KeyedRequest::request_key);
    let answer = payments.confirm(merchant.clone(), id, input, value, request_key).await;
    idempotency.respond(&merchant, key.as_ref(), OperationKind::ConfirmAction, answer)
}

pub async fn return_from_action(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = parse::payment_id(&path)?;
    let payment = state.supervisor.execute(&id, Operation::CompleteAction).await?.payment;
    Ok(match &payment.return_url {
        Some(url) => HttpResponse::SeeOther()
            .insert_header((LOCATION, url.with_payment_id(payment.id.as_str())))
            .finish(),
        None => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("Thank you. You can close this window and return to the shop.\n"),
    })
}
