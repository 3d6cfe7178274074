//! The console's operations pages: providers (circuit state, error rate and mean latency, from the
//! registry `/metrics` serves) and actors (live count, work in flight, and the last hour's restarts
//! with the supervisor's restart log fields).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::http::console::html::{escape, table};
use crate::http::console::session::{ConsoleError, Operator};
use crate::http::AppState;

pub async fn providers(state: web::Data<AppState>, operator: Operator) -> Result<HttpResponse, ConsoleError> {
    let rows: Vec<Vec<String>> = state
        .metrics
        .provider_summaries(&state.provider_names)
        .iter()
        .map(|p| {
            vec![
                escape(&p.provider),
                if p.circuit_open {
                    "<span class=\"status failed\">open</span>".into()
                } else {
                    "<span class=\"status succeeded\">closed</span>".into()
                },
                p.requests.to_string(),
                p.errors.to_string(),
                p.error_rate
                    .map_or_else(|| "—".into(), |r| format!("{:.1} %", r * 100.0)),
                p.operations.to_string(),
                p.mean_latency_secs
                    .map_or_else(|| "—".into(), |s| format!("{:.1} ms", s * 1000.0)),
            ]
        })
        .collect();
    let body = format!(
        "<p>Since this node started; the same counters as <code>/metrics</code> \
         (<code>provider_requests_total</code>, <code>provider_circuit_open</code>, \
         <code>payment_processing_time_seconds</code>).</p>{}",
        table(
            "Providers",
            &[
                "Provider",
                "Circuit",
                "Requests",
                "Errors",
                "Error rate",
                "Operations",
                "Mean latency"
            ],
            &rows
        )
    );
    Ok(operator.page("Providers", body).respond(StatusCode::OK))
}

pub async fn actors(state: web::Data<AppState>, operator: Operator) -> Result<HttpResponse, ConsoleError> {
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let restarts = state.metrics.restarts_since(hour_ago);
    let rows: Vec<Vec<String>> = restarts
        .iter()
        .map(|r| {
            vec![
                r.at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
                format!("<a href=\"/console/payments/{0}\">{0}</a>", escape(&r.payment_id)),
                escape(&r.reason),
                r.restart_count.to_string(),
            ]
        })
        .collect();
    let supervisor = &state.supervisor;
    let body = format!(
        "<dl class=\"summary\"><dt>Live payment actors</dt><dd>{}</dd><dt>Operations in flight</dt><dd>{}</dd>\
         <dt>Restarts since start</dt><dd>{}</dd><dt>Restarts in the last hour</dt><dd>{}</dd></dl>{}",
        supervisor.active_actors(),
        supervisor.in_flight(),
        supervisor.restarts(),
        restarts.len(),
        table(
            "Restarts in the last hour (log: actor restarted)",
            &["Time", "payment_id", "reason", "restart_count"],
            &rows
        )
    );
    Ok(operator.page("Actors", body).respond(StatusCode::OK))
}
