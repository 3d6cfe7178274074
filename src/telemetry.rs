//! Logging: `tracing` with JSON lines (or human-readable output in development when asked).
//! Nothing logged carries card data: the types that hold it do not print it.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber, writing to stdout. Safe to call more than once (later calls
/// are ignored).
pub fn init(settings: &LogSettings) {
    let _ = tracing::subscriber::set_global_default(subscriber(settings, std::io::stdout));
}

/// The subscriber `init` installs, writing to `writer`: tests capture the exact production lines.
pub fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match settings.format {
        LogFormat::Json => Box::new(builder.json().flatten_event(true).with_current_span(true).finish()),
        LogFormat::Pretty => Box::new(builder.finish()),
    }
}
