//! The worker's `/metrics` and `/health` over HTTP, as Prometheus and a
//! container health check read them, and `worker healthcheck`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use paqueteria_jobs::{
    BrokerConfig, EngineConfig, Handlers, JobError, Metrics, NewJob, QueueSpec, Runtime,
    RuntimeConfig, connect,
};
use paqueteria_testkit::job_ended;
use paqueteria_worker::http::MetricsServer;

/// `worker healthcheck` against `addr`, with a broker that cannot be
/// reached (the check must not open one): its exit, stderr.
fn healthcheck(addr: std::net::SocketAddr) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_worker"))
        .arg("healthcheck")
        .env_clear()
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("WORKER_METRICS_ADDR", addr.to_string())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let (status, body) = paqueteria_testkit::http_get(addr, path).await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_are_served_with_the_queue_gauges_read_at_scrape_time() {
    let dir = tempfile::tempdir().unwrap();
    let broker = connect(
        &EngineConfig::sqlite(dir.path().join("jobs.sqlite3")),
        BrokerConfig::default(),
    )
    .await
    .unwrap();
    let metrics = Metrics::new();
    let mut h = Handlers::new();
    h.register_raw("rejected", |_c, _p| async { Err(JobError::abort("no")) });
    let runtime = Runtime::build(
        RuntimeConfig {
            queues: vec![QueueSpec::new("default")],
            ..RuntimeConfig::default()
        },
        broker.clone(),
        h,
        metrics.clone(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(runtime.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let id = broker
        .enqueue(NewJob::new("rejected", "default", "{}"))
        .await
        .unwrap()
        .id;
    job_ended(&broker, &id, Duration::from_secs(20)).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = MetricsServer::build(
        listener,
        broker.clone(),
        metrics,
        vec!["default".to_owned()],
    );
    let addr = server.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until_stopped(async move {
        let _ = rx.await;
    }));
    let body = http_get(addr, "/metrics").await;
    for want in [
        r#"paqueteria_jobs_finished_total{job="rejected",outcome="dead",queue="default"} 1"#,
        r#"paqueteria_queue_depth{queue="default",state="dead"} 1"#,
        "paqueteria_worker_up 1",
        "paqueteria_workers_live 1",
        r#"paqueteria_build_info{revision="#,
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(body.contains(want), "/metrics lacks {want}\n{body}");
    }
    let health = http_get(addr, "/health").await;
    assert!(
        health.contains(r#""broker":"ok""#) && health.contains(r#""engine":"sqlite""#),
        "{health}"
    );
    let (ok, err) = healthcheck(addr);
    assert!(ok, "healthcheck of a serving worker: {err}");
    let _ = tx.send(());
    serving.await.unwrap().unwrap();
    let (ok, err) = healthcheck(addr);
    assert!(
        !ok && err.contains("unhealthy"),
        "a stopped worker is healthy: {err}"
    );
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
}
