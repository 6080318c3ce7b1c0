//! Logging set-up shared by every binary.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// This binary's build info and process metrics (one per process), for
/// every `/metrics`: the version of the workspace and the revision given
/// at build time in `PAQUETERIA_REVISION` (the image's build argument).
pub fn process_metrics() -> &'static paqueteria_jobs::ProcessMetrics {
    static METRICS: std::sync::OnceLock<paqueteria_jobs::ProcessMetrics> =
        std::sync::OnceLock::new();
    METRICS.get_or_init(|| {
        paqueteria_jobs::ProcessMetrics::new(
            "paqueteria",
            env!("CARGO_PKG_VERSION"),
            option_env!("PAQUETERIA_REVISION").unwrap_or("unknown"),
        )
    })
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Plain text; coloured only on a terminal.
    Text,
}

impl LogFormat {
    /// `LOG_FORMAT`: `json` or `text` (the default when unset or empty).
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        match raw.map(str::trim) {
            None | Some("" | "text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(format!("LOG_FORMAT={other:?}: expected json or text")),
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`, and `warn` for
/// apalis-core's own chatter), in the `LOG_FORMAT` asked for; colour codes
/// only when stderr is a terminal. A second call does nothing. An unknown
/// `LOG_FORMAT` is refused, naming the variable.
pub fn init() -> Result<(), String> {
    let format = LogFormat::parse(std::env::var("LOG_FORMAT").ok().as_deref())?;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,apalis_core=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    Ok(())
}

/// [`init`] for a binary's `main`: on a bad `LOG_FORMAT`, the error and
/// exit code 2 (as every other invalid setting).
pub fn init_or_exit() -> Option<std::process::ExitCode> {
    match init() {
        Ok(()) => None,
        Err(e) => {
            eprintln!("error: invalid setting {e}");
            Some(std::process::ExitCode::from(2))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn log_format_is_json_or_text() {
        assert_eq!(LogFormat::parse(None), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("")), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("json")), Ok(LogFormat::Json));
        let e = LogFormat::parse(Some("JSON ")).unwrap_err();
        assert!(e.starts_with("LOG_FORMAT=\"JSON\""), "{e}");
    }
}
