//! The console's settlements: every merchant's closed reports (filter by day and provider), and
//! one report with its lines. The merchant API (`http/settlements.rs`) serves the same reports
//! merchant-scoped, as JSON and CSV.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::http::console::day_filter::DayFilter;
use crate::http::console::html::{escape, link, money, table, time};
use crate::http::console::session::{ConsoleError, Operator};
use crate::http::AppState;
use crate::store::settlements::SettlementFilter;

pub async fn list(
    state: web::Data<AppState>,
    operator: Operator,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let query = DayFilter::parse(&req)?;
    let filter = SettlementFilter {
        merchant_id: None,
        date: query.date(),
        provider: query.provider(),
        limit: 200,
    };
    let rows: Vec<Vec<String>> = state
        .database
        .settlements(&filter)
        .await?
        .iter()
        .map(|s| {
            vec![
                link(&format!("/console/settlements/{}", s.id), &s.id),
                escape(&s.settlement_date),
                escape(&s.provider),
                escape(&s.merchant_id),
                s.revision.to_string(),
                format!("{} ({})", money(s.captured_amount, &s.currency), s.captured_count),
                format!("{} ({})", money(s.refunded_amount, &s.currency), s.refunded_count),
                s.fees.map_or_else(|| "not reported".into(), |f| money(f, &s.currency)),
                money(s.net_amount, &s.currency),
            ]
        })
        .collect();
    let body = format!(
        "{}{}",
        query.form("/console/settlements"),
        table(
            "Settlement reports (every revision, newest day first)",
            &[
                "Report",
                "Day",
                "Provider",
                "Merchant",
                "Revision",
                "Captured (count)",
                "Refunded (count)",
                "Fees",
                "Net"
            ],
            &rows
        )
    );
    Ok(operator.page("Settlements", body).respond(StatusCode::OK))
}

pub async fn show(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let (settlement, lines) = state
        .database
        .settlement(&path, None)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                l.line_no.to_string(),
                escape(&l.kind),
                link(&format!("/console/payments/{}", l.payment_id), &l.payment_id),
                escape(l.refund_id.as_deref().unwrap_or("")),
                money(l.amount, &l.currency),
                escape(l.provider_reference.as_deref().unwrap_or("")),
                time(l.occurred_at),
            ]
        })
        .collect();
    let body = format!(
        "<dl class=\"summary\"><dt>Day</dt><dd>{}</dd><dt>Provider</dt><dd>{}</dd><dt>Merchant</dt><dd>{}</dd>\
         <dt>Revision</dt><dd>{}</dd><dt>Batch</dt><dd>{}</dd><dt>Net</dt><dd>{}</dd></dl>{}",
        escape(&settlement.settlement_date),
        escape(&settlement.provider),
        escape(&settlement.merchant_id),
        settlement.revision,
        escape(&settlement.batch_id),
        money(settlement.net_amount, &settlement.currency),
        table(
            "Lines",
            &[
                "#",
                "Type",
                "Payment",
                "Refund",
                "Amount",
                "Provider reference",
                "Occurred"
            ],
            &rows
        )
    );
    let title = format!("Settlement {}", settlement.id);
    Ok(operator.page(&title, body).respond(StatusCode::OK))
}
