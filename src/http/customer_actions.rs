//! The customer's way back from a customer action (issue 13): `GET /api/v1/payments/{id}/return`
//! is the URL payrail hands providers as their return URL (and the sandbox's challenge page
//! redirects to). It completes the payment in its actor — asking the provider what it decided,
//! the same step the reconciler and a provider webhook take, whichever comes first — then sends
//! the customer on to the merchant's `return_url` with `?payment_id=`.
//!
//! No merchant credentials here: the customer's browser arrives. It learns nothing but the
//! payment id it already had, and can only make payrail ask the provider; a payment not awaiting
//! the customer is a 409 `invalid_state` and changes nothing.

use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{web, HttpResponse};
use payrail_core::operation::Operation;

use crate::http::{parse, ApiError, AppState};

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
