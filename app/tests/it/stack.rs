//! The production topology in a test: the app on PostgreSQL and Redis
//! (it only enqueues), and the jobs run by a separate `worker` process on
//! the same database, Redis and files. Each stack has its own database and
//! its own Redis key prefix, so stacks run side by side.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{TestApp, app_with_staff_and, token};

/// An app, its database and its separate worker process.
pub struct Stack {
    pub app: TestApp,
    pub branches: Vec<i64>,
    pg: paqueteria_testkit::PgDatabase,
    worker: tokio::process::Child,
}

/// The `worker` binary of this build: next to the test binary's folder
/// (`target/debug/deps/it-…` → `target/debug/worker`). `cargo test
/// --workspace` (the README's test command) builds it.
fn worker_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = debug.join(format!("worker{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (scripts/test), which builds it",
        bin.display()
    );
    bin
}

impl Stack {
    /// A new stack with the staff of `app_with_staff`; returns once its
    /// worker is listed among the live workers.
    pub async fn start() -> Self {
        let pg = paqueteria_testkit::PgDatabase::create().await;
        let prefix = format!("uistack{}", uuid::Uuid::new_v4().simple());
        let vars = vec![
            ("DATABASE_URL", pg.url.clone()),
            ("REDIS_URL", paqueteria_testkit::redis_url()),
            ("REDIS_PREFIX", prefix),
            (
                "APP_SECRET_KEY",
                paqueteria_testkit::TEST_SECRET_KEY.to_owned(),
            ),
        ];
        let (app, branches) = app_with_staff_and(&vars).await;
        let mut cmd = tokio::process::Command::new(worker_binary());
        cmd.args(["--metrics-addr", "127.0.0.1:0", "-c", "4"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATA_DIR", &app.data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in &vars {
            cmd.env(k, v);
        }
        let worker = cmd.spawn().expect("the worker starts");
        let stack = Self {
            app,
            branches,
            pg,
            worker,
        };
        stack.wait_for_the_worker().await;
        stack
    }

    /// Waits (at most a minute) until the worker process is registered.
    async fn wait_for_the_worker(&self) {
        let admin = token(&self.app, "admin@example.com").await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.app.get("/api/v1/workers", Some(&admin)).await;
            if r.status == 200 && r.json().as_array().is_some_and(|w| !w.is_empty()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the worker never registered: {}",
                r.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the worker and the app, and drops the database.
    pub async fn stop(mut self) {
        let _ = self.worker.start_kill();
        let _ = self.worker.wait().await;
        self.app.stop().await;
        self.pg.drop_now().await;
    }
}
