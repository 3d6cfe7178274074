//! Captured log output: one global `tracing` subscriber for the test binary, writing the same JSON
//! lines production writes (with the request span) into memory, so tests can search what payrail
//! logged — for a request id that must be there, or card data that must not.

use std::io::Write;
use std::sync::{Mutex, Once, OnceLock};

static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
static INSTALL: Once = Once::new();

fn buffer() -> &'static Mutex<Vec<u8>> {
    LOGS.get_or_init(|| Mutex::new(Vec::new()))
}

struct Capture;

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        buffer()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (debug level for payrail) once per test binary.
pub fn install() {
    INSTALL.call_once(|| {
        // payrail's own production subscriber, so tests see exactly the lines operators read.
        let settings = payrail::config::LogSettings {
            level: "info,payrail=debug,payrail_core=debug".into(),
            format: payrail::config::LogFormat::Json,
        };
        let _ = tracing::subscriber::set_global_default(payrail::telemetry::subscriber(&settings, || Capture));
    });
}

/// Everything logged so far by every test in this binary.
pub fn captured() -> String {
    String::from_utf8_lossy(&buffer().lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}
