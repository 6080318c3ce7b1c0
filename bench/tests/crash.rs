//! Crash and fault tests of real worker processes (`bench-worker`: the real
//! runtime and broker, with jobs that record every run in Redis).
//!
//! Each test starts its own `redis-server` on a free port (append-only file
//! on, where a restart is part of the test) and never touches the machine's
//! shared Redis. Waits are bounded polls on a condition.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;

struct TestRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl TestRedis {
    /// A Redis of this test's own. The port is free when it is picked but
    /// another test may pick it too before either server binds it, so the
    /// server that answers must be ours (its working directory is this
    /// test's); if it is not, or ours could not bind, try another port.
    fn start() -> Self {
        for _ in 0..20 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut r = Self {
                port,
                dir: tempfile::tempdir().unwrap(),
                child: None,
            };
            if r.try_spawn() {
                return r;
            }
        }
        panic!("no free port for redis-server after 20 tries");
    }

    /// Starts (or restarts, on the same port and directory) this test's
    /// Redis; panics if the port was taken meanwhile.
    fn spawn(&mut self) {
        assert!(
            self.try_spawn(),
            "port {} was taken while Redis was down",
            self.port
        );
    }

    fn try_spawn(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let ours = self.dir.path().canonicalize().unwrap();
        let answered = wait_for(Duration::from_secs(10), "redis to answer", || {
            if child.try_wait().unwrap().is_some() {
                return Some(None);
            }
            let mut c = self.conn()?;
            let dir: Vec<String> = redis::cmd("CONFIG")
                .arg(&["GET", "dir"][..])
                .query(&mut c)
                .ok()?;
            Some(dir.get(1).map(PathBuf::from))
        });
        if answered.as_deref() == Some(ours.as_path()) {
            self.child = Some(child);
            true
        } else {
            let _ = child.kill();
            let _ = child.wait();
            false
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn conn(&self) -> Option<redis::Connection> {
        redis::Client::open(self.url()).ok()?.get_connection().ok()
    }

    /// Stops Redis; the append-only file keeps every job for [`Self::spawn`]
    /// on the same port and directory.
    fn stop(&mut self) {
        if let Some(mut c) = self.conn() {
            let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut c);
        }
        if let Some(mut child) = self.child.take() {
            child.wait().unwrap();
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Bench {
    url: String,
    prefix: String,
}

impl Bench {
    fn new(redis: &TestRedis, name: &str) -> Self {
        Self {
            url: redis.url(),
            prefix: format!("crash:{name}"),
        }
    }

    fn cmd(&self, bin: &str) -> Command {
        let mut c = Command::new(bin);
        c.env("BENCH_REDIS_URL", &self.url)
            .env("BENCH_PREFIX", &self.prefix)
            .env("BENCH_QUEUE", "default")
            .env("RUST_LOG", "warn");
        c
    }

    fn enqueue(&self, kind: &str, count: u64, ms: u64, batch: Option<u64>) {
        let mut c = self.cmd(env!("CARGO_BIN_EXE_bench-enqueue"));
        c.args([
            "--kind",
            kind,
            "--count",
            &count.to_string(),
            "--ms",
            &ms.to_string(),
        ]);
        if let Some(b) = batch {
            c.args(["--batch", &b.to_string()]);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "bench-enqueue failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A worker in its own process group, its log in a file.
    fn worker(&self, log: &PathBuf) -> Child {
        let mut c = self.cmd(env!("CARGO_BIN_EXE_bench-worker"));
        c.args(["--queues", "default", "--concurrency", "4"])
            .process_group(0)
            .stderr(std::fs::File::create(log).unwrap());
        c.spawn().unwrap()
    }

    fn runs(&self, conn: &mut redis::Connection) -> std::collections::HashMap<i64, u64> {
        redis::cmd("HGETALL")
            .arg(format!("{}:runs", self.prefix))
            .query(conn)
            .unwrap_or_default()
    }

    fn done(&self, conn: &mut redis::Connection) -> u64 {
        redis::cmd("HLEN")
            .arg(format!("{}:runs", self.prefix))
            .query(conn)
            .unwrap_or(0)
    }
}

fn kill_group(child: &mut Child, sig: Signal) {
    killpg(Pid::from_raw(i32::try_from(child.id()).unwrap()), sig).unwrap();
}

#[test]
fn sigkill_mid_run_loses_no_job_and_the_jobs_run_again_on_the_next_worker() {
    let redis = TestRedis::start();
    let bench = Bench::new(&redis, "sigkill");
    let n = 2000;
    bench.enqueue("sleep_ms", n, 5, Some(500));
    let dir = tempfile::tempdir().unwrap();
    let mut first = bench.worker(&dir.path().join("first.log"));
    let mut conn = redis.conn().unwrap();
    wait_for(Duration::from_secs(60), "some jobs to run", || {
        (bench.done(&mut conn) >= 200).then_some(())
    });
    kill_group(&mut first, Signal::SIGKILL);
    first.wait().unwrap();
    let at_kill = bench.done(&mut conn);
    assert!(at_kill < n, "the kill came too late to test anything");

    let mut second = bench.worker(&dir.path().join("second.log"));
    wait_for(Duration::from_secs(90), "every job to run", || {
        (bench.done(&mut conn) == n).then_some(())
    });
    let runs = bench.runs(&mut conn);
    let missing: Vec<i64> = (0..i64::try_from(n).unwrap())
        .filter(|s| !runs.contains_key(s))
        .collect();
    assert!(missing.is_empty(), "lost jobs: {missing:?}");
    let dupes = runs.values().filter(|&&r| r > 1).count();
    assert!(
        dupes <= 4,
        "{dupes} jobs ran twice; only the 4 running at the kill may"
    );
    kill_group(&mut second, Signal::SIGTERM);
    assert!(second.wait().unwrap().success(), "SIGTERM exits 0");
}

#[test]
fn a_redis_restart_and_killed_connections_leave_the_worker_running_and_every_job_done() {
    let mut redis = TestRedis::start();
    let bench = Bench::new(&redis, "faults");
    let n = 3000;
    bench.enqueue("sleep_ms", n, 2, Some(500));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("worker.log");
    let mut worker = bench.worker(&log);
    let mut conn = redis.conn().unwrap();
    wait_for(Duration::from_secs(60), "some jobs to run", || {
        (bench.done(&mut conn) >= 200).then_some(())
    });
    for _ in 0..5 {
        let before = bench.done(&mut conn);
        let _: redis::RedisResult<i64> = redis::cmd("CLIENT")
            .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"][..])
            .query(&mut conn);
        wait_for(
            Duration::from_secs(30),
            "progress after CLIENT KILL",
            || (bench.done(&mut conn) > before + 20).then_some(()),
        );
    }
    // A restart quick enough for the connection's own reconnect to absorb
    // goes unnoticed, so Redis stays down until the worker has reported the
    // outage: an operator must see one that lasts.
    redis.stop();
    wait_for(
        Duration::from_secs(30),
        "the worker to report Redis down",
        || {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|t| t.contains("broker unavailable; retrying"))
        },
    );
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker exited while Redis was down"
    );
    redis.spawn();
    let mut conn = redis.conn().unwrap();
    wait_for(Duration::from_secs(120), "every job to run", || {
        (bench.done(&mut conn) == n).then_some(())
    });
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker must still run"
    );
    kill_group(&mut worker, Signal::SIGTERM);
    assert!(worker.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let outages = text
        .lines()
        .filter(|l| l.contains("broker unavailable; retrying"))
        .count();
    assert!(
        (1..=6).contains(&outages),
        "6 outages (5 killed connections, 1 restart) must log 1 to 6 warnings, got {outages}\n{text}"
    );
}

#[test]
fn a_backlog_of_100k_jobs_enqueued_before_any_worker_drains_completely() {
    let redis = TestRedis::start();
    let bench = Bench::new(&redis, "backlog");
    let n = 100_000;
    bench.enqueue("noop", n, 0, Some(1000));
    let dir = tempfile::tempdir().unwrap();
    let mut worker = bench.worker(&dir.path().join("worker.log"));
    let mut conn = redis.conn().unwrap();
    wait_for(Duration::from_secs(300), "the backlog to drain", || {
        (bench.done(&mut conn) == n).then_some(())
    });
    kill_group(&mut worker, Signal::SIGTERM);
    assert!(worker.wait().unwrap().success());
    let runs = bench.runs(&mut conn);
    assert_eq!(
        runs.values().filter(|&&r| r > 1).count(),
        0,
        "no job ran twice"
    );
}

#[test]
fn sigterm_lets_running_jobs_finish_and_exits_0() {
    let redis = TestRedis::start();
    let bench = Bench::new(&redis, "sigterm");
    bench.enqueue("sleep_ms", 4, 700, None);
    let dir = tempfile::tempdir().unwrap();
    let mut worker = bench.worker(&dir.path().join("worker.log"));
    let mut conn = redis.conn().unwrap();
    let wait_key = format!("{}:wait", bench.prefix);
    // `wait` is written after the body, so poll the broker's running count.
    let running_key = "crash:sigterm:broker:{default}:run";
    wait_for(Duration::from_secs(30), "4 jobs to be running", || {
        let n: u64 = redis::cmd("ZCARD")
            .arg(running_key)
            .query(&mut conn)
            .unwrap_or(0);
        (n == 4).then_some(())
    });
    kill_group(&mut worker, Signal::SIGTERM);
    assert!(worker.wait().unwrap().success(), "exit 0 after SIGTERM");
    let waits: u64 = redis::cmd("HLEN").arg(&wait_key).query(&mut conn).unwrap();
    assert_eq!(waits, 4, "the running jobs finished before the exit");
}
