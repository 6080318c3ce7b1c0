//! The `worker` binary's command line, run as a user would: settings
//! errors, `enqueue` validation, `job`, `inspect --json`, `inspect
//! active|scheduled|dead`, `pause` and `resume`, the dead set and `purge`,
//! against a real Redis under a fresh key prefix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

struct Cli {
    url: String,
    prefix: String,
}

impl Cli {
    fn new() -> Self {
        Self {
            url: std::env::var("TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned()),
            prefix: format!("test:{}", uuid::Uuid::now_v7().simple()),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_worker"))
            .args(args)
            .env("REDIS_URL", &self.url)
            .env("REDIS_PREFIX", &self.prefix)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    /// A broker on the same Redis and prefix, to play a worker.
    fn broker(&self) -> paqueteria_jobs::broker::redis::RedisBroker {
        paqueteria_jobs::broker::redis::RedisBroker::connect(
            &self.url,
            &self.prefix,
            paqueteria_jobs::broker::BrokerConfig::default(),
        )
        .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "worker {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

#[test]
fn a_bad_queue_list_is_refused_naming_the_queue() {
    for (queues, says) in [
        ("sms,sms", "named twice"),
        ("sms@0", "cap"),
        ("reports:x", "weight"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_worker"))
            .args(["-Q", queues])
            .env_remove("REDIS_URL")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "-Q {queues}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "-Q {queues}: {err}");
    }
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_worker"))
        .arg("inspect")
        .env("REDIS_URL", "http://localhost:6379")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("REDIS_URL"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_worker"))
        .arg("inspect")
        .env_remove("REDIS_URL")
        .env("JOB_LEASE", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JOB_LEASE"));

    let out = Command::new(env!("CARGO_BIN_EXE_worker"))
        .arg("jobs")
        .env_remove("REDIS_URL")
        .env("LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LOG_FORMAT=\"xml\""), "{err}");
}

#[test]
fn enqueue_validates_against_the_catalog_and_prints_the_id() {
    let cli = Cli::new();
    let id = cli.ok(&[
        "enqueue",
        "sms.send",
        r#"{"notification_id": 7, "to": "+573001234567", "body": "Su paquete llegó"}"#,
    ]);
    assert_eq!(id.trim(), "sms.send:7");
    let job = cli.ok(&["job", "sms.send:7", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&job).unwrap();
    assert_eq!(
        (v["state"].as_str(), v["queue"].as_str()),
        (Some("queued"), Some("sms"))
    );

    let bad = cli.run(&[
        "enqueue",
        "sms.send",
        r#"{"notification_id": 7, "to": "3001234567", "body": "x"}"#,
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("E.164"));
    let unknown = cli.run(&["enqueue", "sms.sned", "{}"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("sms.send"),
        "the error lists the known jobs"
    );
    let missing = cli.run(&["job", "never-enqueued"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn inspect_json_has_every_queue_with_its_counts() {
    let cli = Cli::new();
    cli.ok(&["enqueue", "maintenance.refresh_dashboard", "{}"]);
    cli.ok(&["enqueue", "system.ping", "{}", "--delay", "1h"]);
    let out = cli.ok(&["inspect", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for q in ["reports", "sms", "files", "maintenance", "default"] {
        for field in ["queued", "scheduled", "running", "dead", "oldest_age_s"] {
            assert!(
                v["queues"][q][field].is_number(),
                "queues.{q}.{field} missing in {out}"
            );
        }
    }
    assert_eq!(v["queues"]["maintenance"]["queued"], 1);
    assert_eq!(v["queues"]["default"]["scheduled"], 1);
    assert!(v["workers"].is_array());
}

#[test]
fn purge_needs_yes_and_dead_commands_report_unknown_ids() {
    let cli = Cli::new();
    cli.ok(&["enqueue", "maintenance.cleanup_tmp", "{}"]);
    let refused = cli.run(&["purge", "maintenance"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        cli.ok(&["purge", "maintenance", "--yes"])
            .contains("purged 1")
    );
    assert_eq!(cli.run(&["dead", "retry", "nope"]).status.code(), Some(1));
    assert_eq!(cli.run(&["dead", "discard", "nope"]).status.code(), Some(1));
    assert!(cli.ok(&["dead", "list"]).contains("0 dead job(s)"));
    assert!(cli.ok(&["dead", "retry", "--all"]).contains("queued 0"));
}

#[test]
fn inspect_lists_active_scheduled_and_dead_jobs_like_celery_inspect() {
    use paqueteria_jobs::broker::Broker;

    let cli = Cli::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _in_rt = rt.enter();
    let broker = cli.broker();
    let later = cli.ok(&["enqueue", "system.ping", "{}", "--delay", "1h"]);
    let later = later.trim();
    cli.ok(&["enqueue", "maintenance.cleanup_tmp", "{}"]);
    cli.ok(&["enqueue", "maintenance.refresh_dashboard", "{}"]);
    let maintenance = vec!["maintenance".to_owned()];
    let (active, dead) = rt.block_on(async {
        let active = broker
            .lease(&maintenance, 1, "w-cli")
            .await
            .unwrap()
            .remove(0);
        let dead = broker
            .lease(&maintenance, 1, "w-cli")
            .await
            .unwrap()
            .remove(0);
        broker.dead(&dead.lease_ref(), "disk full").await.unwrap();
        (active, dead)
    });

    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["inspect", "active", "--json"])).unwrap();
    let jobs = json.as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{json}");
    assert_eq!(jobs[0]["id"].as_str(), Some(active.id.as_str()));
    assert_eq!(jobs[0]["name"].as_str(), Some(active.name.as_str()));
    assert_eq!(jobs[0]["worker"].as_str(), Some("w-cli"));
    assert_eq!(jobs[0]["payload"].as_str(), Some(active.payload.as_str()));
    let text = cli.ok(&["inspect", "active"]);
    let args = format!("args {}", active.payload);
    for part in [
        active.id.as_str(),
        active.name.as_str(),
        "worker w-cli",
        &args,
        "1 active job(s)",
    ] {
        assert!(text.contains(part), "{part:?} missing in {text}");
    }

    let text = cli.ok(&["inspect", "scheduled", "--queue", "default"]);
    for part in [
        later,
        "system.ping",
        "scheduled  due ",
        "1 scheduled job(s)",
    ] {
        assert!(text.contains(part), "{part:?} missing in {text}");
    }
    assert!(
        cli.ok(&["inspect", "scheduled", "--queue", "sms"])
            .contains("0 scheduled job(s)")
    );

    let text = cli.ok(&["inspect", "dead"]);
    for part in [dead.id.as_str(), "error disk full", "1 dead job(s)"] {
        assert!(text.contains(part), "{part:?} missing in {text}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["inspect", "dead", "--json", "--queue", "maintenance"]))
            .unwrap();
    assert_eq!(json[0]["last_error"].as_str(), Some("disk full"), "{json}");
}

#[test]
fn pause_holds_a_queues_jobs_until_resume() {
    use paqueteria_jobs::broker::Broker;

    let cli = Cli::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _in_rt = rt.enter();
    let broker = cli.broker();
    let sms = vec!["sms".to_owned()];
    let typo = cli.run(&["pause", "smss"]);
    assert_eq!(typo.status.code(), Some(1), "an unknown queue is refused");
    assert!(String::from_utf8_lossy(&typo.stderr).contains("sms"));
    assert!(cli.ok(&["pause", "sms"]).contains("paused sms"));
    assert!(cli.ok(&["pause", "sms"]).contains("paused already"));
    let id = cli.ok(&[
        "enqueue",
        "sms.send",
        r#"{"notification_id": 9, "to": "+573001234567", "body": "Hola"}"#,
    ]);
    let v: serde_json::Value = serde_json::from_str(&cli.ok(&["inspect", "--json"])).unwrap();
    assert_eq!(v["queues"]["sms"]["paused"], true, "{v}");
    assert_eq!(v["queues"]["sms"]["queued"], 1, "{v}");
    assert_eq!(v["queues"]["default"]["paused"], false, "{v}");
    assert!(
        cli.ok(&["inspect"])
            .lines()
            .any(|l| l.starts_with("sms ") && l.ends_with("PAUSED"))
    );
    assert!(
        rt.block_on(broker.lease(&sms, 5, "w-cli"))
            .unwrap()
            .is_empty(),
        "a paused queue hands out nothing"
    );
    assert!(cli.ok(&["resume", "sms"]).contains("resumed sms"));
    assert!(cli.ok(&["resume", "sms"]).contains("sms was not paused"));
    let got = rt.block_on(broker.lease(&sms, 5, "w-cli")).unwrap();
    assert_eq!(
        got.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        [id.trim()]
    );
}
