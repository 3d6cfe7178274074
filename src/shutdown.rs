//! Graceful shutdown (DESIGN §10). On SIGTERM or SIGINT the HTTP server stops accepting and lets
//! in-flight requests finish (bounded by `SHUTDOWN_TIMEOUT`); then [`drain`] waits for the payment
//! actors' admitted work, flushes what buffers committed data, and closes the database pool. The
//! process then exits 0.
//!
//! Every acknowledged change is already committed when its reply is sent (group commit answers only
//! after COMMIT), so draining is about not cutting work mid-way, never about saving acknowledged
//! data.

use std::time::{Duration, Instant};

use payrail_core::actors::PaymentSupervisor;

use crate::audit_trail::AuditTrail;
use crate::store::Database;

/// Resolves with the signal's name on the first SIGTERM or SIGINT (Ctrl-C elsewhere).
pub async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                // Cannot listen for signals: run until killed.
                std::future::pending::<()>().await;
                "none"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "ctrl-c"
    }
}

/// After the server stopped: wait (at most `timeout`) for admitted payment work, flush, close.
pub async fn drain(supervisor: &PaymentSupervisor, audit: &AuditTrail, database: &Database, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while supervisor.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let abandoned = supervisor.in_flight();
    if abandoned > 0 {
        tracing::warn!(abandoned, "shutdown timeout reached with payment work in flight");
    }
    // Writers that buffer committed data flush before the pool closes.
    audit.flush().await;
    database.close().await;
    tracing::info!("shutdown complete");
}
