//! The OpenAPI 3.1 description of the whole API, served at `GET /api/v1/openapi.json`.
//!
//! The document is a hand-maintained file (`openapi/openapi.json`) embedded in the binary: the API
//! is small and its wire types are hand-written in `wire.rs`, so a derive-based generator (utoipa)
//! would cost a macro layer on every handler and wire type for little. Drift is caught instead by
//! the test below, which enumerates the routes actix actually registered (paths from the router's
//! resource map, methods by probing each path for a 405) and compares them with the document in
//! both directions. `scripts/schemathesis.sh` checks the responses against the schemas.

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::http::ApiError;

/// The document, as served.
pub const SPEC: &str = include_str!("../../openapi/openapi.json");

pub async fn spec() -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::json()).body(SPEC)
}

/// The `Allow` value of each documented path (`"GET, POST"`), from the document: the route test
/// keeps the document equal to the router, so this is the router's truth too.
fn allow_by_path() -> &'static HashMap<String, String> {
    static ALLOW: OnceLock<HashMap<String, String>> = OnceLock::new();
    ALLOW.get_or_init(|| {
        let spec: serde_json::Value = serde_json::from_str(SPEC).unwrap_or_default();
        let mut allow = HashMap::new();
        if let Some(paths) = spec["paths"].as_object() {
            for (path, item) in paths {
                let mut methods: Vec<String> = item
                    .as_object()
                    .map(|ops| ops.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                methods.sort();
                allow.insert(path.clone(), methods.join(", "));
            }
        }
        allow
    })
}

/// A known path with an unsupported method: JSON 405 with the `Allow` header RFC 9110 requires.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let mut response = ApiError::MethodNotAllowed.error_response();
    let allow = req
        .match_pattern()
        .and_then(|pattern| allow_by_path().get(&pattern).cloned());
    if let Some(value) = allow.and_then(|a| header::HeaderValue::from_str(&a).ok()) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use actix_web::http::{Method, StatusCode};
    use actix_web::test as actix_test;
    use actix_web::{web, App, HttpRequest, HttpResponse};
    use serde_json::Value;

    use super::SPEC;

    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    fn spec() -> Value {
        serde_json::from_str(SPEC).expect("openapi.json is JSON")
    }

    fn documented() -> BTreeSet<(String, String)> {
        let spec = spec();
        let mut operations = BTreeSet::new();
        for (path, item) in spec["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                operations.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        operations
    }

    /// Full patterns of the router's leaf resources, read from the resource map's `Debug` tree
    /// (actix exposes no iterator). Scopes contribute their prefix; only non-prefix resources are
    /// routes.
    fn leaf_patterns(tree: &str) -> BTreeSet<String> {
        let lines: Vec<&str> = tree.lines().collect();
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut leaves = BTreeSet::new();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            assert!(
                !trimmed.starts_with("patterns: Multi("),
                "multi-pattern resources are not supported here"
            );
            if !trimmed.starts_with("patterns: Single(") {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let pattern = lines[i + 1].trim().trim_end_matches(',').trim_matches('"');
            while stack.last().is_some_and(|(depth, _)| *depth >= indent) {
                stack.pop();
            }
            let full = format!("{}{pattern}", stack.last().map_or("", |(_, p)| p.as_str()));
            let is_prefix = lines[i..]
                .iter()
                .find_map(|l| l.trim().strip_prefix("is_prefix: "))
                .expect("is_prefix follows patterns");
            if is_prefix.starts_with("false") {
                leaves.insert(full.clone());
            }
            stack.push((indent, full));
        }
        leaves
    }

    fn concrete(pattern: &str) -> String {
        pattern
            .replace("{id}", "pay_00000000-0000-0000-0000-000000000000")
            .replace("{order_id}", "order-1")
    }

    #[actix_web::test]
    async fn every_route_is_documented_and_every_documented_operation_is_routed() {
        let app = actix_test::init_service(App::new().configure(crate::http::routes).default_service(web::to(
            // A status no route answers with, so "fell through to the default" is unambiguous.
            |req: HttpRequest| async move { HttpResponse::ImATeapot().body(format!("{:#?}", req.resource_map())) },
        )))
        .await;
        let tree =
            actix_test::call_and_read_body(&app, actix_test::TestRequest::get().uri("/__routes__").to_request()).await;
        let patterns = leaf_patterns(std::str::from_utf8(&tree).unwrap());
        assert!(patterns.contains("/api/v1/payments/{id}/capture"), "{patterns:?}");

        let mut routed = BTreeSet::new();
        for pattern in &patterns {
            for method in METHODS {
                let request = actix_test::TestRequest::default()
                    .method(Method::from_bytes(method.as_bytes()).unwrap())
                    .uri(&concrete(pattern))
                    .to_request();
                let response = actix_test::call_service(&app, request).await;
                let status = response.status();
                if status == StatusCode::METHOD_NOT_ALLOWED {
                    let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
                    assert_eq!(
                        allow.as_ref(),
                        super::allow_by_path().get(pattern),
                        "Allow on {method} {pattern}"
                    );
                } else if status != StatusCode::IM_A_TEAPOT {
                    routed.insert((method.to_owned(), pattern.clone()));
                }
            }
        }
        let documented = documented();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty() && unrouted.is_empty(),
            "routes missing from openapi/openapi.json: {undocumented:?}; documented but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn the_seed_aliases_are_described_and_deprecated() {
        let spec = spec();
        assert_eq!(spec["openapi"], "3.1.0");
        let mut aliases = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let deprecated = operation["deprecated"] == Value::Bool(true);
                // The seed paths, and the webhook alias DESIGN §7 names, are the only aliases.
                let seed = path.starts_with("/payments");
                let webhook_alias = path == "/api/v1/payments/webhook";
                assert_eq!(deprecated, seed || webhook_alias, "{method} {path}");
                if seed {
                    aliases += 1;
                    let canonical = format!("/api/v1{path}");
                    assert!(
                        spec["paths"][&canonical][method].is_object(),
                        "{path} aliases {canonical}"
                    );
                }
            }
        }
        assert!(
            aliases >= 4,
            "the seed paths /payments, /payments/{{id}}, capture and refund at least"
        );
    }
}
