//! The payments resource: create, read, list, capture, cancel, refund, and a payment's events.
//!
//! Handlers are short on purpose: parse the request into domain values (`parse.rs`), hand
//! state changes to the payment's actor through the supervisor, and render the result
//! (`wire.rs`). The mutating handlers run under their `Idempotency-Key`, if any (`idempotency.rs`,
//! with crash recovery in `resume.rs`). Reads go straight to the store: every change is committed
//! before it is answered, so the store is never behind a reply.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use payrail_core::domain::{MerchantId, PaymentId};
use payrail_core::operation::{Change, Operation};
use payrail_core::ports::PaymentFilter;

use crate::auth::AuthenticatedMerchant;
use crate::http::body::parse_query;
use crate::http::idempotency::{IdempotencyService, KeyedJson, KeyedRequest, Reply, Target};
use crate::http::wire::{
    CancelBody, CaptureBody, CreatePaymentBody, EventView, ListQuery, ListView, PaymentView, RefundBody, RefundView,
};
use crate::http::{parse, receipts, resume, ApiError, AppState};

pub async fn create(
    state: web::Data<AppState>,
    idempotency: web::Data<IdempotencyService>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    KeyedJson { mut body, key }: KeyedJson<CreatePaymentBody>,
) -> Result<HttpResponse, ApiError> {
    let receipt_email = parse::receipt_email(body.receipt_email.take())?;
    let requested = body.provider.is_some();
    let (mut payment, method) =
        parse::new_payment(merchant.clone(), body, &state.provider_names, &state.default_provider)?;
    // A provider the request names is used alone; otherwise the routing rules pick it and the
    // fallbacks to try if it certainly does not act.
    let mut fallbacks = Vec::new();
    if !requested {
        let mut route = state
            .routes
            .route(payment.currency.code(), payment.amount.minor_units())
            .into_iter();
        if let Some(first) = route.next() {
            payment.provider = first;
        }
        fallbacks = route.collect();
    }
    if let Some(card) = method.card() {
        payment.card = Some(state.card_fingerprints.summary(card));
    }
    let target = Target {
        payment_id: Some(payment.id.clone()),
        payment_version: None,
    };
    let mut reply = Reply::json(StatusCode::CREATED, |o| Some(PaymentView::from(o.payment.clone())));
    // The claim rides with the `pending` payment, unless something is written before it: a
    // request that then finds its key taken must have written nothing.
    if receipt_email.is_none() {
        reply = reply.claiming_with_first_commit();
    }
    let answer = reply.clone();
    idempotency
        .run(&merchant, key, target, reply, |resumed, keyed| {
            let (state, mut payment, answer) = (state.clone(), payment.clone(), answer.clone());
            let (method, fallbacks, receipt_email) = (method.clone(), fallbacks.clone(), receipt_email.clone());
            async move {
                // A retry after a crash continues the payment its first attempt created.
                if let Some(id) = resumed.and_then(|r| r.payment_id) {
                    payment.id = id;
                }
                if let Some(email) = &receipt_email {
                    // Sealed and stored before the payment exists, so a committed payment always
                    // has it. Not echoed in this response: responses are kept for replay, in clear.
                    state.contacts.put(&payment.merchant_id, &payment.id, email).await?;
                }
                let id = payment.id.clone();
                let operation = Operation::Create {
                    payment,
                    method: Box::new(method),
                    fallbacks,
                    keyed: keyed.clone(),
                };
                let outcome = state.supervisor.execute(&id, operation).await?;
                answer.respond(keyed.as_ref(), &outcome)
            }
        })
        .await
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
    let page = parse::page(query, parse::payment_cursor)?;
    let found = state.store.list_payments(merchant, &filter, &page).await?;
    let mut data: Vec<PaymentView> = found.data.into_iter().map(PaymentView::from).collect();
    receipts::attach_all(state, merchant, &mut data).await?;
    Ok(HttpResponse::Ok().json(ListView {
        data,
        has_more: found.has_more,
    }))
}

pub async fn capture(
    state: web::Data<AppState>,
    idempotency: web::Data<IdempotencyService>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    KeyedJson { body, key }: KeyedJson<CaptureBody>,
) -> Result<HttpResponse, ApiError> {
    let change = Change::Capture {
        amount: parse::optional_amount(body.amount)?,
    };
    change_payment(state, &idempotency, merchant, &path, key, change, payment_reply()).await
}

pub async fn cancel(
    state: web::Data<AppState>,
    idempotency: web::Data<IdempotencyService>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    KeyedJson {
        body: CancelBody {},
        key,
    }: KeyedJson<CancelBody>,
) -> Result<HttpResponse, ApiError> {
    change_payment(
        state,
        &idempotency,
        merchant,
        &path,
        key,
        Change::Cancel,
        payment_reply(),
    )
    .await
}

pub async fn refund(
    state: web::Data<AppState>,
    idempotency: web::Data<IdempotencyService>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
    KeyedJson { body, key }: KeyedJson<RefundBody>,
) -> Result<HttpResponse, ApiError> {
    let change = Change::Refund {
        amount: parse::optional_amount(body.amount)?,
        reason: parse::refund_reason(body.reason)?,
    };
    let reply = Reply::json(StatusCode::CREATED, |o| o.refund.clone().map(RefundView::from));
    change_payment(state, &idempotency, merchant, &path, key, change, reply).await
}

/// A capture's or cancellation's answer: the payment.
fn payment_reply() -> Reply {
    Reply::json(StatusCode::OK, |o| Some(PaymentView::from(o.payment.clone())))
}

/// Runs a merchant's change through the payment's actor, under its idempotency key if it has one,
/// and answers with `reply`.
async fn change_payment(
    state: web::Data<AppState>,
    idempotency: &IdempotencyService,
    merchant: MerchantId,
    raw_id: &str,
    key: Option<KeyedRequest>,
    change: Change,
    reply: Reply,
) -> Result<HttpResponse, ApiError> {
    let id: PaymentId = parse::payment_id(raw_id)?;
    let mut target = Target::default();
    if key.is_some() {
        // Record the version the change starts from, so a retry after a crash can tell whether it
        // was committed. An unknown payment is a 404 before anything is claimed.
        let payment = state
            .store
            .find(&merchant, &id)
            .await?
            .ok_or(ApiError::NotFound("payment"))?;
        target = Target {
            payment_id: Some(id.clone()),
            payment_version: Some(payment.version),
        };
    }
    let owner = merchant.clone();
    let answer = reply.clone();
    idempotency
        .run(&owner, key, target, reply, |resumed, keyed| {
            let (state, merchant, id, change, answer) = (
                state.clone(),
                merchant.clone(),
                id.clone(),
                change.clone(),
                answer.clone(),
            );
            async move {
                if let Some(version) = resumed.and_then(|r| r.payment_version) {
                    if let Some(outcome) = resume::committed_change(&state, &merchant, &id, version, &change).await? {
                        return answer.respond(None, &outcome);
                    }
                }
                let operation = Operation::Change {
                    merchant,
                    change,
                    keyed: keyed.clone(),
                };
                answer.respond(keyed.as_ref(), &state.supervisor.execute(&id, operation).await?)
            }
        })
        .await
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
