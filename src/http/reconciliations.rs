//! The reconciliations resource (issue 17), merchant-scoped: `GET /api/v1/reconciliations?date=
//! &provider=` lists a merchant's reconciliation reports (newest first) and `GET
//! /api/v1/reconciliations/{id}` is one report with its mismatches. A report is one merchant's
//! share of a `payrail reconcile-report` run; another merchant's is a 404, and provider records
//! nobody can be attributed to are only shown in the operator console.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::AuthenticatedMerchant;
use crate::http::body::parse_query;
use crate::http::settlements::settlement_date;
use crate::http::{ApiError, AppState};
use crate::store::reconciliations::{ReconciliationFilter, ReconciliationItemRecord, ReconciliationRecord};

/// Reports per list response: one per provider a day.
const LIST_LIMIT: i64 = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    date: Option<String>,
    provider: Option<String>,
}

#[derive(Serialize)]
pub struct ReconciliationView {
    id: String,
    object: &'static str,
    run_id: String,
    date: String,
    provider: String,
    merchant_id: Option<String>,
    payrail_count: i64,
    provider_count: i64,
    matched_count: i64,
    mismatch_count: i64,
    status: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    mismatches: Option<Vec<MismatchView>>,
}

#[derive(Serialize)]
pub struct MismatchView {
    item: i64,
    mismatch: String,
    record_type: String,
    provider_reference: String,
    payment_id: Option<String>,
    refund_id: Option<String>,
    /// What payrail's events say; `null` when payrail has no such record.
    payrail: Option<SideView>,
    /// What the provider's listing says; `null` when the provider has no such record.
    provider: Option<SideView>,
}

#[derive(Serialize)]
pub struct SideView {
    amount: Option<i64>,
    currency: Option<String>,
    status: Option<String>,
}

fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

fn side(amount: Option<i64>, currency: Option<String>, status: Option<String>) -> Option<SideView> {
    (amount.is_some() || currency.is_some() || status.is_some()).then_some(SideView {
        amount,
        currency,
        status,
    })
}

impl MismatchView {
    pub fn new(item: ReconciliationItemRecord) -> Self {
        Self {
            item: item.item_no,
            mismatch: item.mismatch,
            record_type: item.record_type,
            provider_reference: item.provider_reference,
            payment_id: item.payment_id,
            refund_id: item.refund_id,
            payrail: side(item.payrail_amount, item.payrail_currency, item.payrail_status),
            provider: side(item.provider_amount, item.provider_currency, item.provider_status),
        }
    }
}

impl ReconciliationView {
    pub fn new(record: ReconciliationRecord, items: Option<Vec<ReconciliationItemRecord>>) -> Self {
        Self {
            id: record.id,
            object: "reconciliation",
            run_id: record.run_id,
            date: record.reconciliation_date,
            provider: record.provider,
            merchant_id: record.merchant_id,
            payrail_count: record.payrail_count,
            provider_count: record.provider_count,
            matched_count: record.matched_count,
            mismatch_count: record.mismatch_count,
            status: record.status,
            created_at: rfc3339(record.created_at),
            mismatches: items.map(|items| items.into_iter().map(MismatchView::new).collect()),
        }
    }
}

pub async fn list(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query: ListQuery = parse_query(&req)?;
    if let Some(date) = &query.date {
        settlement_date(date, "date")?;
    }
    let filter = ReconciliationFilter {
        merchant_id: Some(merchant.as_str()),
        date: query.date.as_deref(),
        provider: query.provider.as_deref(),
        limit: LIST_LIMIT + 1,
    };
    let mut records = state.database.reconciliations(&filter).await?;
    let has_more = records.len() as i64 > LIST_LIMIT;
    records.truncate(LIST_LIMIT as usize);
    let data: Vec<ReconciliationView> = records.into_iter().map(|r| ReconciliationView::new(r, None)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "object": "list", "data": data, "has_more": has_more })))
}

pub async fn get(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (record, items) = state
        .database
        .reconciliation(&path, Some(merchant.as_str()))
        .await?
        .ok_or(ApiError::NotFound("reconciliation"))?;
    Ok(HttpResponse::Ok().json(ReconciliationView::new(record, Some(items))))
}
