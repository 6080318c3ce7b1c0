//! `scripts/stack`: the production topology without Docker starts on
//! loopback, Prometheus (with the repo's config, its targets rewritten)
//! scrapes every part of it, and `stop` leaves no process behind.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::root;

/// Stops the stack in `dir` when dropped, so a failed test leaves nothing
/// running.
struct Stack<'a>(&'a Path);

impl Stack<'_> {
    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(root().join("scripts/stack"))
            .args(args)
            .env("STACK_DIR", self.0)
            .current_dir(root())
            .output()
            .unwrap()
    }

    fn env(&self, key: &str) -> String {
        let text = std::fs::read_to_string(self.0.join("stack.env")).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} not in stack.env:\n{text}"))
            .trim_matches('"')
            .to_owned()
    }
}

impl Drop for Stack<'_> {
    fn drop(&mut self) {
        let _ = self.run(&["stop"]);
    }
}

fn get(url: &str) -> Option<serde_json::Value> {
    let out = Command::new("curl").args(["-fsS", url]).output().ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

#[test]
fn the_topology_starts_prometheus_scrapes_every_part_and_stop_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let stack_dir = dir.path().join("stack");
    let stack = Stack(&stack_dir);
    let out = stack.run(&["start"]);
    assert!(
        out.status.success(),
        "scripts/stack start: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let pids: Vec<String> = std::fs::read_dir(stack_dir.join("pids"))
        .unwrap()
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect();
    assert_eq!(
        pids.len(),
        10,
        "redis, app, 2 workers, 2 schedulers, 3 exporters, prometheus"
    );

    // Every scrape job the dashboards use has its targets up: two workers
    // and two schedulers, the rest one each.
    let prometheus = stack.env("STACK_PROMETHEUS_URL");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    loop {
        if let Some(t) = get(&format!("{prometheus}/api/v1/targets")) {
            let mut up: Vec<String> = t["data"]["activeTargets"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["health"] == "up")
                .map(|t| t["labels"]["job"].as_str().unwrap().to_owned())
                .collect();
            up.sort();
            if up
                == [
                    "app",
                    "node",
                    "postgres",
                    "prometheus",
                    "redis",
                    "scheduler",
                    "scheduler",
                    "worker",
                    "worker",
                ]
            {
                break;
            }
            last = format!("{up:?}");
        }
        assert!(Instant::now() < deadline, "targets up: {last}");
        std::thread::sleep(Duration::from_millis(250));
    }
    // The exporters reach what they watch.
    for q in ["redis_up", "pg_up"] {
        let r = get(&format!("{prometheus}/api/v1/query?query={q}")).unwrap();
        assert_eq!(r["data"]["result"][0]["value"][1], "1", "{q}: {r}");
    }

    let out = stack.run(&["stop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for pid in &pids {
        let alive = Command::new("kill")
            .args(["-0", pid])
            .status()
            .unwrap()
            .success();
        assert!(!alive, "process {pid} outlived scripts/stack stop");
    }
    assert!(!stack_dir.exists(), "stop leaves {stack_dir:?} behind");
}
