//! Console sessions are shared by every node (issue 17): a person who signs in on one node is
//! signed in on another on the same database, its forms carry the same CSRF token there, signing
//! out on one signs out on all, and the database holds only a hash of the session's id.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect, Client, StatusCode};

use crate::console::{sign_in, OPERATOR_TOKEN};
use crate::helpers::{spawn_app_with, Backend, TestApp, TestDatabase};

fn client() -> Client {
    Client::builder().redirect(redirect::Policy::none()).build().unwrap()
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    client().get(app.url(path)).header(COOKIE, cookie).send().await.unwrap()
}

fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[start..start + 64].to_owned()
}

async fn a_session_opened_on_one_node_works_on_another_until_signed_out(backend: Backend) {
    let Some(a) = spawn_app_with(backend, &[("OPERATOR_TOKEN", OPERATOR_TOKEN)]).await else {
        return;
    };
    let b = TestApp::start(TestDatabase::shared(&a.db.url), a.settings.clone()).await;
    let signed_in = sign_in(&a, OPERATOR_TOKEN).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let set = signed_in.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let cookie = set.split(';').next().unwrap().to_owned();
    let id = cookie.split_once('=').unwrap().1.to_owned();

    let on_b = get(&b, "/console/payments", &cookie).await;
    assert_eq!(on_b.status(), StatusCode::OK, "node B knows node A's session");
    let csrf_b = csrf_in(&on_b.text().await.unwrap());
    let csrf_a = csrf_in(&get(&a, "/console/payments", &cookie).await.text().await.unwrap());
    assert_eq!(csrf_a, csrf_b, "one session, one CSRF token, on every node");

    let stored = crate::sql::count(
        &a.database,
        &format!("SELECT COUNT(*) FROM console_sessions WHERE id_hash = '{id}' OR csrf = '{id}'"),
    )
    .await;
    assert_eq!(stored, 0, "the cookie's id is not in the database");
    assert_eq!(
        crate::sql::count(&a.database, "SELECT COUNT(*) FROM console_sessions").await,
        1
    );

    // Sign out on B: A no longer opens the session.
    let out = client()
        .post(b.url("/console/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf_b.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = get(&a, "/console/payments", &cookie).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(after.headers()[LOCATION], "/console/login");
    assert_eq!(
        crate::sql::count(&a.database, "SELECT COUNT(*) FROM console_sessions").await,
        0
    );
}

crate::provider_tests!(a_session_opened_on_one_node_works_on_another_until_signed_out);
