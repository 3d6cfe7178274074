//! The operator console (issue 17) at `/console`: server-rendered HTML with no JavaScript, behind
//! an operator's token or session (`session.rs`), under its own Content-Security-Policy
//! (`html.rs`: only its stylesheet, forms posting to itself). Pages: payments search and a
//! payment's page (`payments.rs`), providers and actors (`operations.rs`), settlements
//! (`settlements.rs`), reconciliation reports and their mismatches (`reconciliations.rs`), and the
//! audit chain's verification (`audit.rs`).

mod audit;
mod audit_status;
mod day_filter;
mod html;
mod operations;
mod payments;
mod reconciliations;
mod session;
mod settlements;

use actix_web::http::header::LOCATION;
use actix_web::{web, HttpResponse};

pub use session::Console;

/// The console's routes, under `/console`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/console").route(web::get().to(home)))
        .service(
            web::scope("/console")
                .route("/", web::get().to(home))
                .route("/static/console.css", web::get().to(stylesheet))
                .route("/static/favicon.svg", web::get().to(favicon))
                .route("/login", web::get().to(session::login_form))
                .route("/login", web::post().to(session::login))
                .route("/logout", web::post().to(session::logout))
                .route("/payments", web::get().to(payments::search))
                .route("/payments/{id}", web::get().to(payments::payment))
                .route("/providers", web::get().to(operations::providers))
                .route("/actors", web::get().to(operations::actors))
                .route("/settlements", web::get().to(settlements::list))
                .route("/settlements/{id}", web::get().to(settlements::show))
                .route("/reconciliations", web::get().to(reconciliations::list))
                .route("/reconciliations/{id}", web::get().to(reconciliations::show))
                .route("/audit", web::get().to(audit::page))
                .route("/audit/verify", web::post().to(audit::verify)),
        );
}

async fn home(_operator: session::Operator) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, "/console/payments"))
        .finish()
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).body(body)
}

async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", include_str!("console.css"))
}

async fn favicon() -> HttpResponse {
    asset("image/svg+xml", include_str!("favicon.svg"))
}
