//! The payments resource: create, read, list, capture, cancel, refund, and a payment's events.
//!
//! Handlers are short on purpose: parse the request into domain values (`parse.rs`), hand state
//! changes to the core's `Payments` front door with the request's idempotency key, if any, and
//! send its answer (`idempotency/`, `wire.rs`). Reads go straight to the store: every change is
//! committed before it is answered, so the store is never behind a reply.

use actix_web::{web, HttpRequest, HttpResponse};
use payrail_core::domain::{MerchantId, PaymentId};
use payrail_core::operation::{CreatePayment, OperationKind};
use payrail_core::payments::Payments;
use payrail_core::ports::PaymentFilter;

use crate::auth::AuthenticatedMerchant;
use crate::http::body::parse_query;
use crate::http::idempotency::{IdempotencyEdge, KeyedJson, KeyedRequest};
use crate::http::wire::{
    CancelBody, CaptureBody, CreatePaymentBody, EventView, ListQuery, ListView, PaymentView, RefundBody,
};
use crate::http::{parse, receipts, ApiError, AppState};

pub async fn create(
    state: web::Data<AppState>,
    payments: web::Data<Payments>,
    idempotency: web::Data<IdempotencyEdge>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    KeyedJson { mut body, key }: KeyedJson<CreatePaymentBody>,
) -> Result<HttpResponse, ApiError> {
    let receipt_email = parse::receipt_email(body.receipt_email.take())?;
    let return_url = parse::return_url(body.return_url.take(), state.development)?;
    // A provider the request names is used alone; otherwise the routing rules choose.
    let routed = body.provider.is_none();
    let (mut payment, method) =
        parse::new_payment(merchant.clone(), body, &state.provider_names, &state.default_provider)?;
    if let Some(card) = method.card() {
        payment.card = Some(state.card_fingerprints.summary(card));
    }
    payment.return_url = return_url;
    // Where the provider sends the customer back after a customer action (`customer_actions.rs`).
    let provider_return_url = Some(format!("{}/api/v1/payments/{}/return", state.public_url, payment.id));
    let request = CreatePayment {
        payment,
        method,
        routed,
        receipt_email,
        provider_return_url,
    };
    let answer = payments
        .create(request, key.as_ref().map(KeyedRequest::request_key))
        .await;
    idempotency.respond(&merchant, key.as_ref(), OperationKind::Create, answer)
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
    let mut view = PaymentView::from(payment);
    receipts::attach(&state, &merchant, &mut view).await?;
    Ok(HttpResponse::Ok().json(view))
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
    merchant: &MerchantId,
    filter: PaymentFilter,
    query: &ListQuery,
) -> Result<HttpResponse, ApiError> {
    let page = parse::page(
        query.limit.as_deref(),
        query.starting_after.as_deref(),
        parse::payment_cursor,
    )?;
    let found = state.store.list_payments(merchant, &filter, &page).await?;
    let mut data: Vec<PaymentView> = found.data.into_iter().map(PaymentView::from).collect();
    receipts::attach_all(state, merchant, &mut data).await?;
    Ok(HttpResponse::Ok().json(ListView {
        data,
        has_more: found.has_more,
    }))
}

pub async fn capture(
    payments: web::Data<Payments>,
    idempotency: web::Data<IdempotencyEdge>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    KeyedJson { body, key }: KeyedJson<CaptureBody>,
) -> Result<HttpResponse, ApiError> {
    let amount = parse::optional_amount(body.amount)?;
    let id = parse::payment_id(&path)?;
    let request_key = key.as_ref().map(KeyedRequest::request_key);
    let answer = payments.capture(merchant.clone(), id, amount, request_key).await;
    idempotency.respond(&merchant, key.as_ref(), OperationKind::Capture, answer)
}

pub async fn cancel(
    payments: web::Data<Payments>,
    idempotency: web::Data<IdempotencyEdge>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    KeyedJson {
        body: CancelBody {},
        key,
    }: KeyedJson<CancelBody>,
) -> Result<HttpResponse, ApiError> {
    let id: PaymentId = parse::payment_id(&path)?;
    let request_key = key.as_ref().map(KeyedRequest::request_key);
    let answer = payments.cancel(merchant.clone(), id, request_key).await;
    idempotency.respond(&merchant, key.as_ref(), OperationKind::Cancel, answer)
}

pub async fn refund(
    payments: web::Data<Payments>,
    idempotency: web::Data<IdempotencyEdge>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    KeyedJson { body, key }: KeyedJson<RefundBody>,
) -> Result<HttpResponse, ApiError> {
    let amount = parse::optional_amount(body.amount)?;
    let reason = parse::refund_reason(body.reason)?;
    let id = parse::payment_id(&path)?;
    let request_key = key.as_ref().map(KeyedRequest::request_key);
    let answer = payments.refund(merchant.clone(), id, amount, reason, request_key).await;
    idempotency.respond(&merchant, key.as_ref(), OperationKind::Refund, answer)
}

pub async fn events(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = parse::payment_id(&path)?;
    let query: ListQuery = parse_query(&req)?;
    let page = parse::page(
        query.limit.as_deref(),
        query.starting_after.as_deref(),
        parse::event_cursor,
    )?;
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
