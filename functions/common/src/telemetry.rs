//! Logging setup: JSON lines in Lambda (CloudWatch Logs Insights reads the fields), filtered by
//! `RUST_LOG` (default `info`). No ANSI colours, no timestamps of our own (Lambda adds them).

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber; a second call does nothing.
pub fn init_json_logging() {
    let filter =
        EnvFilter::try_from_env(crate::config::ENV_LOG).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .try_init();
}
