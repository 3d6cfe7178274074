//! The console's reconciliation reports: every run's reports (filter by day and provider), the
//! unattributed ones included — provider records no merchant can be matched to, which only
//! operators see — and one report with its mismatches, both sides' figures side by side. The
//! merchant API (`http/reconciliations.rs`) serves the same reports merchant-scoped.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::http::console::day_filter::DayFilter;
use crate::http::console::html::{escape, link, money, table, time};
use crate::http::console::session::{ConsoleError, Operator};
use crate::http::AppState;
use crate::store::reconciliations::ReconciliationFilter;

const UNATTRIBUTED: &str = "(unattributed)";

pub async fn list(
    state: web::Data<AppState>,
    operator: Operator,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let query = DayFilter::parse(&req)?;
    let filter = ReconciliationFilter {
        merchant_id: None,
        date: query.date(),
        provider: query.provider(),
        limit: 200,
    };
    let rows: Vec<Vec<String>> = state
        .database
        .reconciliations(&filter)
        .await?
        .iter()
        .map(|r| {
            vec![
                link(&format!("/console/reconciliations/{}", r.id), &r.id),
                escape(&r.reconciliation_date),
                escape(&r.provider),
                escape(r.merchant_id.as_deref().unwrap_or(UNATTRIBUTED)),
                r.payrail_count.to_string(),
                r.provider_count.to_string(),
                r.matched_count.to_string(),
                r.mismatch_count.to_string(),
                escape(&r.status),
                time(r.created_at),
            ]
        })
        .collect();
    let body = format!(
        "{}{}",
        query.form("/console/reconciliations"),
        table(
            "Reconciliation reports against the providers' records (newest run first)",
            &[
                "Report",
                "Day",
                "Provider",
                "Merchant",
                "payrail",
                "Provider's",
                "Matched",
                "Mismatches",
                "Status",
                "Run at"
            ],
            &rows
        )
    );
    Ok(operator.page("Reconciliations", body).respond(StatusCode::OK))
}

/// One side's figures, or a dash when that side has no such record.
fn side(amount: Option<i64>, currency: Option<&str>, status: Option<&str>) -> String {
    match (amount, currency) {
        (Some(amount), Some(currency)) => {
            format!("{} {}", money(amount, currency), escape(status.unwrap_or("")))
        }
        _ => "—".to_owned(),
    }
}

pub async fn show(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let (report, items) = state
        .database
        .reconciliation(&path, None)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i.item_no.to_string(),
                escape(&i.mismatch),
                escape(&i.record_type),
                escape(&i.provider_reference),
                i.payment_id
                    .as_deref()
                    .map_or_else(String::new, |p| link(&format!("/console/payments/{p}"), p)),
                escape(i.refund_id.as_deref().unwrap_or("")),
                side(
                    i.payrail_amount,
                    i.payrail_currency.as_deref(),
                    i.payrail_status.as_deref(),
                ),
                side(
                    i.provider_amount,
                    i.provider_currency.as_deref(),
                    i.provider_status.as_deref(),
                ),
            ]
        })
        .collect();
    let body = format!(
        "<dl class=\"summary\"><dt>Day</dt><dd>{}</dd><dt>Provider</dt><dd>{}</dd><dt>Merchant</dt><dd>{}</dd>\
         <dt>Run</dt><dd>{}</dd><dt>Records (payrail / provider)</dt><dd>{} / {}</dd><dt>Matched</dt><dd>{}</dd>\
         <dt>Status</dt><dd>{}</dd></dl>{}",
        escape(&report.reconciliation_date),
        escape(&report.provider),
        escape(report.merchant_id.as_deref().unwrap_or(UNATTRIBUTED)),
        escape(&report.run_id),
        report.payrail_count,
        report.provider_count,
        report.matched_count,
        escape(&report.status),
        table(
            "Mismatches",
            &[
                "#",
                "Mismatch",
                "Record",
                "Provider reference",
                "Payment",
                "Refund",
                "payrail says",
                "Provider says"
            ],
            &rows
        )
    );
    let title = format!("Reconciliation {}", report.id);
    Ok(operator.page(&title, body).respond(StatusCode::OK))
}
