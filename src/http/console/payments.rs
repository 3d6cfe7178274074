//! The console's payments: a search across merchants (id, order id, merchant, status, UTC day;
//! newest first, 50 a page) and a payment's page — its summary and provider references, its
//! timeline of events, refunds, the idempotency keys that named it, and its audit entries, each
//! with its chain status (the entry's hash recomputed, and its payload compared with the event).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use payrail_core::audit::{chain, payment_event_entry, AuditEntry};
use payrail_core::domain::{PaymentEvent, PaymentId, PaymentStatus};
use payrail_core::ports::PageRequest;

use crate::http::console::html::{escape, link, money, table, time};
use crate::http::console::session::{ConsoleError, Operator};
use crate::http::AppState;
use crate::store::PaymentSearch;

const PAGE_SIZE: i64 = 50;

#[derive(serde::Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    id: String,
    #[serde(default)]
    order_id: String,
    #[serde(default)]
    merchant: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    page: Option<i64>,
}

fn given(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

impl SearchQuery {
    fn to_search(&self) -> Result<PaymentSearch, ConsoleError> {
        let created_between = match given(&self.date) {
            None => None,
            Some(date) => {
                let day = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                    .map_err(|_| ConsoleError::BadRequest("date must be YYYY-MM-DD".into()))?;
                let from = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
                Some((
                    from.timestamp_micros(),
                    (from + chrono::Duration::days(1)).timestamp_micros(),
                ))
            }
        };
        let status = given(&self.status);
        if let Some(status) = &status {
            if !PaymentStatus::ALL.iter().any(|s| s.as_str() == status) {
                return Err(ConsoleError::BadRequest(format!("unknown status {status}")));
            }
        }
        Ok(PaymentSearch {
            id: given(&self.id),
            order_id: given(&self.order_id),
            merchant_id: given(&self.merchant),
            status,
            created_between,
            offset: (self.page().saturating_sub(1)).saturating_mul(PAGE_SIZE),
            limit: PAGE_SIZE,
        })
    }

    fn page(&self) -> i64 {
        self.page.unwrap_or(1).max(1)
    }

    /// This search's query string for page `page`.
    fn href(&self, page: i64) -> String {
        let query = serde_urlencoded::to_string([
            ("id", self.id.as_str()),
            ("order_id", self.order_id.as_str()),
            ("merchant", self.merchant.as_str()),
            ("status", self.status.as_str()),
            ("date", self.date.as_str()),
            ("page", &page.to_string()),
        ])
        .unwrap_or_default();
        format!("/console/payments?{query}")
    }
}

fn text_input(id: &str, label: &str, value: &str, kind: &str) -> String {
    format!(
        "<div class=\"field\"><label for=\"{id}\">{label}</label>\
         <input id=\"{id}\" name=\"{id}\" type=\"{kind}\" value=\"{}\"></div>",
        escape(value)
    )
}

fn search_form(query: &SearchQuery) -> String {
    let mut statuses = String::from("<option value=\"\">any</option>");
    for status in PaymentStatus::ALL {
        let selected = if status.as_str() == query.status {
            " selected"
        } else {
            ""
        };
        statuses.push_str(&format!("<option{selected}>{}</option>", status.as_str()));
    }
    format!(
        "<form method=\"get\" action=\"/console/payments\" class=\"search\" role=\"search\">{}{}{}\
         <div class=\"field\"><label for=\"status\">Status</label><select id=\"status\" name=\"status\">{statuses}</select></div>\
         {}<button type=\"submit\">Search</button></form>",
        text_input("id", "Payment id", &query.id, "text"),
        text_input("order_id", "Order id", &query.order_id, "text"),
        text_input("merchant", "Merchant", &query.merchant, "text"),
        text_input("date", "Created on (UTC)", &query.date, "date"),
    )
}

pub async fn search(
    state: web::Data<AppState>,
    operator: Operator,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let query: SearchQuery = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| ConsoleError::BadRequest("malformed search".into()))?;
    let mut results = state.database.search_payments(&query.to_search()?).await?;
    let has_more = results.len() as i64 > PAGE_SIZE;
    results.truncate(PAGE_SIZE as usize);
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|p| {
            vec![
                link(&format!("/console/payments/{}", p.id), &p.id),
                escape(&p.merchant_id),
                escape(p.order_id.as_deref().unwrap_or("")),
                money(p.amount, &p.currency),
                format!("<span class=\"status {0}\">{0}</span>", escape(&p.status)),
                escape(&p.provider),
                time(p.created_at),
            ]
        })
        .collect();
    let page = query.page();
    let mut pager = String::from("<nav aria-label=\"Pages\" class=\"pager\">");
    if page > 1 {
        pager.push_str(&link(&query.href(page - 1), "Previous page"));
    }
    pager.push_str(&format!(" <span>Page {page}</span> "));
    if has_more {
        pager.push_str(&link(&query.href(page + 1), "Next page"));
    }
    pager.push_str("</nav>");
    let body = format!(
        "{}{}{pager}",
        search_form(&query),
        table(
            "Payments, newest first",
            &["Payment", "Merchant", "Order", "Amount", "Status", "Provider", "Created"],
            &rows
        )
    );
    Ok(operator.page("Payments", body).respond(StatusCode::OK))
}

/// The status of each audit entry: its own hash recomputed, and its payload against the event.
fn chain_status(entry: &AuditEntry, events: &HashMap<&str, &PaymentEvent>) -> &'static str {
    if !chain::hash_matches(entry) {
        return "broken: hash mismatch";
    }
    match entry.event_id.as_deref().and_then(|id| events.get(id)) {
        Some(event) if payment_event_entry(event, chrono::Utc::now()).payload != entry.payload => {
            "broken: event changed"
        }
        _ => "intact",
    }
}

pub async fn payment(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = PaymentId::parse(&path).map_err(|_| ConsoleError::NotFound)?;
    let payment = state.store.load(&id).await?.ok_or(ConsoleError::NotFound)?;
    let page = PageRequest {
        limit: 100,
        starting_after: None,
    };
    let events = state
        .store
        .list_events(&payment.merchant_id, &id, &page)
        .await?
        .map(|page| page.data)
        .unwrap_or_default();
    let refunds = state.store.list_refunds(&id).await?;
    let keys = state.database.keys_of_payment(id.as_str()).await?;
    let event_ids: Vec<String> = events.iter().map(|e| e.id.as_str().to_owned()).collect();
    let entries = state.database.audit_entries_of(&event_ids).await?;
    let by_id: HashMap<&str, &PaymentEvent> = events.iter().map(|e| (e.id.as_str(), e)).collect();
    let currency = payment.currency.code();

    let summary = format!(
        "<dl class=\"summary\"><dt>Merchant</dt><dd>{}</dd><dt>Status</dt><dd><span class=\"status {status}\">{status}</span></dd>\
         <dt>Amount</dt><dd>{}</dd><dt>Captured</dt><dd>{}</dd><dt>Refunded</dt><dd>{}</dd>\
         <dt>Provider</dt><dd>{}</dd><dt>Provider reference</dt><dd>{}</dd><dt>Order</dt><dd>{}</dd>\
         <dt>Card</dt><dd>{}</dd><dt>Failure</dt><dd>{}</dd><dt>Created</dt><dd>{}</dd></dl>",
        escape(payment.merchant_id.as_str()),
        money(payment.amount.minor_units(), currency),
        money(payment.captured_amount, currency),
        money(payment.refunded_amount, currency),
        escape(&payment.provider),
        escape(payment.provider_reference.as_deref().unwrap_or("—")),
        escape(payment.order_id.as_deref().unwrap_or("—")),
        payment
            .card
            .as_ref()
            .map(|c| escape(&format!("{} ···· {}", c.brand, c.last4)))
            .unwrap_or_else(|| "—".into()),
        escape(payment.failure_code.as_deref().unwrap_or("—")),
        time(payment.created_at.timestamp_micros()),
        status = escape(payment.status.as_str()),
    );
    let timeline: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.sequence.to_string(),
                time(e.created_at.timestamp_micros()),
                escape(e.kind.as_str()),
                format!(
                    "{} → {}",
                    escape(e.from_status.map_or("—", |s| s.as_str())),
                    escape(e.to_status.as_str())
                ),
                e.amount.map(|a| money(a, currency)).unwrap_or_default(),
                escape(e.refund_id.as_ref().map_or("", |r| r.as_str())),
                escape(e.failure_code.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let refund_rows: Vec<Vec<String>> = refunds
        .iter()
        .map(|r| {
            vec![
                escape(r.id.as_str()),
                money(r.amount.minor_units(), currency),
                escape(r.status.as_str()),
                escape(r.provider_reference.as_deref().unwrap_or("—")),
                time(r.created_at.timestamp_micros()),
            ]
        })
        .collect();
    let key_rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                escape(&k.idempotency_key),
                k.response_status
                    .map_or_else(|| "in progress".into(), |s| s.to_string()),
                time(k.created_at),
                k.completed_at.map(time).unwrap_or_default(),
            ]
        })
        .collect();
    let audit_rows: Vec<Vec<String>> = entries
        .iter()
        .map(|entry| {
            vec![
                entry.seq.to_string(),
                escape(&entry.kind),
                escape(entry.event_id.as_deref().unwrap_or("")),
                time(entry.recorded_at_micros),
                format!("<code>{}…</code>", escape(entry.hash.get(..16).unwrap_or(&entry.hash))),
                escape(chain_status(entry, &by_id)),
            ]
        })
        .collect();
    let body = format!(
        "{summary}{}{}{}{}",
        table(
            "Timeline",
            &["#", "Time", "Event", "Status", "Amount", "Refund", "Failure"],
            &timeline
        ),
        table(
            "Refunds",
            &["Refund", "Amount", "Status", "Provider reference", "Created"],
            &refund_rows
        ),
        table(
            "Idempotency keys",
            &["Key", "Response", "Claimed", "Completed"],
            &key_rows
        ),
        table(
            "Audit entries",
            &["Seq", "Kind", "Event", "Recorded", "Hash", "Chain"],
            &audit_rows
        ),
    );
    let title = format!("Payment {}", id.as_str());
    Ok(operator.page(&title, body).respond(StatusCode::OK))
}
