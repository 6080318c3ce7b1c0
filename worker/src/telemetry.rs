//! Logging set-up shared by the worker's commands.

/// Logs to stderr, filtered by `RUST_LOG` (default `info`); JSON lines when
/// `LOG_FORMAT=json`.
pub fn init() {
    paqueteria_core::telemetry::init("info,apalis_core=warn");
}
