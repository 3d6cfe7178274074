//! The fake Stripe's balance: a balance transaction for every charge that captured money and every
//! refund that succeeded, listed as Stripe lists them (`GET /v1/balance_transactions`: newest
//! first, `created[gte]`/`created[lt]` in Unix seconds, `limit` 1–100 else 400, cursor
//! pagination with `starting_after` and `has_more`, `expand[]=data.source` to get the charge or
//! refund object instead of its id). Charges are `ch_…` objects naming their PaymentIntent, as in
//! Stripe, so a client must expand the source to find the intent.

use serde_json::{json, Value};

/// One balance transaction, its source object kept expanded (`_source`) and a sequence number to
/// order transactions created in the same second.
pub fn transaction(n: u64, kind: &str, amount: i64, currency: &Value, source: Value) -> Value {
    json!({
        "id": format!("txn_fake{n}"), "object": "balance_transaction", "amount": amount, "currency": currency,
        "created": chrono::Utc::now().timestamp(), "type": kind, "status": "available", "fee": 0,
        "net": amount, "source": source["id"], "_source": source, "_seq": n,
    })
}

/// The balance transaction of a charge that captured `amount` on `intent`.
pub fn charge(n: u64, intent: &Value, amount: i64) -> Value {
    let charge = json!({ "id": format!("ch_fake{n}"), "object": "charge", "amount": amount,
                         "currency": intent["currency"], "payment_intent": intent["id"],
                         "metadata": intent["metadata"] });
    transaction(n, "charge", amount, &intent["currency"], charge)
}

/// The balance transaction of a succeeded refund (negative: money out).
pub fn refund(n: u64, refund: &Value) -> Value {
    let amount = refund["amount"].as_i64().unwrap_or(0);
    transaction(n, "refund", -amount, &refund["currency"], refund.clone())
}

fn bad(message: &str) -> (u16, Value) {
    (
        400,
        json!({ "error": { "type": "invalid_request_error", "code": "parameter_invalid_integer", "message": message } }),
    )
}

/// `GET /v1/balance_transactions` over `balance`.
pub fn list(balance: &[Value], params: &[(String, String)]) -> (u16, Value) {
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let bound = |name: &str| -> Result<Option<i64>, (u16, Value)> {
        get(name)
            .map(|v| v.parse::<i64>().map_err(|_| bad(&format!("Invalid integer: {name}"))))
            .transpose()
    };
    let (gte, lt) = match (bound("created[gte]"), bound("created[lt]")) {
        (Ok(gte), Ok(lt)) => (gte, lt),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let limit = match get("limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(limit)) if (1..=100).contains(&limit) => limit,
        _ => return bad("Invalid limit: must be an integer between 1 and 100"),
    };
    let expand = params.iter().any(|(k, v)| k == "expand[]" && v == "data.source");
    let mut matching: Vec<&Value> = balance
        .iter()
        .filter(|t| {
            let created = t["created"].as_i64().unwrap_or(0);
            gte.map_or(true, |g| created >= g) && lt.map_or(true, |l| created < l)
        })
        .collect();
    matching.sort_by_key(|t| std::cmp::Reverse((t["created"].as_i64(), t["_seq"].as_u64())));
    let start = match get("starting_after") {
        None => 0,
        Some(after) => match matching.iter().position(|t| t["id"] == json!(after)) {
            Some(i) => i + 1,
            None => {
                return (
                    400,
                    json!({ "error": { "type": "invalid_request_error", "code": "resource_missing",
                                       "message": format!("No such balance transaction: '{after}'") } }),
                )
            }
        },
    };
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|t| {
            let mut out = (*t).clone();
            let object = out.as_object_mut().unwrap();
            let source = object.remove("_source").unwrap_or(Value::Null);
            object.remove("_seq");
            if expand {
                object.insert("source".into(), source);
            }
            out
        })
        .collect();
    let has_more = start + page.len() < matching.len();
    (
        200,
        json!({ "object": "list", "url": "/v1/balance_transactions", "data": page, "has_more": has_more }),
    )
}
