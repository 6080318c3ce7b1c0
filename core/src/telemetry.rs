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

/// The count of jobs this process enqueues (one per process): every
/// broker [`crate::settings::Settings::connect_broker`] opens counts into it.
pub fn enqueue_metrics() -> &'static paqueteria_jobs::EnqueueMetrics {
    static METRICS: std::sync::OnceLock<paqueteria_jobs::EnqueueMetrics> =
        std::sync::OnceLock::new();
    METRICS.get_or_init(|| paqueteria_jobs::EnqueueMetrics::new("paqueteria"))
}

/// What every binary adds to its `/metrics`: build info, process metrics,
/// the jobs it enqueued and, where it runs the send jobs, the
/// notifications they sent.
pub fn render_process_metrics() -> String {
    process_metrics().render() + &enqueue_metrics().render() + &notification_metrics().render()
}

/// How one send attempt of a notification ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Accepted by the SMS gateway or the SMTP server.
    Sent,
    /// Failed; the job will retry.
    Failed,
    /// Refused for good; the job goes to the dead set.
    Rejected,
    /// Not sent: an earlier attempt already sent it.
    Duplicate,
    /// Not sent: an earlier attempt stopped during the send, so it may
    /// have gone out.
    Unknown,
    /// Kept in the local outbox: no gateway or server is configured.
    Outboxed,
}

impl Sent {
    const ALL: [Self; 6] = [
        Self::Sent,
        Self::Failed,
        Self::Rejected,
        Self::Duplicate,
        Self::Unknown,
        Self::Outboxed,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Duplicate => "duplicate",
            Self::Unknown => "unknown",
            Self::Outboxed => "outboxed",
        }
    }
}

/// `paqueteria_notifications_total{channel,outcome}`: one per send attempt
/// of an SMS or an email.
#[derive(Clone, Debug)]
pub struct NotificationMetrics {
    registry: prometheus::Registry,
    total: prometheus::IntCounterVec,
}

/// The process's notification counter; empty on `/metrics` until
/// [`NotificationMetrics::init`] (the send jobs' set-up) or a send.
pub fn notification_metrics() -> &'static NotificationMetrics {
    static METRICS: std::sync::OnceLock<NotificationMetrics> = std::sync::OnceLock::new();
    #[expect(
        clippy::expect_used,
        reason = "a static metric definition; a clash is a bug found at start-up"
    )]
    METRICS.get_or_init(|| {
        let registry = prometheus::Registry::new();
        let total = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "notifications_total",
                "Send attempts of SMS and email notifications, by channel and outcome.",
            )
            .namespace("paqueteria"),
            &["channel", "outcome"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(total.clone()))
            .expect("unique metric");
        NotificationMetrics { registry, total }
    })
}

impl NotificationMetrics {
    /// Shows every channel and outcome at 0, so the panels have series
    /// before the first send.
    pub fn init(&self) {
        for channel in ["sms", "email"] {
            for outcome in Sent::ALL {
                self.total
                    .with_label_values(&[channel, outcome.label()])
                    .inc_by(0);
            }
        }
    }

    /// Counts one attempt on `channel` (`sms` or `email`).
    pub fn count(&self, channel: &'static str, outcome: Sent) {
        self.total
            .with_label_values(&[channel, outcome.label()])
            .inc();
    }

    /// Attempts counted so far.
    pub fn get(&self, channel: &str, outcome: Sent) -> u64 {
        self.total
            .with_label_values(&[channel, outcome.label()])
            .get()
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        use prometheus::Encoder as _;
        let mut buf = Vec::new();
        if let Err(e) = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "could not encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
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
