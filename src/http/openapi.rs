//! The OpenAPI 3.1 description of the whole API, served at `GET /api/v1/openapi.json`.
//!
//! The document is a hand-kept file (`openapi/openapi.json`) embedded in the binary. Generating it
//! from the wire types (utoipa) was weighed against the API doubling, and keeping it by hand is the
//! better trade here, for three reasons:
//!
//! - Most of what the document says is not in the wire types. They are deliberately loose
//!   (`String`, `Option`) so that `parse.rs` can answer a 400 that names the parameter; the rules
//!   (currency list, id and token patterns, card xor token, metadata limits, cursor format, which
//!   error code each status carries, the links Schemathesis follows) live in `parse.rs` and the
//!   domain. With utoipa every one of them becomes a `#[schema(...)]` or `#[utoipa::path(...)]`
//!   attribute: the same facts, written by hand in macro arguments, checked no better than now.
//! - Drift is caught by testing the document against the code and the running API, which
//!   generation would not replace: the tests below compare the router's routes and methods with
//!   the document's paths (both ways), and each wire type's fields with its schema's properties
//!   (both ways); `scripts/schemathesis.sh` runs every Schemathesis check against a live server.
//! - The handlers and wire types stay plain code (STYLE.md), without a macro layer on each.
//!
//! To keep it small as it grows: shared answers and parameters are `components/responses` and
//! `components/parameters` (a new endpoint is its own `paths` entry plus its schemas), and a new
//! wire type gets a line in `every_wire_type_has_the_fields_its_schema_lists`.

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
    use crate::http::wire;

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

    /// The property names of a schema in `components/schemas`, following `oneOf` branches.
    fn properties(schema: &str) -> BTreeSet<String> {
        let spec = spec();
        let schema = &spec["components"]["schemas"][schema];
        let mut names: BTreeSet<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for branch in schema["oneOf"].as_array().into_iter().flatten() {
            let name = branch["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .expect("oneOf of $refs");
            names.extend(properties(name));
        }
        names
    }

    fn same_fields(fields: BTreeSet<String>, schema: &str) {
        assert_eq!(
            fields,
            properties(schema),
            "the wire type's fields and schema {schema}'s properties"
        );
    }

    fn serialized(view: impl serde::Serialize) -> BTreeSet<String> {
        let value = serde_json::to_value(view).unwrap();
        value.as_object().expect("an object").keys().cloned().collect()
    }

    /// The fields a `deny_unknown_fields` request type accepts, read from serde's own refusal of
    /// an unknown one ("unknown field `…`, expected one of `a`, `b`" / "there are no fields").
    fn accepted<T: serde::de::DeserializeOwned + std::fmt::Debug>() -> BTreeSet<String> {
        let error = serde_json::from_str::<T>(r#"{"__not_a_field__": 0}"#)
            .unwrap_err()
            .to_string();
        let Some((_, expected)) = error.split_once("expected ") else {
            assert!(error.contains("there are no fields"), "{error}");
            return BTreeSet::new();
        };
        let expected = expected.split(" at line").next().unwrap();
        expected.split('`').skip(1).step_by(2).map(str::to_owned).collect()
    }

    #[test]
    fn every_wire_type_has_the_fields_its_schema_lists() {
        let card = crate::views::CardView {
            brand: "visa".into(),
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2034,
            fingerprint: None,
        };
        same_fields(serialized(&card), "Card");
        let payment = wire::PaymentView {
            id: "pay_1".into(),
            amount: 2500,
            currency: "usd",
            status: "succeeded",
            captured_amount: 2500,
            refunded_amount: 0,
            provider: "sandbox".into(),
            provider_reference: None,
            order_id: None,
            description: None,
            metadata: Default::default(),
            card: Some(card),
            receipt_email: Some("ada@example.com".into()),
            failure_code: None,
            failure_message: None,
            return_url: Some("https://shop.example/back".into()),
            next_action: None,
            created_at: String::new(),
            updated_at: String::new(),
        };
        same_fields(serialized(&payment), "Payment");
        let refund = wire::RefundView {
            id: "re_1".into(),
            payment_id: "pay_1".into(),
            amount: 100,
            status: "succeeded",
            reason: None,
            created_at: String::new(),
        };
        same_fields(serialized(&refund), "Refund");
        let event = wire::EventView {
            id: "evt_1".into(),
            payment_id: "pay_1".into(),
            kind: "payment.created",
            sequence: 1,
            from_status: None,
            to_status: "pending",
            amount: None,
            refund_id: None,
            failure_code: None,
            created_at: String::new(),
        };
        same_fields(serialized(&event), "Event");
        let list = wire::ListView::<wire::EventView> {
            data: Vec::new(),
            has_more: false,
        };
        same_fields(serialized(&list), "PaymentList");
        same_fields(serialized(&list), "EventList");

        same_fields(accepted::<wire::CreatePaymentBody>(), "CreatePaymentRequest");
        same_fields(accepted::<wire::PaymentMethodBody>(), "PaymentMethod");
        same_fields(accepted::<wire::CardBody>(), "CardInput");
        same_fields(accepted::<wire::CaptureBody>(), "CaptureRequest");
        same_fields(accepted::<wire::CancelBody>(), "CancelRequest");
        same_fields(accepted::<wire::RefundBody>(), "RefundRequest");

        use crate::http::reconciliations::{MismatchView, ReconciliationView};
        use crate::store::reconciliations::{ReconciliationItemRecord, ReconciliationRecord};
        let item = ReconciliationItemRecord {
            reconciliation_id: "rec_1".into(),
            item_no: 1,
            mismatch: "amount_differs".into(),
            record_type: "payment".into(),
            provider_reference: "pi_1".into(),
            payment_id: Some("pay_1".into()),
            refund_id: None,
            payrail_amount: Some(100),
            provider_amount: Some(99),
            payrail_currency: Some("usd".into()),
            provider_currency: Some("usd".into()),
            payrail_status: Some("succeeded".into()),
            provider_status: Some("succeeded".into()),
        };
        let mismatch = serde_json::to_value(MismatchView::new(item.clone())).unwrap();
        same_fields(
            mismatch.as_object().unwrap().keys().cloned().collect(),
            "ReconciliationMismatch",
        );
        same_fields(serialized(&mismatch["payrail"]), "ReconciliationSide");
        let record = ReconciliationRecord {
            id: "rec_1".into(),
            run_id: "rcr_1".into(),
            reconciliation_date: "2026-12-07".into(),
            provider: "sandbox".into(),
            merchant_id: Some("m".into()),
            payrail_count: 1,
            provider_count: 1,
            matched_count: 0,
            mismatch_count: 1,
            status: "mismatched".into(),
            created_at: 0,
        };
        same_fields(
            serialized(ReconciliationView::new(record, Some(vec![item]))),
            "Reconciliation",
        );
    }
}
