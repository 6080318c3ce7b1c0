//! The app spawned on port 0, as a user runs it: embedded (SQLite store,
//! SQLite job engine, in-process worker), and against PostgreSQL + Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::TestApp;

/// `app healthcheck` against the app on `addr`, with settings that would
/// not start an app (the check reads APP_ADDR only): its exit, stderr.
fn healthcheck(addr: std::net::SocketAddr) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_app"))
        .arg("healthcheck")
        .env_clear()
        .env("APP_ADDR", format!("0.0.0.0:{}", addr.port()))
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn health_ready_and_metrics_answer(app: TestApp, embedded: bool) {
    assert_eq!(app.get("/health", None).await.status, 200);
    let r = app.get("/health/ready", None).await;
    let (code, body) = (r.status, r.body);
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains(r#""store":"ok""#) && body.contains(r#""broker":"ok""#),
        "{body}"
    );
    let metrics = app.get("/metrics", None).await.body;
    assert!(
        metrics.contains(
            r#"paqueteria_http_requests_total{method="GET",route="/health/ready",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("paqueteria_http_request_duration_seconds_bucket"));
    for process in [
        r#"paqueteria_build_info{revision="#,
        "process_cpu_seconds_total",
    ] {
        assert!(metrics.contains(process), "{process}:\n{metrics}");
    }
    // The all-in-one run serves its worker's and scheduler's metrics too;
    // with Redis, the worker and scheduler processes serve their own.
    for engine in [
        "paqueteria_worker_concurrency 4",
        r#"paqueteria_queue_depth{queue="sms",state="queued"}"#,
        "paqueteria_scheduler_is_leader",
    ] {
        assert_eq!(metrics.contains(engine), embedded, "{engine}:\n{metrics}");
    }
    assert_eq!(app.get("/no/such/route", None).await.status, 404);

    // Made-up methods are one label value, however many there are.
    for i in 0..300 {
        app.request(&format!("MADEUP{i}"), "/health", &[], "").await;
    }
    let grown = app.get("/metrics", None).await.body;
    assert!(!grown.contains("MADEUP"), "a made-up method became a label");
    assert!(grown.contains(r#"method="OTHER""#), "{grown}");
    assert!(
        grown.len() < metrics.len() + 4_000,
        "/metrics grew from {} to {} bytes",
        metrics.len(),
        grown.len()
    );
    let (ok, err) = healthcheck(app.addr);
    assert!(ok, "healthcheck of a ready app: {err}");
    let addr = app.addr;
    app.stop().await;
    let (ok, err) = healthcheck(addr);
    assert!(
        !ok && err.contains("unhealthy"),
        "a stopped app is healthy: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_app_serves_health_and_metrics_with_nothing_installed() {
    health_ready_and_metrics_answer(TestApp::spawn(&[]).await, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_on_postgresql_and_redis_serves_health_and_metrics() {
    fresh_database(|url| async move {
        let redis = std::env::var("TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
        let prefix = format!("test:app:{}", std::process::id());
        let app = TestApp::spawn(&[
            ("DATABASE_URL", url),
            ("REDIS_URL", redis),
            ("REDIS_PREFIX", prefix),
        ])
        .await;
        health_ready_and_metrics_answer(app, false).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_broker_is_unreachable() {
    let app = TestApp::spawn(&[("REDIS_URL", "redis://127.0.0.1:1/0".to_owned())]).await;
    let r = app.get("/health/ready", None).await;
    let (code, body) = (r.status, r.body);
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains(r#""broker":"unavailable""#) && body.contains(r#""store":"ok""#),
        "{body}"
    );
    assert_eq!(
        app.get("/health", None).await.status,
        200,
        "liveness does not depend on the broker"
    );
    let (ok, err) = healthcheck(app.addr);
    assert!(
        !ok && err.contains("503"),
        "an app that cannot reach its broker is healthy: {err}"
    );
    app.stop().await;
}

/// Runs `f` on the URL of a fresh PostgreSQL database, then drops it.
async fn fresh_database<F, Fut>(f: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let pg = paqueteria_testkit::PgDatabase::create().await;
    f(pg.url.clone()).await;
    pg.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_and_the_interactive_docs_are_served() {
    let app = TestApp::spawn(&[]).await;
    let doc = app.get("/openapi.json", None).await;
    assert_eq!(doc.status, 200);
    let v = doc.json();
    assert!(
        v["openapi"].as_str().is_some_and(|s| s.starts_with("3.")),
        "{}",
        doc.body
    );
    for path in [
        "/api/v1/parcels",
        "/api/v1/parcels/{id}/transition",
        "/api/v1/auth/token",
        "/api/v1/track/{code}",
    ] {
        assert!(
            v["paths"][path].is_object(),
            "{path} is missing from /openapi.json"
        );
    }
    assert_eq!(
        v["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"],
        "/api/v1/auth/token"
    );
    assert!(v["components"]["schemas"]["CreateParcel"].is_object());
    let docs = app.get("/docs/", None).await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.body.to_lowercase().contains("swagger"),
        "{}",
        docs.body
    );
    let asset = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(
        asset.status, 200,
        "the UI is served from the binary, not a CDN"
    );
    app.stop().await;
}

/// Every answer carries the security headers, whatever answered it (a
/// route, an auth refusal, no route at all, the docs); HSTS only when the
/// request came over HTTPS through a proxy that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn(&[]).await;
    for (path, status) in [
        ("/health", 200),
        ("/api/v1/parcels", 401),
        ("/no/such/route", 404),
        ("/docs/", 200),
    ] {
        let r = app.request("GET", path, &[], "").await;
        assert_eq!(r.status, status, "{path}");
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
        ] {
            assert_eq!(r.header(name).as_deref(), Some(value), "{name} on {path}");
        }
        assert_eq!(
            r.header("strict-transport-security"),
            None,
            "{path} over HTTP"
        );
    }
    let r = app
        .request("GET", "/health", &[("X-Forwarded-Proto", "https")], "")
        .await;
    assert_eq!(
        r.header("strict-transport-security").as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );
    app.stop().await;
}
