//! The OpenAPI document is served, without a token, and is the one in the repository.

use reqwest::StatusCode;

async fn the_openapi_document_is_served_without_a_token(app: crate::helpers::TestApp) {
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let served: serde_json::Value = response.json().await.unwrap();
    let file: serde_json::Value =
        serde_json::from_str(include_str!("../../openapi/openapi.json")).expect("openapi.json is JSON");
    assert_eq!(served, file);
    assert_eq!(served["openapi"], "3.1.0");
}

crate::backend_tests!(the_openapi_document_is_served_without_a_token);
