//! The settlements resource (issue 17), merchant-scoped: `GET /api/v1/settlements?date=&provider=`
//! lists a merchant's closed reports (every revision, newest day first), `GET
//! /api/v1/settlements/{id}` is one report with its lines, and `…/{id}.csv` the same lines as
//! RFC 4180 CSV. Another merchant's report is a 404, like another merchant's payment.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::auth::AuthenticatedMerchant;
use crate::http::body::parse_query;
use crate::http::{ApiError, AppState};
use crate::settlements::csv;
use crate::store::settlements::{SettlementFilter, SettlementLineRecord, SettlementRecord};

/// Reports per list response: a merchant has a handful per day.
const LIST_LIMIT: i64 = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    date: Option<String>,
    provider: Option<String>,
}

#[derive(Serialize)]
pub struct SettlementView {
    id: String,
    object: &'static str,
    batch_id: String,
    date: String,
    provider: String,
    currency: String,
    merchant_id: String,
    revision: i64,
    captured_amount: i64,
    captured_count: i64,
    refunded_amount: i64,
    refunded_count: i64,
    /// `null`: the provider reports no fees to payrail.
    fees: Option<i64>,
    net_amount: i64,
    status: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    lines: Option<Vec<LineView>>,
}

#[derive(Serialize)]
struct LineView {
    line: i64,
    #[serde(rename = "type")]
    kind: String,
    payment_id: String,
    refund_id: Option<String>,
    event_id: String,
    amount: i64,
    currency: String,
    provider_reference: Option<String>,
    occurred_at: String,
}

fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

impl SettlementView {
    fn new(record: SettlementRecord, lines: Option<Vec<SettlementLineRecord>>) -> Self {
        Self {
            id: record.id,
            object: "settlement",
            batch_id: record.batch_id,
            date: record.settlement_date,
            provider: record.provider,
            currency: record.currency,
            merchant_id: record.merchant_id,
            revision: record.revision,
            captured_amount: record.captured_amount,
            captured_count: record.captured_count,
            refunded_amount: record.refunded_amount,
            refunded_count: record.refunded_count,
            fees: record.fees,
            net_amount: record.net_amount,
            status: record.status,
            created_at: rfc3339(record.created_at),
            lines: lines.map(|lines| {
                lines
                    .into_iter()
                    .map(|line| LineView {
                        line: line.line_no,
                        kind: line.kind,
                        payment_id: line.payment_id,
                        refund_id: line.refund_id,
                        event_id: line.event_id,
                        amount: line.amount,
                        currency: line.currency,
                        provider_reference: line.provider_reference,
                        occurred_at: rfc3339(line.occurred_at),
                    })
                    .collect()
            }),
        }
    }
}

/// A `YYYY-MM-DD` date, or a 400 naming `param`.
pub fn settlement_date(value: &str, param: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|_| value.len() == 10)
        .ok_or_else(|| ApiError::invalid("invalid_date", "date must be a UTC day as YYYY-MM-DD", param))
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
    let filter = SettlementFilter {
        merchant_id: Some(merchant.as_str()),
        date: query.date.as_deref(),
        provider: query.provider.as_deref(),
        limit: LIST_LIMIT + 1,
    };
    let mut records = state.database.settlements(&filter).await?;
    let has_more = records.len() as i64 > LIST_LIMIT;
    records.truncate(LIST_LIMIT as usize);
    let data: Vec<SettlementView> = records.into_iter().map(|r| SettlementView::new(r, None)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "object": "list", "data": data, "has_more": has_more })))
}

/// `{id}` as JSON, or `{id}.csv` as CSV.
pub async fn get(
    state: web::Data<AppState>,
    AuthenticatedMerchant(merchant): AuthenticatedMerchant,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, as_csv) = match path.strip_suffix(".csv") {
        Some(id) => (id, true),
        None => (path.as_str(), false),
    };
    let (record, lines) = state
        .database
        .settlement(id, Some(merchant.as_str()))
        .await?
        .ok_or(ApiError::NotFound("settlement"))?;
    if !as_csv {
        return Ok(HttpResponse::Ok().json(SettlementView::new(record, Some(lines))));
    }
    let body = csv::render(&record, &lines);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8; header=present")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(format!("{}.csv", record.id))],
        })
        .body(body))
}
