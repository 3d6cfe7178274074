//! The sandbox's 3-D Secure challenge page (development only; issue 13): `GET /sandbox/3ds/{id}`
//! shows the amount and the merchant with "Complete authentication" and "Fail authentication"
//! buttons — two plain forms, no JavaScript, so the API's `Content-Security-Policy` stays as it
//! is — and `POST /sandbox/3ds/{id}` records the choice, then redirects to payrail's return
//! endpoint: the same path a real provider's redirect takes.
//!
//! Each form carries the challenge's signed, single-use token (`providers::Challenges`), so a
//! page on another site cannot decide a customer's challenge (CSRF) and a form cannot be
//! submitted twice.

use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{web, HttpResponse};
use payrail_core::domain::{Payment, PaymentId};
use serde::Deserialize;

use crate::http::{parse, ApiError, AppState};
use crate::providers::{ChallengeError, Challenges};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeForm {
    token: String,
    outcome: String,
}

pub async fn page(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (challenges, id) = challenge(&state, &path)?;
    let payment = state.store.load(&id).await?.ok_or(ApiError::NotFound("payment"))?;
    let token = challenges
        .token(&id)
        .ok_or_else(|| ApiError::InvalidState("this challenge was already decided".into()))?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(render(&payment, &token)))
}

pub async fn decide(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (challenges, id) = challenge(&state, &path)?;
    let form: ChallengeForm = serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::invalid("invalid_challenge_form", "expected token and outcome", "outcome"))?;
    let authenticated = match form.outcome.as_str() {
        "complete" => true,
        "fail" => false,
        _ => {
            return Err(ApiError::invalid(
                "invalid_challenge_form",
                "outcome must be complete or fail",
                "outcome",
            ))
        }
    };
    challenges
        .decide(&id, &form.token, authenticated)
        .map_err(|error| match error {
            ChallengeError::NotOpen => ApiError::InvalidState(error.to_string()),
            ChallengeError::BadToken => ApiError::invalid("invalid_challenge_token", error.to_string(), "token"),
        })?;
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("{}/api/v1/payments/{id}/return", state.public_url)))
        .finish())
}

/// The challenges, when this is development, and the payment id; anything else is a 404.
fn challenge<'a>(state: &'a AppState, raw: &str) -> Result<(&'a Challenges, PaymentId), ApiError> {
    let challenges = state.sandbox_challenges.as_deref().ok_or(ApiError::NotFound("route"))?;
    Ok((challenges, parse::payment_id(raw)?))
}

fn render(payment: &Payment, token: &str) -> String {
    let exponent = u32::from(payment.currency.exponent());
    let minor = payment.amount.minor_units();
    let amount = match exponent {
        0 => minor.to_string(),
        _ => {
            let unit = 10_i64.pow(exponent);
            format!("{}.{:0width$}", minor / unit, minor % unit, width = exponent as usize)
        }
    };
    let currency = payment.currency.code().to_ascii_uppercase();
    let merchant = escape(payment.merchant_id.as_str());
    let id = escape(payment.id.as_str());
    let token = escape(token);
    let button = |outcome: &str, label: &str| {
        format!(
            r#"<form method="post" action="/sandbox/3ds/{id}"><input type="hidden" name="token" value="{token}"><input type="hidden" name="outcome" value="{outcome}"><button type="submit" id="{outcome}">{label}</button></form>"#
        )
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>payrail sandbox: 3-D Secure</title></head>
<body>
<h1>3-D Secure authentication (sandbox)</h1>
<p>Pay <strong id="amount">{amount} {currency}</strong> to <strong id="merchant">{merchant}</strong>.</p>
<p>Payment <code>{id}</code>. This page stands in for the card issuer's challenge.</p>
{complete}
{fail}
</body></html>
"#,
        complete = button("complete", "Complete authentication"),
        fail = button("fail", "Fail authentication"),
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
