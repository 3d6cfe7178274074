//! The payments resource: create, read, list, capture, cancel, refund, and a payment's events.
//!
//! Handlers are short on purpose: parse the request into domain values (`parse.rs`), hand
//! state changes to the payment's actor through the supervisor, and render the result
//! (`wire.rs`). Reads go straight to the store: every change is committed before it is answered,
//! so the store is never behind a reply.

use actix_web::{web, HttpRequest, HttpResponse};
use payrail_actors::domain::PaymentId;
use payrail_actors::operation::{Change, Operation, Outcome};
use payrail_actors::ports::PaymentFilter;

use crate::auth::AuthenticatedMerchant;
use crate::http::body::{parse_query, JsonBody};
use crate::http::wire::{
    CancelBody, CaptureBody, CreatePaymentBody, EventView, ListQuery, ListView, PaymentView, RefundBody, RefundView,
};
use crate::http::{parse, ApiError, AppState};

pub async fn create(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    JsonBody(body): JsonBody<CreatePaymentBody>,
) -> Result<HttpResponse, ApiError> {
    let (payment, card) = parse::new_payment(merchant, body, &state.provider_names, &state.default_provider)?;
    let id = payment.id.clone();
    let outcome = state
        .supervisor
        .execute(
            &id,
            Operation::Create {
                payment,
                card: Box::new(card),
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(PaymentView::from(outcome.payment)))
}

pub async fn get(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse::payment_id(&path)?;
    let payment = state
        .store
        .find(&merchant, &id)
        .await?
        .ok_or(ApiError::NotFound("payment"))?;
    Ok(HttpResponse::Ok().json(PaymentView::from(payment)))
}

pub async fn list(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query: ListQuery = parse_query(&req)?;
    let filter = PaymentFilter {
        order_id: query.order_id.clone(),
    };
    list_payments(&state, &merchant, filter, &query).await
}

pub async fn list_by_order(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query: ListQuery = parse_query(&req)?;
    let filter = PaymentFilter {
        order_id: Some(path.into_inner()),
    };
    list_payments(&state, &merchant, filter, &query).await
}

async fn list_payments(
    state: &AppState,
    merchant: &payrail_actors::domain::MerchantId,
    filter: PaymentFilter,
    query: &ListQuery,
) -> Result<HttpResponse, ApiError> {
    let page = parse::page(query, parse::payment_cursor)?;
    let found = state.store.list_payments(merchant, &filter, &page).await?;
    let data = found.data.into_iter().map(PaymentView::from).collect();
    Ok(HttpResponse::Ok().json(ListView {
        data,
        has_more: found.has_more,
    }))
}

pub async fn capture(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    JsonBody(body): JsonBody<CaptureBody>,
) -> Result<HttpResponse, ApiError> {
    let change = Change::Capture {
        amount: parse::optional_amount(body.amount)?,
    };
    let outcome = change_payment(&state, merchant, &path, change).await?;
    Ok(HttpResponse::Ok().json(PaymentView::from(outcome.payment)))
}

pub async fn cancel(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    JsonBody(_): JsonBody<CancelBody>,
) -> Result<HttpResponse, ApiError> {
    let outcome = change_payment(&state, merchant, &path, Change::Cancel).await?;
    Ok(HttpResponse::Ok().json(PaymentView::from(outcome.payment)))
}

pub async fn refund(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    JsonBody(body): JsonBody<RefundBody>,
) -> Result<HttpResponse, ApiError> {
    let change = Change::Refund {
        amount: parse::optional_amount(body.amount)?,
        reason: parse::refund_reason(body.reason)?,
    };
    let outcome = change_payment(&state, merchant, &path, change).await?;
    let refund = outcome.refund.ok_or(ApiError::Internal)?;
    Ok(HttpResponse::Created().json(RefundView::from(refund)))
}

async fn change_payment(
    state: &AppState,
    merchant: payrail_actors::domain::MerchantId,
    raw_id: &str,
    change: Change,
) -> Result<Outcome, ApiError> {
    let id: PaymentId = parse::payment_id(raw_id)?;
    Ok(state
        .supervisor
        .execute(&id, Operation::Change { merchant, change })
        .await?)
}

pub async fn events(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = parse::payment_id(&path)?;
    let query: ListQuery = parse_query(&req)?;
    let page = parse::page(&query, parse::event_cursor)?;
    let found = state
        .store
        .list_events(&merchant, &id, &page)
        .await?
        .ok_or(ApiError::NotFound("payment"))?;
    let data = found.data.into_iter().map(EventView::from).collect();
    Ok(HttpResponse::Ok().json(ListView {
        data,
        has_more: found.has_more,
    }))
}
