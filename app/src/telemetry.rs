//! HTTP metrics (DESIGN.md §8): `paqueteria_http_requests_total` and
//! `paqueteria_http_request_duration_seconds`, labelled by `method`, `route`
//! (the route template, never the raw path, so ids do not explode the label
//! set) and `status`; sign-ins by outcome; the notification outbox's
//! backlog, read from the store at scrape time.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The app's metrics, on their own registry.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    sign_ins: IntCounterVec,
    outbox_pending: IntGaugeVec,
    outbox_oldest: GaugeVec,
}

/// How a sign-in attempt ended (`paqueteria_auth_sign_ins_total{outcome}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// The password was right.
    Succeeded,
    /// Wrong email or password, or an inactive account.
    Failed,
    /// Refused before checking: too many failures for the user or address.
    Throttled,
}

impl SignIn {
    const ALL: [Self; 3] = [Self::Succeeded, Self::Failed, Self::Throttled];

    fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Throttled => "throttled",
        }
    }
}

const LABELS: &[&str] = &["method", "route", "status"];

impl HttpMetrics {
    /// Creates and registers the metrics.
    #[expect(
        clippy::expect_used,
        reason = "static metric definitions; a clash is a bug found at start-up"
    )]
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests served.").namespace("paqueteria"),
            LABELS,
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to serve a request.")
                .namespace("paqueteria")
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
            LABELS,
        )
        .expect("valid metric");
        let sign_ins = IntCounterVec::new(
            Opts::new("auth_sign_ins_total", "Sign-in attempts, by outcome.")
                .namespace("paqueteria"),
            &["outcome"],
        )
        .expect("valid metric");
        for outcome in SignIn::ALL {
            sign_ins.with_label_values(&[outcome.label()]).inc_by(0);
        }
        let outbox_pending = IntGaugeVec::new(
            Opts::new(
                "outbox_pending",
                "Notifications committed but not yet enqueued, by channel.",
            )
            .namespace("paqueteria"),
            &["channel"],
        )
        .expect("valid metric");
        let outbox_oldest = GaugeVec::new(
            Opts::new(
                "outbox_oldest_age_seconds",
                "Age of the oldest notification not yet enqueued (0 when none).",
            )
            .namespace("paqueteria"),
            &["channel"],
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(sign_ins.clone()),
            Box::new(outbox_pending.clone()),
            Box::new(outbox_oldest.clone()),
        ] {
            registry.register(c).expect("unique metric");
        }
        Self {
            registry,
            requests,
            duration,
            sign_ins,
            outbox_pending,
            outbox_oldest,
        }
    }

    /// Counts one sign-in attempt.
    pub fn sign_in(&self, outcome: SignIn) {
        self.sign_ins.with_label_values(&[outcome.label()]).inc();
    }

    /// Copies the outbox backlog read from the store into its gauges.
    pub fn set_outbox(&self, backlog: &[paqueteria_core::store::OutboxBacklog]) {
        for b in backlog {
            self.outbox_pending
                .with_label_values(&[b.channel])
                .set(b.pending);
            self.outbox_oldest
                .with_label_values(&[b.channel])
                .set(b.oldest_age_s);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "could not encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The `method` label: a method the routes serve, or `OTHER`, so made-up
/// method names cannot grow `/metrics` without bound.
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Middleware that counts and times every request by its route template.
pub async fn track(State(m): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method()).to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let labels = [method.as_str(), route.as_str(), status.as_str()];
    m.requests.with_label_values(&labels).inc();
    m.duration
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
    res
}
