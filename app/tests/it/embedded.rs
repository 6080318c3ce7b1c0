//! The all-in-one run holds the scheduler too: its state file appears under
//! DATA_DIR with the built-in entries, and it holds the lead, so a second
//! scheduler on the same data directory stands by. Its worker pool is a
//! live worker like any other (`GET /api/v1/workers`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::common::TestApp;
use paqueteria_jobs::scheduler::{FileLock, Leadership};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_app_runs_the_scheduler_in_process() {
    let app = TestApp::spawn(&[]).await;
    let state = app.data_dir.join("scheduler-state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for entry in [
        "cleanup-reports",
        "cleanup-tmp",
        "refresh-dashboard",
        "pickup-reminders",
        "expire-registrations",
    ] {
        assert!(
            v["entries"][entry]["last_tick_ms"].is_i64(),
            "{entry}: {text}"
        );
    }
    // The in-process scheduler takes the lock as soon as it runs.
    let mut other = Leadership::File(FileLock::new(
        app.data_dir.join("scheduler-state.json.lock"),
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut held_elsewhere = false;
    while Instant::now() < deadline {
        if other.hold(0).await {
            other.release().await;
        } else {
            held_elsewhere = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(held_elsewhere, "the app's scheduler never took the lead");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_worker_is_listed_among_the_live_workers() {
    let (app, _) = crate::common::app_with_staff().await;
    let admin = crate::common::token(&app, "admin@example.com").await;
    let me = std::process::id();
    let worker = paqueteria_testkit::eventually(
        Duration::from_secs(10),
        "the in-process worker to register",
        || async {
            let r = app.get("/api/v1/workers", Some(&admin)).await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()
                .as_array()
                .unwrap()
                .iter()
                .find(|w| w["pid"] == serde_json::json!(me))
                .cloned()
        },
    )
    .await;
    assert_eq!(worker["concurrency"], 4, "{worker}");
    let queues: Vec<&str> = worker["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_str().unwrap())
        .collect();
    for q in ["reports", "sms", "files", "maintenance", "default"] {
        assert!(queues.contains(&q), "{q} missing: {worker}");
    }
    assert!(worker["hostname"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(worker["last_seen_ms"].as_i64() >= worker["started_at_ms"].as_i64());
    // Operators and couriers do not watch the workers.
    for who in ["operator@example.com", "courier@example.com"] {
        let t = crate::common::token(&app, who).await;
        assert_eq!(app.get("/api/v1/workers", Some(&t)).await.status, 403);
    }
    assert_eq!(app.get("/api/v1/workers", None).await.status, 401);
    app.stop().await;
}
