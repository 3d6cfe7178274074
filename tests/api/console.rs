//! The operator console's rules over plain HTTP, on both backends: only an operator opens it
//! (OPERATOR_TOKEN or an operator-role JWT, as a bearer token or through the login form's
//! session cookie), a merchant token never does and an operator token is no merchant token; the
//! session cookie is HttpOnly and SameSite=Strict; a session's forms need its CSRF token; pages
//! carry the console's CSP and escape what they show; a payment's page shows its timeline,
//! idempotency keys and audit entries.

use payrail::auth::Jwt;
use payrail::config::Secret;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect, Client, StatusCode};
use serde_json::json;

use crate::helpers::{card, expect_json, spawn_app_with, Backend, TestApp, JWT_SECRET};

pub const OPERATOR_TOKEN: &str = "operator-token-for-console-tests-0123456789";

fn client() -> Client {
    Client::builder().redirect(redirect::Policy::none()).build().unwrap()
}

async fn console_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[("OPERATOR_TOKEN", OPERATOR_TOKEN)]).await
}

/// Signs in through the form; the session cookie (`name=value`).
pub async fn sign_in(app: &TestApp, token: &str) -> reqwest::Response {
    client()
        .post(app.url("/console/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

fn cookie_of(response: &reqwest::Response) -> String {
    let set = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    set.split(';').next().unwrap().to_owned()
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String) {
    let response = client().get(app.url(path)).header(COOKIE, cookie).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[start..start + 64].to_owned()
}

async fn only_operators_open_the_console(backend: Backend) {
    let Some(app) = console_app(backend).await else { return };
    let get = |token: Option<String>| {
        let mut request = client().get(app.url("/console/payments"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let anonymous = get(None).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "a person is sent to sign in");
    assert_eq!(anonymous.headers()[LOCATION], "/console/login");

    let merchant = get(Some(app.token.clone())).await.unwrap();
    assert_eq!(
        merchant.status(),
        StatusCode::UNAUTHORIZED,
        "a merchant token never opens the console"
    );
    assert_eq!(
        get(Some("nonsense".into())).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let with_token = get(Some(OPERATOR_TOKEN.into())).await.unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
    let csp = with_token.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("script-src"), "no scripts at all: {csp}");

    let jwt = Jwt::hs256(&Secret::new(JWT_SECRET));
    let operator_jwt = jwt.issue_operator("alice", 600).unwrap();
    assert_eq!(get(Some(operator_jwt.clone())).await.unwrap().status(), StatusCode::OK);
    let as_merchant = app.get_as(&operator_jwt, "/api/v1/payments").await;
    assert_eq!(
        as_merchant.status(),
        StatusCode::UNAUTHORIZED,
        "an operator token is no merchant token"
    );
    let other_secret = Jwt::hs256(&Secret::new("another-secret"))
        .issue_operator("mallory", 600)
        .unwrap();
    assert_eq!(
        get(Some(other_secret)).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // Each refused console credential is audited, without the token.
    let refused = "SELECT COUNT(*) FROM audit_log WHERE kind = 'authentication_failure' \
                   AND payload LIKE '%401 operator_token_refused%' AND payload LIKE '%GET /console/payments%'";
    for _ in 0..50 {
        if crate::sql::count(&app.database, refused).await >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(crate::sql::count(&app.database, refused).await, 3);
    let leaked = format!(
        "SELECT COUNT(*) FROM audit_log WHERE payload LIKE '%{}%'",
        &app.token[app.token.len() - 20..]
    );
    assert_eq!(
        crate::sql::count(&app.database, &leaked).await,
        0,
        "no token in the audit log"
    );
}

async fn a_session_cookie_is_strict_and_its_forms_need_the_csrf_token(backend: Backend) {
    let Some(app) = console_app(backend).await else { return };
    let refused = sign_in(&app, &app.token).await;
    assert_eq!(
        refused.status(),
        StatusCode::UNAUTHORIZED,
        "a merchant token cannot sign in"
    );
    assert!(refused.headers().get(SET_COOKIE).is_none());

    let signed_in = sign_in(&app, OPERATOR_TOKEN).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let set_cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = cookie_of(&signed_in);
    let (status, html) = page(&app, "/console/audit", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Not run on this node yet"), "{html}");

    let verify = |fields: Vec<(&'static str, String)>| {
        client()
            .post(app.url("/console/audit/verify"))
            .header(COOKIE, cookie.clone())
            .form(&fields)
            .send()
    };
    assert_eq!(
        verify(vec![]).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    assert_eq!(
        verify(vec![("csrf", "0".repeat(64))]).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "a wrong CSRF token"
    );
    assert!(
        page(&app, "/console/audit", &cookie).await.1.contains("Not run"),
        "a refused form ran nothing"
    );
    let ran = verify(vec![("csrf", csrf_in(&html))]).await.unwrap();
    assert_eq!(ran.status(), StatusCode::SEE_OTHER);
    let (_, after) = page(&app, "/console/audit", &cookie).await;
    assert!(after.contains("chain intact"), "{after}");

    let logout = client()
        .post(app.url("/console/logout"))
        .header(COOKIE, cookie.clone())
        .form(&[("csrf", csrf_in(&after))])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    let (status, _) = page(&app, "/console/payments", &cookie).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the session is gone after logging out");
}

async fn a_payment_page_shows_its_timeline_keys_and_audit_entries_escaped(backend: Backend) {
    let Some(app) = console_app(backend).await else { return };
    let body = json!({ "amount": 4_200, "currency": "usd", "capture": false, "order_id": "<script>o1</script>",
                       "payment_method": card("4242424242424242") });
    let created = app
        .client
        .post(app.url("/api/v1/payments"))
        .bearer_auth(&app.token)
        .header("Idempotency-Key", "console-key-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let created = expect_json(created, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_owned();
    expect_json(app.capture(&id, json!({ "amount": 4_000 })).await, StatusCode::OK).await;
    crate::sql::assert_every_event_audited_once(&app.database).await;
    let cookie = cookie_of(&sign_in(&app, OPERATOR_TOKEN).await);

    let (status, results) = page(
        &app,
        "/console/payments?order_id=%3Cscript%3Eo1%3C%2Fscript%3E",
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(results.contains(&format!("/console/payments/{id}")), "{results}");
    assert!(
        results.contains("&lt;script&gt;o1&lt;/script&gt;"),
        "escaped: {results}"
    );
    assert!(!results.contains("<script>"), "{results}");
    let (_, nothing) = page(&app, "/console/payments?status=failed", &cookie).await;
    assert!(!nothing.contains(&id), "filtered by status");
    let (status, _) = page(&app, "/console/payments?status=bogus", &cookie).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, html) = page(&app, &format!("/console/payments/{id}"), &cookie).await;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "payment.created",
        "payment.authorized",
        "payment.capture_requested",
        "payment.captured",
        "console-key-1",
        "40.00 USD",
    ] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
    assert_eq!(
        html.matches(">intact<").count(),
        4,
        "four audit entries (the capture is an intent, then its settlement), each intact: {html}"
    );
    // Tampering with an audited event shows on its entry.
    let tamper = format!("UPDATE payment_events SET amount = 1 WHERE payment_id = '{id}' AND sequence = 3");
    assert_eq!(crate::sql::execute(&app.database, &tamper).await.unwrap(), 1);
    let (_, tampered) = page(&app, &format!("/console/payments/{id}"), &cookie).await;
    assert_eq!(tampered.matches(">intact<").count(), 3, "{tampered}");
    assert!(tampered.contains("broken: event changed"), "{tampered}");
    let (status, _) = page(&app, "/console/payments/pay_doesnotexist", &cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in ["/console/providers", "/console/actors", "/console/settlements"] {
        assert_eq!(page(&app, path, &cookie).await.0, StatusCode::OK, "{path}");
    }
}

async fn the_actors_and_providers_pages_show_restarts_and_provider_calls(backend: Backend) {
    let Some(app) = console_app(backend).await else { return };
    let id = app.create_payment(3_000, "4242424242424242", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = cookie_of(&sign_in(&app, OPERATOR_TOKEN).await);
    let (_, before) = page(&app, "/console/actors", &cookie).await;
    assert!(
        before.contains("<dt>Restarts in the last hour</dt><dd>0</dd>"),
        "{before}"
    );
    assert!(
        app.supervisor
            .kill(&payrail_core::domain::PaymentId::parse(&id).unwrap())
            .await
    );
    expect_json(app.capture(&id, json!({})).await, StatusCode::OK).await;
    let (_, after) = page(&app, "/console/actors", &cookie).await;
    assert!(
        after.contains("<dt>Restarts in the last hour</dt><dd>1</dd>"),
        "{after}"
    );
    assert!(
        after.contains(&format!(">{id}</a>")),
        "the restarted payment is listed: {after}"
    );
    assert!(
        after.contains("<td>mailbox closed</td><td>1</td>"),
        "reason and restart_count: {after}"
    );

    let (_, providers) = page(&app, "/console/providers", &cookie).await;
    let row = providers
        .split("<tr>")
        .find(|row| row.starts_with("<td>sandbox</td>"))
        .unwrap_or_else(|| panic!("a sandbox row: {providers}"));
    let cells: Vec<&str> = row
        .split("<td>")
        .skip(1)
        .map(|cell| cell.split("</td>").next().unwrap())
        .collect();
    assert!(cells[1].contains("closed"), "{row}");
    let requests: u64 = cells[2].parse().unwrap();
    assert!(requests >= 2, "authorise and capture reached the sandbox: {row}");
    assert_eq!(cells[3], "0", "no errors: {row}");
    assert_eq!(cells[4], "0.0 %", "{row}");
}

crate::provider_tests!(
    the_actors_and_providers_pages_show_restarts_and_provider_calls,
    only_operators_open_the_console,
    a_session_cookie_is_strict_and_its_forms_need_the_csrf_token,
    a_payment_page_shows_its_timeline_keys_and_audit_entries_escaped,
);
