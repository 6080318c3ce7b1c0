//! Real `scheduler` processes on one Redis: the leader is SIGKILLed and the
//! standby takes over within the lease time, with no tick missed or doubled;
//! SIGTERM stops a scheduler cleanly; `scheduler healthcheck` tells a live
//! one from a killed one. Also `scheduler list` and `run-now`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use paqueteria_testkit::eventually;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use paqueteria_jobs::broker::redis::RedisBroker;
use paqueteria_jobs::broker::{BrokerConfig, JobId, SharedBroker};

const LEASE_S: u64 = 2;

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Node {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(prefix: &str, schedule: &std::path::Path) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_scheduler"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("REDIS_URL", redis_url())
        .env("REDIS_PREFIX", prefix)
        .env("DATA_DIR", dir.path())
        .env("SCHEDULE_FILE", schedule)
        .env("SCHEDULER_LEASE", format!("{LEASE_S}s"))
        .env("SCHEDULER_METRICS_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Node {
        child,
        port,
        _dir: dir,
    }
}

async fn get(port: u16, path: &str) -> Option<String> {
    paqueteria_testkit::http_get(("127.0.0.1", port), path)
        .await
        .map(|(_, body)| body)
}

/// `scheduler healthcheck` against the scheduler on `port`, with a broker
/// that cannot be reached (the check must not open one): its exit, stderr.
fn healthcheck(port: u16) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scheduler"))
        .arg("healthcheck")
        .env_clear()
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("SCHEDULER_METRICS_ADDR", format!("0.0.0.0:{port}"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn role(node: &Node) -> Option<String> {
    let body = get(node.port, "/health").await?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["role"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_within_the_lease_when_the_leader_is_killed() {
    let prefix = paqueteria_testkit::unique_prefix();
    let sched_dir = tempfile::tempdir().unwrap();
    let schedule = sched_dir.path().join("schedule.toml");
    std::fs::write(
        &schedule,
        "[[entry]]\nname = \"s\"\ncron = \"* * * * * *\"\njob = \"system.ping\"\ncatch_up = \"once\"\n",
    )
    .unwrap();
    let mut nodes = vec![spawn(&prefix, &schedule), spawn(&prefix, &schedule)];
    let leader = eventually(Duration::from_secs(20), "a single leader", || async {
        let mut roles = Vec::new();
        for n in &nodes {
            roles.push(role(n).await);
        }
        let leaders: Vec<usize> = (0..2)
            .filter(|i| roles[*i].as_deref() == Some("leader"))
            .collect();
        (roles.iter().all(Option::is_some) && leaders.len() == 1).then(|| leaders[0])
    })
    .await;
    let standby = 1 - leader;
    for n in &nodes {
        let (ok, err) = healthcheck(n.port);
        assert!(ok, "healthcheck of a running scheduler: {err}");
    }
    // Let it fire a few ticks.
    let metrics_has_ticks = async |n: &Node| {
        get(n.port, "/metrics")
            .await
            .is_some_and(|m| m.contains("paqueteria_scheduler_ticks_total{entry=\"s\"}"))
    };
    eventually(Duration::from_secs(10), "the leader to fire ticks", || {
        metrics_has_ticks(&nodes[leader])
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await; // a couple more ticks

    kill(
        Pid::from_raw(nodes[leader].child.id() as i32),
        Signal::SIGKILL,
    )
    .unwrap();
    let killed_at = Instant::now();
    let dead_port = nodes[leader].port;
    let _ = nodes[leader].child.wait();
    let (ok, err) = healthcheck(dead_port);
    assert!(
        !ok && err.contains("unhealthy"),
        "a killed scheduler is healthy: {err}"
    );
    // The lease runs out at most LEASE_S after the leader's last renewal;
    // the standby looks every fifth of a lease.
    let limit = Duration::from_secs(LEASE_S) + Duration::from_millis(1_000);
    loop {
        if role(&nodes[standby]).await.as_deref() == Some("leader") {
            break;
        }
        assert!(
            killed_at.elapsed() < limit,
            "no takeover after {:?}",
            killed_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = killed_at.elapsed();
    assert!(took <= limit, "takeover took {took:?}");
    // Let the new leader fire, then stop it with SIGTERM.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let survivor = nodes.remove(standby);
    kill(Pid::from_raw(survivor.child.id() as i32), Signal::SIGTERM).unwrap();
    let mut survivor = survivor;
    let status = survivor.child.wait().unwrap();
    assert!(status.success(), "SIGTERM exit: {status:?}");

    // Every second from the first tick to the last has exactly one job.
    let broker: SharedBroker =
        Arc::new(RedisBroker::connect(&redis_url(), &prefix, BrokerConfig::default()).unwrap());
    let now_s = chrono::Utc::now().timestamp();
    let mut present = Vec::new();
    for s in (now_s - 60)..=now_s {
        let t = chrono::DateTime::from_timestamp(s, 0).unwrap();
        let id = JobId::parse(format!("s:{}", t.format("%Y-%m-%dT%H:%M:%SZ"))).unwrap();
        if broker.job(&id).await.unwrap().is_some() {
            present.push(s);
        }
    }
    let (first, last) = (present[0], *present.last().unwrap());
    let gaps: Vec<i64> = (first..=last).filter(|s| !present.contains(s)).collect();
    assert!(
        gaps.is_empty(),
        "ticks missed across the failover: {gaps:?}"
    );
    assert!(last - first >= 4, "too few ticks: {present:?}");
    let stats = broker.stats(&["default".to_owned()]).await.unwrap();
    assert_eq!(stats[0].queued, present.len() as u64, "no duplicates");
}

#[test]
fn list_shows_each_entry_with_its_next_runs_and_run_now_enqueues() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scheduler"))
        .arg("list")
        .env_clear()
        .env("DATA_DIR", dir.path())
        .env("SCHEDULER_TZ", "America/Bogota")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "cleanup-reports",
        "cleanup-tmp",
        "refresh-dashboard",
        "pickup-reminders",
        "expire-registrations",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    assert_eq!(text.matches("    next  ").count(), 15, "{text}");
    assert!(text.contains("-05"), "local Bogota times:\n{text}");

    let out = Command::new(env!("CARGO_BIN_EXE_scheduler"))
        .args(["run-now", "refresh-dashboard"])
        .env_clear()
        .env("DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap();
    assert!(id.starts_with("refresh-dashboard:manual:"), "{id}");

    let out = Command::new(env!("CARGO_BIN_EXE_scheduler"))
        .args(["run-now", "nope"])
        .env_clear()
        .env("DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no entry \"nope\""));
}

#[test]
fn a_bad_schedule_stops_start_up_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        "[[entry]]\nname = \"nightly\"\ncron = \"0 25 * * *\"\njob = \"system.ping\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scheduler"))
        .env_clear()
        .env("DATA_DIR", dir.path())
        .env("SCHEDULE_FILE", &file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("entry \"nightly\""), "{err}");
}
