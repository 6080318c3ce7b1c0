//! docker-compose.prod.yml: the Compose Specification's schema, and the
//! rules of issue 20 on the parsed file.

use std::collections::BTreeSet;
use std::process::Command;

use yaml_rust2::Yaml;

use crate::support::{
    check_jsonschema, duration_ms, entries, read, root, run_ok, text, variables, with_defaults,
    words, yaml,
};

const COMPOSE: &str = "docker-compose.prod.yml";

fn compose() -> Yaml {
    yaml(COMPOSE)
}

fn services(c: &Yaml) -> Vec<(&str, &Yaml)> {
    let s = entries(&c["services"]);
    assert!(!s.is_empty(), "{COMPOSE} has no services");
    s
}

fn service<'a>(c: &'a Yaml, name: &str) -> &'a Yaml {
    let s = &c["services"][name];
    assert!(!s.is_badvalue(), "{COMPOSE} has no service {name}");
    s
}

/// A service's environment as (name, value) pairs, mapping or list form.
fn environment(s: &Yaml) -> Vec<(String, String)> {
    match &s["environment"] {
        Yaml::Array(items) => items
            .iter()
            .filter_map(text)
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (kv, String::new()),
            })
            .collect(),
        node => entries(node)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), text(v).unwrap_or_default()))
            .collect(),
    }
}

fn env_value(s: &Yaml, name: &str) -> Option<String> {
    environment(s)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[test]
fn compose_file_matches_the_compose_specification() {
    let out = run_ok(
        Command::new(check_jsonschema())
            .args(["--builtin-schema", "vendor.compose-spec"])
            .arg(root().join(COMPOSE)),
        &root(),
    );
    assert!(out.contains("ok"), "{out}");
}

#[test]
fn every_service_the_system_needs_is_there() {
    let c = compose();
    let names: BTreeSet<&str> = services(&c).into_iter().map(|(n, _)| n).collect();
    for needed in [
        "redis",
        "postgres",
        "app",
        "worker",
        "scheduler",
        "prometheus",
        "grafana",
        "node-exporter",
        "redis-exporter",
        "postgres-exporter",
    ] {
        assert!(
            names.contains(needed),
            "{COMPOSE} lacks the {needed} service"
        );
    }
}

#[test]
fn no_port_is_published_beyond_loopback() {
    let c = compose();
    for (name, s) in services(&c) {
        assert!(
            text(&s["network_mode"]).as_deref() != Some("host"),
            "{name}: network_mode host publishes every port it listens on"
        );
        for port in s["ports"].as_vec().map(Vec::as_slice).unwrap_or_default() {
            match port {
                Yaml::Hash(_) => assert_eq!(
                    text(&port["host_ip"]).as_deref(),
                    Some("127.0.0.1"),
                    "{name}: a published port without host_ip: 127.0.0.1"
                ),
                other => {
                    let p = text(other).unwrap_or_default();
                    let rest = p
                        .strip_prefix("127.0.0.1:")
                        .unwrap_or_else(|| panic!("{name}: port {p:?} is not bound to 127.0.0.1"));
                    let rest = with_defaults(rest);
                    assert!(
                        rest.split(':').count() == 2,
                        "{name}: port {p:?} should read 127.0.0.1:HOST:CONTAINER"
                    );
                }
            }
        }
    }
}

#[test]
fn redis_never_evicts_a_job_and_appends_every_second() {
    let c = compose();
    let redis = service(&c, "redis");
    let command = words(&redis["command"]).join(" ");
    for setting in [
        "--maxmemory-policy noeviction",
        "--appendonly yes",
        "--appendfsync everysec",
        "--requirepass",
        "--maxmemory ",
    ] {
        assert!(
            command.contains(setting),
            "redis's command lacks {setting:?}: {command}"
        );
    }
    for bad in ["allkeys-", "volatile-", "--appendonly no", "--save ''"] {
        assert!(!command.contains(bad), "redis's command has {bad:?}");
    }
    let password = env_value(redis, "REDIS_PASSWORD").unwrap_or_default();
    assert!(
        password.starts_with("${REDIS_PASSWORD:?"),
        "redis's password must be a required variable from .env, not {password:?}"
    );
    let volumes = words(&redis["volumes"]);
    assert!(
        volumes
            .iter()
            .any(|v| v.ends_with(":/data") && named_volume(&c, v.split(':').next().unwrap_or(""))),
        "redis's /data is not on a named volume: {volumes:?}"
    );
}

fn named_volume(c: &Yaml, name: &str) -> bool {
    entries(&c["volumes"]).iter().any(|(n, _)| *n == name)
}

#[test]
fn every_service_has_a_healthcheck_a_restart_policy_and_a_memory_limit() {
    let c = compose();
    for (name, s) in services(&c) {
        let hc = &s["healthcheck"];
        assert!(
            !words(&hc["test"]).is_empty(),
            "{name} has no healthcheck test"
        );
        assert!(
            hc["disable"].as_bool() != Some(true),
            "{name}'s healthcheck is disabled"
        );
        let restart = text(&s["restart"]).unwrap_or_default();
        assert!(
            ["always", "unless-stopped", "on-failure"]
                .iter()
                .any(|r| restart.starts_with(r)),
            "{name}: restart is {restart:?}, not always/unless-stopped/on-failure"
        );
        let memory =
            text(&s["deploy"]["resources"]["limits"]["memory"]).or_else(|| text(&s["mem_limit"]));
        assert!(memory.is_some(), "{name} has no memory limit");
    }
}

#[test]
fn our_services_check_their_health_with_their_own_binary() {
    let c = compose();
    for binary in ["app", "worker", "scheduler"] {
        let s = service(&c, binary);
        assert_eq!(
            words(&s["command"]).first().map(String::as_str),
            Some(binary)
        );
        assert_eq!(
            words(&s["healthcheck"]["test"]),
            ["CMD", binary, "healthcheck"],
            "{binary}'s healthcheck must run `{binary} healthcheck` (no curl in the image)"
        );
        assert!(
            !text(&s["image"]).unwrap_or_default().is_empty(),
            "{binary} has no image"
        );
    }
}

#[test]
fn depends_on_waits_for_healthy_services_that_have_a_healthcheck() {
    let c = compose();
    for (name, s) in services(&c) {
        if s["depends_on"].is_array() {
            panic!("{name}: depends_on must use the long form with condition: service_healthy");
        }
        for (dep, cond) in entries(&s["depends_on"]) {
            assert_eq!(
                text(&cond["condition"]).as_deref(),
                Some("service_healthy"),
                "{name} depends on {dep} without condition: service_healthy"
            );
            assert!(
                !service(&c, dep)["healthcheck"]["test"].is_badvalue(),
                "{name} waits for {dep} to be healthy, which has no healthcheck"
            );
        }
    }
    for (name, deps) in [
        ("app", &["redis", "postgres"][..]),
        ("worker", &["redis", "postgres"]),
        ("scheduler", &["redis"]),
    ] {
        for dep in deps {
            assert!(
                !service(&c, name)["depends_on"][*dep].is_badvalue(),
                "{name} does not wait for {dep}"
            );
        }
    }
}

#[test]
fn the_worker_runs_all_five_queues_four_at_a_time_and_outlives_its_grace() {
    let c = compose();
    let worker = service(&c, "worker");
    let args: Vec<String> = words(&worker["command"])
        .iter()
        .map(|w| with_defaults(w))
        .collect();
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| panic!("the worker's command has no {flag}: {args:?}"))
    };
    assert_eq!(after("-c"), "4", "the worker's concurrency");
    let queues: BTreeSet<String> = after("-Q")
        .split(',')
        .map(|q| q.split([':', '@']).next().unwrap_or("").to_owned())
        .collect();
    let all: BTreeSet<String> = ["reports", "sms", "files", "maintenance", "default"]
        .map(str::to_owned)
        .into();
    assert_eq!(queues, all, "the worker's queues");
    let grace = duration_ms(&after("--grace")).expect("--grace is a duration");
    let stop = text(&worker["stop_grace_period"])
        .as_deref()
        .and_then(duration_ms)
        .expect("the worker has a stop_grace_period");
    assert!(
        stop >= grace + 5000,
        "stop_grace_period ({stop} ms) must outlast --grace ({grace} ms) by 5 s at least, \
         or Docker kills the worker while it hands jobs back"
    );
    let replicas = text(&worker["deploy"]["replicas"]).map(|r| with_defaults(&r));
    assert_eq!(
        replicas.as_deref(),
        Some("1"),
        "the worker's deploy.replicas"
    );
}

#[test]
fn the_scheduler_keeps_its_state_on_a_named_volume_and_runs_once() {
    let c = compose();
    let s = service(&c, "scheduler");
    let state = env_value(s, "SCHEDULER_STATE").expect("the scheduler sets SCHEDULER_STATE");
    let mounted = words(&s["volumes"]).into_iter().any(|v| {
        let mut parts = v.split(':');
        let (source, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("~"));
        named_volume(&c, source) && state.starts_with(&format!("{}/", target.trim_end_matches('/')))
    });
    assert!(
        mounted,
        "SCHEDULER_STATE={state} is not under a named volume's mount"
    );
    assert_eq!(text(&s["deploy"]["replicas"]).as_deref(), Some("1"));
}

#[test]
fn the_app_reads_the_schedule_as_the_scheduler_does() {
    let c = compose();
    for var in ["SCHEDULER_TZ", "SCHEDULE_FILE", "APP_TZ"] {
        assert_eq!(
            env_value(service(&c, "app"), var),
            env_value(service(&c, "scheduler"), var),
            "{var}: the console would show another schedule than the one that runs"
        );
    }
}

#[test]
fn secrets_are_required_variables_never_literals() {
    let c = compose();
    let secret = |k: &str| {
        ["PASSWORD", "SECRET", "_PASS", "TOKEN", "API_KEY"]
            .iter()
            .any(|s| k.contains(s))
    };
    for (name, s) in services(&c) {
        for (k, v) in environment(s) {
            if secret(&k) && !v.is_empty() {
                assert!(
                    v.starts_with("${") && v.ends_with('}') && !v[2..].contains("${"),
                    "{name}: {k} must come from .env as one ${{VAR}}, not {v:?}"
                );
            }
        }
    }
    let text = read(COMPOSE);
    for required in [
        "REDIS_PASSWORD",
        "POSTGRES_PASSWORD",
        "APP_SECRET_KEY",
        "GRAFANA_ADMIN_PASSWORD",
    ] {
        assert!(
            text.contains(&format!("${{{required}:?")),
            "{required} must be required (${{{required}:?message}})"
        );
        assert!(
            !text.contains(&format!("${{{required}:-")),
            "{required} must have no default"
        );
    }
}

#[test]
fn grafana_is_provisioned_with_anonymous_access_off() {
    let c = compose();
    let g = service(&c, "grafana");
    assert_eq!(
        env_value(g, "GF_AUTH_ANONYMOUS_ENABLED").as_deref(),
        Some("false")
    );
    assert!(
        env_value(g, "GF_SECURITY_ADMIN_PASSWORD")
            .unwrap_or_default()
            .starts_with("${GRAFANA_ADMIN_PASSWORD:?")
    );
    let volumes = words(&g["volumes"]);
    for (source, target) in [
        (
            "./monitoring/grafana/provisioning",
            "/etc/grafana/provisioning",
        ),
        ("./monitoring/grafana/dashboards", "/etc/grafana/dashboards"),
    ] {
        assert!(
            volumes
                .iter()
                .any(|v| v.starts_with(&format!("{source}:{target}"))),
            "grafana does not mount {source} at {target}: {volumes:?}"
        );
    }
}

#[test]
fn prometheus_keeps_30_days_and_reads_monitoring() {
    let c = compose();
    let p = service(&c, "prometheus");
    let args: Vec<String> = words(&p["command"])
        .iter()
        .map(|w| with_defaults(w))
        .collect();
    assert!(
        args.iter()
            .any(|a| a == "--storage.tsdb.retention.time=30d"),
        "prometheus's retention: {args:?}"
    );
    assert!(
        args.iter()
            .any(|a| a == "--config.file=/etc/prometheus/prometheus.yml")
    );
    assert!(
        words(&p["volumes"])
            .iter()
            .any(|v| v.starts_with("./monitoring/prometheus:/etc/prometheus")),
        "prometheus does not read monitoring/prometheus"
    );
}

#[test]
fn env_example_documents_every_compose_variable() {
    let example = read(".env.example");
    let compose = read(COMPOSE);
    let vars: BTreeSet<String> = variables(&compose).into_iter().collect();
    assert!(vars.len() >= 10, "only {} variables found", vars.len());
    for var in &vars {
        assert!(
            example.lines().any(|l| l
                .trim_start_matches(['#', ' '])
                .starts_with(&format!("{var}="))),
            ".env.example lacks {var}, which {COMPOSE} uses"
        );
    }
    // Compose reads $VAR too; this file writes ${VAR} only, so the line
    // above sees every variable.
    for (n, line) in compose.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let bare = line
            .replace("$$", "")
            .split('$')
            .skip(1)
            .any(|after| after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'));
        assert!(!bare, "{COMPOSE}:{}: write ${{VAR}}, not $VAR", n + 1);
    }
}
