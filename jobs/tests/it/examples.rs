//! The examples as a user runs them, on the embedded engine: a producer
//! process enqueues, a worker process runs the job and stops gracefully on
//! SIGTERM; the cron example greets on its schedule. `cargo test` builds the
//! examples next to the test binaries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test` (which builds the examples)",
        path.display()
    );
    path
}

/// A running example whose stdout lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(name: &str, db: &Path, dir: &Path) -> Self {
        let mut child = Command::new(example(name))
            .env("JOBS_URL", db)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line, within 30 s.
    fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a line within 30 s")
    }

    /// SIGTERM, then the exit status within 30 s.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("the example did not stop within 30 s of SIGTERM");
    }
}

#[test]
fn a_producer_enqueues_and_a_worker_in_another_process_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.sqlite3");
    let out = Command::new(example("producer"))
        .args(["Ana", "Luis"])
        .env("JOBS_URL", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");

    let worker = Running::start("worker", &db, dir.path());
    let mut greeted = vec![worker.line(), worker.line()];
    greeted.sort();
    assert!(greeted[0].starts_with("¡Hola, Ana!"), "{greeted:?}");
    assert!(greeted[1].starts_with("¡Hola, Luis!"), "{greeted:?}");
    for id in &ids {
        assert!(
            greeted.iter().any(|l| l.contains(id)),
            "{id} in {greeted:?}"
        );
    }
    assert!(worker.stop().success(), "a graceful stop exits 0");
}

#[test]
fn the_cron_example_greets_on_its_schedule_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.sqlite3");
    let cron = Running::start("cron", &db, dir.path());
    let first = cron.line();
    let second = cron.line();
    for line in [&first, &second] {
        assert!(line.starts_with("¡Hola, mundo, hoy es 20"), "{line}");
        assert!(line.contains("greet-the-world:"), "the tick's id: {line}");
    }
    assert_ne!(first, second, "two ticks, two jobs");
    assert!(cron.stop().success());
    assert!(dir.path().join("cron-state.json").exists());
}
