//! The fake Flutterwave's listings, as v3 pages them: `GET /v3/transactions?from=&to=&page=` and
//! `GET /v3/refunds?from=&to=&page=` (dates `YYYY-MM-DD`, inclusive, on `created_at`; a fixed page
//! size, ten unless a test makes it smaller; `meta.page_info` with `total`, `current_page` and
//! `total_pages`), and `GET /v3/transactions/{id}/verify`. Fake-internal fields never show.

use serde_json::{json, Value};

use super::{envelope, major, State};

/// Fields the fake keeps for itself.
const INTERNAL: &[&str] = &["amount_minor", "captured_minor", "minor", "preauthorized"];

fn shown(item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(fields) = item.as_object_mut() {
        for field in INTERNAL {
            fields.remove(*field);
        }
    }
    item
}

/// A transaction as listed: a captured preauthorization's `charged_amount` is what was captured.
fn listed_transaction(tx: &Value) -> Value {
    let mut out = shown(tx);
    if tx["preauthorized"] == true && tx["status"] == "successful" {
        let currency = tx["currency"].as_str().unwrap_or_default().to_ascii_lowercase();
        out["charged_amount"] = major(&currency, tx["captured_minor"].as_i64().unwrap_or(0));
    }
    out
}

/// The query's filters: (from, to, page, transaction id); a 400 for anything malformed or unknown.
type Filters = (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>, usize, Option<i64>);

fn filters(query: &str, allowed: &[&str]) -> Result<Filters, (u16, Value)> {
    let (mut from, mut to, mut page, mut id) = (None, None, 1usize, None);
    for (name, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
        match name {
            "from" | "to" => {
                let Ok(date) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") else {
                    return Err(envelope(400, false, &format!("{name} must be YYYY-MM-DD"), Value::Null));
                };
                if name == "from" {
                    from = Some(date);
                } else {
                    to = Some(date);
                }
            }
            "page" => page = value.parse().unwrap_or(0),
            "id" if allowed.contains(&"id") => id = value.parse::<i64>().ok(),
            other if allowed.contains(&other) => {}
            other => {
                return Err(envelope(
                    400,
                    false,
                    &format!("Unknown query parameter {other}"),
                    Value::Null,
                ))
            }
        }
    }
    if page == 0 {
        return Err(envelope(400, false, "page must be a positive integer", Value::Null));
    }
    Ok((from, to, page, id))
}

fn within(item: &Value, from: Option<chrono::NaiveDate>, to: Option<chrono::NaiveDate>) -> bool {
    let day = item["created_at"]
        .as_str()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|c| c.with_timezone(&chrono::Utc).date_naive());
    from.map_or(true, |f| day.is_some_and(|d| d >= f)) && to.map_or(true, |t| day.is_some_and(|d| d <= t))
}

fn page_of(items: Vec<Value>, page: usize, per_page: usize, message: &str) -> (u16, Value) {
    let total_pages = items.len().div_ceil(per_page).max(1);
    let meta = json!({ "page_info": { "total": items.len(), "current_page": page, "total_pages": total_pages } });
    let data: Vec<Value> = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    (
        200,
        json!({ "status": "success", "message": message, "meta": meta, "data": data }),
    )
}

/// `GET /v3/transactions`.
pub fn transactions(s: &State, query: &str) -> (u16, Value) {
    let allowed = ["status", "currency", "tx_ref", "customer_email", "customer_fullname"];
    let (from, to, page, _) = match filters(query, &allowed) {
        Ok(filters) => filters,
        Err(refusal) => return refusal,
    };
    let items = s
        .transactions
        .iter()
        .filter(|t| within(t, from, to))
        .map(listed_transaction)
        .collect();
    page_of(items, page, s.page_size(), "Transactions fetched")
}

/// `GET /v3/refunds`, optionally one transaction's (`id`).
pub fn refunds(s: &State, query: &str) -> (u16, Value) {
    let (from, to, page, id) = match filters(query, &["id", "status", "currency", "flw_ref"]) {
        Ok(filters) => filters,
        Err(refusal) => return refusal,
    };
    let items = s
        .refunds
        .iter()
        .filter(|r| id.map_or(true, |id| r["transaction_id"] == id) && within(r, from, to))
        .map(shown)
        .collect();
    page_of(items, page, s.page_size(), "Refunds fetched")
}

/// `GET /v3/transactions/{id}/verify`.
pub fn verify(s: &State, id: &str) -> (u16, Value) {
    let id: i64 = id.parse().unwrap_or(-1);
    match s.transactions.iter().find(|t| t["id"] == id) {
        Some(tx) => envelope(200, true, "Transaction fetched successfully", listed_transaction(tx)),
        None => envelope(400, false, "No transaction was found for this id", Value::Null),
    }
}
