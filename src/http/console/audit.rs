//! The console's audit page: the last `audit verify` run on this node (when, and its verdict)
//! and a button that runs it now — the same walk as `payrail audit verify` (`store::verify_chain`).

use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::http::console::html::escape;
use crate::http::console::session::{Console, ConsoleError, CsrfForm, Operator};
use crate::http::AppState;

pub async fn page(console: web::Data<Console>, operator: Operator) -> Result<HttpResponse, ConsoleError> {
    let status = match console.audit.get() {
        None => "<p>Not run on this node yet.</p>".to_owned(),
        Some((at, Ok(entries))) => format!(
            "<p class=\"ok\" role=\"status\">Last run {}: chain intact, {entries} entries verified.</p>",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Some((at, Err(reason))) => format!(
            "<p class=\"error\" role=\"alert\">Last run {}: chain broken — {}</p>",
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            escape(&reason)
        ),
    };
    let csrf = operator.csrf.as_deref().map(escape).unwrap_or_default();
    let body = format!(
        "{status}<form method=\"post\" action=\"/console/audit/verify\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\">Verify the audit chain now</button></form>"
    );
    Ok(operator.page("Audit", body).respond(StatusCode::OK))
}

pub async fn verify(
    state: web::Data<AppState>,
    console: web::Data<Console>,
    operator: Operator,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    operator.check_csrf(form.csrf.as_deref())?;
    let verdict = crate::store::verify_chain(state.database.audit_store().as_ref()).await?;
    let verdict = verdict.map_err(|broken| broken.to_string());
    state.metrics.audit_verified(verdict.is_ok());
    tracing::info!(operator = %operator.name, intact = verdict.is_ok(), "console: audit chain verified");
    console.audit.set(verdict);
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, "/console/audit"))
        .finish())
}
