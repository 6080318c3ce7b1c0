//! The app spawned on port 0, as a user runs it: embedded (SQLite store,
//! SQLite job engine, in-process worker), and against PostgreSQL + Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;

use paqueteria_app::startup::Application;
use paqueteria_core::settings::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct TestApp {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    async fn spawn(vars: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        env.insert("DATA_DIR".to_owned(), dir.path().display().to_string());
        let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = Application::build(&settings, listener).await.unwrap();
        let addr = app.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            stop: Some(tx),
            done,
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).await.unwrap();
        let status = buf
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = buf
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().map(|tx| tx.send(()));
        self.done.await.unwrap().unwrap();
    }
}

async fn health_ready_and_metrics_answer(app: TestApp) {
    assert_eq!(app.get("/health").await.0, 200);
    let (code, body) = app.get("/health/ready").await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains(r#""store":"ok""#) && body.contains(r#""broker":"ok""#),
        "{body}"
    );
    let (_, metrics) = app.get("/metrics").await;
    assert!(
        metrics.contains(
            r#"paqueteria_http_requests_total{method="GET",route="/health/ready",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("paqueteria_http_request_duration_seconds_bucket"));
    assert_eq!(app.get("/no/such/route").await.0, 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_app_serves_health_and_metrics_with_nothing_installed() {
    health_ready_and_metrics_answer(TestApp::spawn(&[]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_on_postgresql_and_redis_serves_health_and_metrics() {
    sqlx_free_database(|url| async move {
        let redis = std::env::var("TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
        let prefix = format!("test:app:{}", std::process::id());
        let app = TestApp::spawn(&[
            ("DATABASE_URL", url),
            ("REDIS_URL", redis),
            ("REDIS_PREFIX", prefix),
        ])
        .await;
        health_ready_and_metrics_answer(app).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_broker_is_unreachable() {
    let app = TestApp::spawn(&[("REDIS_URL", "redis://127.0.0.1:1/0".to_owned())]).await;
    let (code, body) = app.get("/health/ready").await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains(r#""broker":"unavailable""#) && body.contains(r#""store":"ok""#),
        "{body}"
    );
    assert_eq!(
        app.get("/health").await.0,
        200,
        "liveness does not depend on the broker"
    );
    app.stop().await;
}

/// Runs `f` with the URL of a fresh PostgreSQL database, dropped after.
async fn sqlx_free_database<F, Fut>(f: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("paq_test_app_{}", std::process::id());
    let psql = |sql: String| {
        let admin = admin.clone();
        async move {
            let out = tokio::process::Command::new("psql")
                .args([admin.as_str(), "-Atqc", sql.as_str()])
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    psql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    psql(format!("CREATE DATABASE {name}")).await;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
    f(format!("{base}/{name}")).await;
    psql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}
