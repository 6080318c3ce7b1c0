//! The all-in-one run holds the scheduler too: its state file appears under
//! DATA_DIR with the built-in entries, and it holds the lead, so a second
//! scheduler on the same data directory stands by.

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
