//! Lists: newest first, keyset pagination with `starting_after`, `has_more`, filtering by order.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{card, expect_error, expect_json, TestApp};

async fn payments_list_newest_first_and_paginate(app: TestApp) {
    let mut created = Vec::new();
    for amount in 1..=5 {
        created.push(
            app.create_payment(amount * 100, "4242424242424242", true).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let first = expect_json(app.get("/api/v1/payments?limit=2").await, StatusCode::OK).await;
    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&first), [created[4].clone(), created[3].clone()]);
    assert_eq!(first["has_more"], true);
    let cursor = &created[3];
    let second = expect_json(
        app.get(&format!("/api/v1/payments?limit=2&starting_after={cursor}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&second), [created[2].clone(), created[1].clone()]);
    let cursor = &created[1];
    let last = expect_json(
        app.get(&format!("/api/v1/payments?limit=2&starting_after={cursor}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&last), [created[0].clone()]);
    assert_eq!(last["has_more"], false);
    let default = expect_json(app.get("/api/v1/payments").await, StatusCode::OK).await;
    assert_eq!(default["data"].as_array().unwrap().len(), 5);
}

async fn payments_filter_by_order(app: TestApp) {
    for order in ["order-a", "order-b", "order-a"] {
        let body =
            json!({ "amount": 100, "currency": "usd", "order_id": order, "payment_method": card("4242424242424242") });
        expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    }
    let by_query = expect_json(app.get("/api/v1/payments?order_id=order-a").await, StatusCode::OK).await;
    assert_eq!(by_query["data"].as_array().unwrap().len(), 2);
    assert!(by_query["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["order_id"] == "order-a"));
    let by_path = expect_json(app.get("/api/v1/payments/order/order-b").await, StatusCode::OK).await;
    assert_eq!(by_path["data"].as_array().unwrap().len(), 1);
    let none = expect_json(app.get("/api/v1/payments/order/nothing").await, StatusCode::OK).await;
    assert_eq!(none, json!({ "data": [], "has_more": false }));
}

async fn events_paginate_oldest_first(app: TestApp) {
    let id = app.create_payment(1_000, "4242424242424242", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        expect_json(app.refund(&id, json!({ "amount": 100 })).await, StatusCode::CREATED).await;
    }
    let first = expect_json(
        app.get(&format!("/api/v1/payments/{id}/events?limit=2")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["has_more"], true);
    assert_eq!(first["data"][0]["sequence"], 1);
    let cursor = first["data"][1]["id"].as_str().unwrap();
    let rest = expect_json(
        app.get(&format!("/api/v1/payments/{id}/events?starting_after={cursor}"))
            .await,
        StatusCode::OK,
    )
    .await;
    let sequences: Vec<i64> = rest["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(
        sequences,
        [3, 4, 5, 6, 7, 8],
        "each refund: its intent, then its settlement"
    );
    assert_eq!(rest["has_more"], false);
}

async fn bad_list_parameters_are_400(app: TestApp) {
    for query in ["limit=0", "limit=101", "limit=ten", "limit=-1"] {
        expect_error(
            app.get(&format!("/api/v1/payments?{query}")).await,
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            Some("limit"),
        )
        .await;
    }
    for cursor in ["garbage", "pay_00000000-0000-0000-0000-000000000000"] {
        expect_error(
            app.get(&format!("/api/v1/payments?starting_after={cursor}")).await,
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            Some("starting_after"),
        )
        .await;
    }
    let id = app.create_payment(100, "4242424242424242", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_error(
        app.get(&format!("/api/v1/payments/{id}/events?starting_after=evt_nope"))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
        Some("starting_after"),
    )
    .await;
}

crate::backend_tests!(
    payments_list_newest_first_and_paginate,
    payments_filter_by_order,
    events_paginate_oldest_first,
    bad_list_parameters_are_400,
);
