//! The fake PayPal's Transaction Search (`GET /v1/reporting/transactions`), derived from its orders:
//! each capture a `T0006` transaction (its `custom_field` the order's `custom_id`), each refund a
//! `T1107` with a negative amount referring to its capture, as PayPal lists them. `start_date` and
//! `end_date` are required (RFC 3339, at most 31 days apart), `page_size` is 1–500 (default 100),
//! `page` from 1; the answer carries `page`, `total_items` and `total_pages`. An unknown parameter
//! is a 400 `INVALID_REQUEST`, as PayPal answers.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};

const PARAMETERS: &[&str] = &[
    "transaction_id",
    "transaction_type",
    "transaction_status",
    "transaction_amount",
    "transaction_currency",
    "start_date",
    "end_date",
    "payment_instrument_type",
    "store_id",
    "terminal_id",
    "fields",
    "balance_affecting_records_only",
    "page_size",
    "page",
];

fn invalid(field: &str, issue: &str) -> (u16, Value) {
    (
        400,
        json!({ "name": "INVALID_REQUEST", "message": "Request is not well-formed, syntactically incorrect, or violates schema.",
                "details": [{ "field": field, "location": "query", "issue": issue }] }),
    )
}

fn status(capture_status: &Value) -> &'static str {
    match capture_status.as_str() {
        Some("COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED") => "S",
        Some("PENDING") => "P",
        Some("DECLINED" | "FAILED") => "D",
        _ => "V",
    }
}

/// Every transaction of `orders`, oldest first.
fn transactions(orders: &HashMap<String, Value>) -> Vec<(DateTime<FixedOffset>, Value)> {
    let mut listed = Vec::new();
    let when = |v: &Value| {
        v["create_time"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    };
    for order in orders.values() {
        let unit = &order["purchase_units"][0];
        for capture in unit["payments"]["captures"].as_array().into_iter().flatten() {
            let Some(at) = when(capture) else { continue };
            listed.push((at, json!({ "transaction_info": {
                "transaction_id": capture["id"], "transaction_event_code": "T0006",
                "transaction_initiation_date": capture["create_time"], "transaction_updated_date": capture["create_time"],
                "transaction_amount": capture["amount"], "transaction_status": status(&capture["status"]),
                "custom_field": unit["custom_id"], "invoice_id": unit["reference_id"] } })));
        }
        let capture_id = &unit["payments"]["captures"][0]["id"];
        for refund in unit["payments"]["refunds"].as_array().into_iter().flatten() {
            let Some(at) = when(refund) else { continue };
            let amount = json!({ "currency_code": refund["amount"]["currency_code"],
                                 "value": format!("-{}", refund["amount"]["value"].as_str().unwrap_or("0")) });
            listed.push((
                at,
                json!({ "transaction_info": {
                "transaction_id": refund["id"], "paypal_reference_id": capture_id, "paypal_reference_id_type": "TXN",
                "transaction_event_code": "T1107", "transaction_initiation_date": refund["create_time"],
                "transaction_updated_date": refund["create_time"], "transaction_amount": amount,
                "transaction_status": status(&refund["status"]), "custom_field": unit["custom_id"] } }),
            ));
        }
    }
    listed.sort_by_key(|(at, t)| (*at, t["transaction_info"]["transaction_id"].as_str().map(str::to_owned)));
    listed
}

/// `GET /v1/reporting/transactions` over `orders`.
pub fn search(orders: &HashMap<String, Value>, query: &str) -> (u16, Value) {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    if let Some((name, _)) = params.iter().find(|(k, _)| !PARAMETERS.contains(&k.as_str())) {
        return invalid(name, "INVALID_PARAMETER");
    }
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let date = |name: &str| get(name).map(DateTime::parse_from_rfc3339);
    let (start, end) = match (date("start_date"), date("end_date")) {
        (Some(Ok(start)), Some(Ok(end))) => (start, end),
        (None, _) => return invalid("start_date", "MISSING_REQUIRED_PARAMETER"),
        (_, None) => return invalid("end_date", "MISSING_REQUIRED_PARAMETER"),
        (Some(Err(_)), _) => return invalid("start_date", "INVALID_PARAMETER_SYNTAX"),
        (_, Some(Err(_))) => return invalid("end_date", "INVALID_PARAMETER_SYNTAX"),
    };
    if end < start || end - start > chrono::Duration::days(31) {
        return invalid("end_date", "RESULTSET_TOO_LARGE");
    }
    let page_size = match get("page_size").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=500).contains(&n) => n,
        _ => return invalid("page_size", "INVALID_PARAMETER_VALUE"),
    };
    let page = match get("page").map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        _ => return invalid("page", "INVALID_PARAMETER_VALUE"),
    };
    // `end_date` is inclusive, to the second.
    let matching: Vec<Value> = transactions(orders)
        .into_iter()
        .filter(|(at, _)| *at >= start && *at < end + chrono::Duration::seconds(1))
        .map(|(_, t)| t)
        .collect();
    let total_pages = matching.len().div_ceil(page_size).max(1);
    let details: Vec<Value> = matching
        .iter()
        .skip((page - 1) * page_size)
        .take(page_size)
        .cloned()
        .collect();
    (
        200,
        json!({ "transaction_details": details, "account_number": "FAKEACCOUNT1", "start_date": get("start_date"),
                "end_date": get("end_date"), "last_refreshed_datetime": chrono::Utc::now().to_rfc3339(),
                "page": page, "total_items": matching.len(), "total_pages": total_pages, "links": [] }),
    )
}
