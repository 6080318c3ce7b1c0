//! The live smoke test of the production topology without Docker
//! (`scripts/stack`): Redis with the production settings, PostgreSQL, the
//! app, two workers, two schedulers, the exporters and Prometheus with the
//! repo's config and alert rules.
//!
//! It drives the stack as users do (the REST API, `worker enqueue`), then
//! checks what an operator relies on: every target is scraped, every panel
//! of every dashboard shows data, every alert rule evaluates and the
//! dead-job alert goes off, the SMS of a received parcel reaches the
//! gateway once, the per-minute entry runs once a minute with two
//! schedulers, a worker killed with SIGKILL mid-run loses no job, and
//! `scripts/stack stop` leaves nothing running.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use paqueteria_testkit::liwa::{self, Fault, Liwa};
use serde_json::{Value, json};

use crate::support::root;

/// The stack in a directory; stopped when dropped, so a failed test leaves
/// nothing running.
struct Stack {
    dir: PathBuf,
    env: BTreeMap<String, String>,
}

impl Stack {
    fn script(dir: &Path, args: &[&str], vars: &[(&str, String)]) -> std::process::Output {
        Command::new(root().join("scripts/stack"))
            .args(args)
            .env("STACK_DIR", dir)
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(root())
            .output()
            .unwrap()
    }

    fn start(dir: &Path, vars: &[(&str, String)]) -> Self {
        let out = Self::script(dir, &["start"], vars);
        let mut stack = Self {
            dir: dir.to_path_buf(),
            env: BTreeMap::new(),
        };
        assert!(
            out.status.success(),
            "scripts/stack start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(dir.join("stack.env")).unwrap();
        stack.env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
            .collect();
        stack
    }

    fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{key} not in stack.env"))
    }

    fn pid(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("pids").join(name))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn pids(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.join("pids"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .map(|name| self.pid(&name))
            .collect()
    }

    /// The app's API: status and JSON body.
    fn api(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.var("STACK_APP_URL"));
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-X", method, "-w", "\n%{http_code}", &url])
            .args(["-H", &format!("Authorization: Bearer {token}")]);
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary"])
                .arg(b.to_string());
        }
        curl(&mut cmd)
    }

    /// `worker <args>` against the stack's broker and store.
    fn worker_cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(Path::new(self.var("STACK_BIN")).join("worker"))
            .args(args)
            .env("REDIS_URL", self.var("STACK_REDIS_URL"))
            .env("DATABASE_URL", self.var("STACK_DATABASE_URL"))
            .env("DATA_DIR", self.dir.join("data"))
            .output()
            .unwrap()
    }

    /// A Prometheus instant query's result vector.
    fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let url = format!("{}/api/v1/query", self.var("STACK_PROMETHEUS_URL"));
        let (code, v) = curl(
            Command::new("curl")
                .args(["-sS", "-w", "\n%{http_code}", &url, "--data-urlencode"])
                .arg(format!("query={promql}")),
        );
        if code != 200 || v["status"] != "success" {
            return Err(format!("{code}: {v}"));
        }
        Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    fn prometheus(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.var("STACK_PROMETHEUS_URL"));
        curl(Command::new("curl").args(["-sS", "-w", "\n%{http_code}", &url])).1
    }

    /// The one number a query returns (NaN when it returns none).
    fn number(&self, promql: &str) -> f64 {
        self.query(promql)
            .ok()
            .and_then(|r| r.first().cloned())
            .and_then(|s| s["value"][1].as_str().and_then(|v| v.parse().ok()))
            .unwrap_or(f64::NAN)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Keep the processes' logs for whoever reads the failure.
            let keep = std::env::temp_dir().join("paqueteria-smoke-logs");
            let _ = std::fs::remove_dir_all(&keep);
            let _ = Command::new("cp")
                .arg("-r")
                .arg(self.dir.join("log"))
                .arg(&keep)
                .status();
            eprintln!("the stack's logs are in {}", keep.display());
        }
        let _ = Self::script(&self.dir, &["stop"], &[]);
    }
}

/// Runs a curl whose output ends with the status code on its own line.
fn curl(cmd: &mut Command) -> (u16, Value) {
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.trim_end().rsplit_once('\n').unwrap_or(("", &text));
    let code = code.trim().parse().unwrap_or(0);
    (code, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Waits up to `limit` for `f` to give a value, or fails saying `what`.
fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// `2026-12-03T14:05:00Z` for a Unix time in ms (whole minutes).
fn utc_minute(ms: i64) -> String {
    let secs = ms.div_euclid(60_000) * 60;
    let days = secs.div_euclid(86_400);
    let (h, m) = (secs.rem_euclid(86_400) / 3_600, secs.rem_euclid(3_600) / 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:00Z")
}

/// An 8×8 red PNG, for an upload the worker makes a thumbnail of.
const PNG: &str = "89504e470d0a1a0a0000000d49484452000000080000000808020000004b6d29dc0000001149444154789c633821278715310c2d090090bf4101b29f3e220000000049454e44ae426082";

const EVERY_MINUTE: &str = "every-minute";

fn sign_in(stack: &Stack, password: &str) -> (u16, Value) {
    let url = format!("{}/api/v1/auth/token", stack.var("STACK_APP_URL"));
    curl(Command::new("curl").args([
        "-sS",
        "-w",
        "\n%{http_code}",
        &url,
        "--data-urlencode",
        &format!("username={}", stack.var("STACK_ADMIN_EMAIL")),
        "--data-urlencode",
        &format!("password={password}"),
    ]))
}

/// Registers a parcel between the first two branches and receives it at
/// the counter (an SMS to its recipient); its id and tracking code.
fn received_parcel(stack: &Stack, token: &str, branches: &[i64], n: usize) -> (i64, String) {
    let body = json!({
        "sender": {"phone": "+573001110000", "name": "Ana Gómez", "email": "ana@example.com"},
        "recipient": {"phone": format!("+5730022200{n:02}"), "name": "Luis Pérez"},
        "origin_branch_id": branches[0],
        "destination_branch_id": branches[1],
        "service": "branch_pickup",
        "package_type": "box",
        "zone": "national",
        "weight_grams": 1500
    });
    let (code, parcel) = stack.api("POST", "/api/v1/parcels", token, Some(&body));
    assert_eq!(code, 201, "register a parcel: {parcel}");
    let id = parcel["id"].as_i64().unwrap();
    let (code, v) = stack.api(
        "POST",
        &format!("/api/v1/parcels/{id}/transition"),
        token,
        Some(&json!({"event": "receive", "version": parcel["version"]})),
    );
    assert_eq!(code, 200, "receive the parcel: {v}");
    (id, parcel["tracking_code"].as_str().unwrap().to_owned())
}

/// How many of the gateway's messages name `code`.
fn sms_naming(gateway: &Liwa, code: &str) -> usize {
    gateway
        .messages()
        .iter()
        .filter(|m| m["message"].as_str().unwrap_or("").contains(code))
        .count()
}

/// A worker's jobs running now, read from its `/metrics`.
fn running_in(target: &str) -> f64 {
    let out = Command::new("curl")
        .args(["-fsS", &format!("http://{target}/metrics")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("paqueteria_jobs_running{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn the_live_topology_keeps_its_promises_and_every_panel_shows_data() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gateway = rt.block_on(Liwa::start());
    let tmp = tempfile::tempdir().unwrap();
    let schedule = tmp.path().join("schedule.toml");
    let builtin = std::fs::read_to_string(root().join("scheduler/schedule.toml")).unwrap();
    std::fs::write(
        &schedule,
        format!(
            "{builtin}\n[[entry]]\nname = \"{EVERY_MINUTE}\"\ncron = \"* * * * *\"\njob = \"system.ping\"\npayload = {{}}\n"
        ),
    )
    .unwrap();
    let before_start = now_ms();
    let mut vars = vec![
        ("SCHEDULE_FILE", schedule.display().to_string()),
        ("JOB_LEASE", "4s".to_owned()),
        ("SCHEDULER_LEASE", "4s".to_owned()),
    ];
    vars.extend(gateway_env(&gateway));
    let stack = Stack::start(&tmp.path().join("stack"), &vars);
    let started = now_ms();
    let pids = stack.pids();
    assert_eq!(
        pids.len(),
        10,
        "redis, app, 2 workers, 2 schedulers, 3 exporters, prometheus"
    );

    // Every scrape job the dashboards use has its targets up: two workers
    // and two schedulers, the rest one each.
    wait_for(Duration::from_secs(60), "every target up", || {
        let t = stack.prometheus("/api/v1/targets");
        let mut up: Vec<String> = t["data"]["activeTargets"]
            .as_array()?
            .iter()
            .filter(|t| t["health"] == "up")
            .filter_map(|t| t["labels"]["job"].as_str().map(str::to_owned))
            .collect();
        up.sort();
        (up == [
            "app",
            "node",
            "postgres",
            "prometheus",
            "redis",
            "scheduler",
            "scheduler",
            "worker",
            "worker",
        ])
        .then_some(())
    });
    for q in ["redis_up", "pg_up"] {
        assert_eq!(stack.number(q), 1.0, "{q}: the exporter reaches its server");
    }
    let scraping_since = Instant::now();

    // A user's day: sign in (once wrongly), register and receive parcels,
    // ask for reports, upload a photo.
    assert_eq!(sign_in(&stack, "not the password").0, 401);
    let (code, t) = sign_in(&stack, stack.var("STACK_ADMIN_PASSWORD"));
    assert_eq!(code, 200, "{t}");
    let token = t["access_token"].as_str().unwrap().to_owned();
    let branches = seed_branches(&stack, &token);
    // The gateway fails the first send: the SMS job retries, then sends.
    gateway.fail_next(Fault::ServerError);
    let (parcel, code) = received_parcel(&stack, &token, &branches, 0);
    for kind in ["pdf", "xlsx"] {
        let (status, r) = stack.api(
            "POST",
            "/api/v1/reports",
            &token,
            Some(&json!({ "kind": kind })),
        );
        assert_eq!(status, 202, "{kind} report: {r}");
    }
    let png = tmp.path().join("entrega.png");
    std::fs::write(&png, hex(PNG)).unwrap();
    let (status, up) = curl(Command::new("curl").args([
        "-sS",
        "-w",
        "\n%{http_code}",
        &format!(
            "{}/api/v1/parcels/{parcel}/attachments",
            stack.var("STACK_APP_URL")
        ),
        "-H",
        &format!("Authorization: Bearer {token}"),
        "-F",
        &format!("file=@{};type=image/png", png.display()),
    ]));
    assert_eq!(status, 202, "upload: {up}");

    // The received parcel's SMS goes from the app's outbox through a worker
    // to the gateway, once, after one retry.
    wait_for(Duration::from_secs(60), "the SMS at the gateway", || {
        (sms_naming(&gateway, &code) == 1).then_some(())
    });

    // Through the worker's CLI: a job that runs, and one that fails for
    // good (its report does not exist) into the dead set.
    for (job, payload) in [
        ("system.ping", "{}"),
        ("report.store", r#"{"report_id": 987654321}"#),
    ] {
        let out = stack.worker_cli(&["enqueue", job, payload]);
        assert!(
            out.status.success(),
            "worker enqueue {job}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    wait_for(
        Duration::from_secs(30),
        "the failing job in the dead set",
        || {
            let (_, dead) = stack.api("GET", "/api/v1/jobs/dead?queue=reports", &token, None);
            dead.to_string().contains("987654321").then_some(())
        },
    );

    kill_a_worker_mid_send(&stack, &gateway, &token, &branches);
    every_minute_runs_once_a_minute(&stack, &token, before_start, started);

    // Prometheus has scraped for over a minute: every panel shows data and
    // every alert rule evaluates; the dead job's alert goes off.
    if let Some(rest) = Duration::from_secs(60).checked_sub(scraping_since.elapsed()) {
        std::thread::sleep(rest);
    }
    every_panel_has_data(&stack);
    every_rule_evaluates(&stack);
    wait_for(
        Duration::from_secs(60),
        "DeadJobsRising pending or firing",
        || {
            let alerts = stack.prometheus("/api/v1/alerts");
            alerts["data"]["alerts"]
                .as_array()?
                .iter()
                .any(|a| {
                    a["labels"]["alertname"] == "DeadJobsRising"
                        && a["labels"]["queue"] == "reports"
                        && (a["state"] == "pending" || a["state"] == "firing")
                })
                .then_some(())
        },
    );

    // `SMOKE_SCREENSHOTS=docs/screenshots`: the dashboards rendered from
    // this run's Prometheus (Grafana does not run here).
    if let Ok(out) = std::env::var("SMOKE_SCREENSHOTS") {
        let status = Command::new(root().join("scripts/render-dashboards"))
            .args(["--prometheus", stack.var("STACK_PROMETHEUS_URL")])
            .args(["--out", &out, "--minutes", "5"])
            .current_dir(root())
            .status()
            .unwrap();
        assert!(status.success(), "scripts/render-dashboards failed");
    }

    let dir = stack.dir.clone();
    drop(stack);
    for pid in &pids {
        let alive = Command::new("kill")
            .args(["-0", pid])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(!alive, "process {pid} outlived scripts/stack stop");
    }
    assert!(!dir.exists(), "stop leaves {dir:?} behind");
    drop(rt);
}

fn gateway_env(gateway: &Liwa) -> Vec<(&'static str, String)> {
    vec![
        ("LIWA_API_KEY", liwa::API_KEY.to_owned()),
        ("LIWA_ACCOUNT", liwa::ACCOUNT.to_owned()),
        ("LIWA_PASSWORD", liwa::PASSWORD.to_owned()),
        ("LIWA_BASE_URL", format!("http://{}", gateway.addr)),
    ]
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Two branches and a price list, made through the API as an admin does;
/// the branches' ids.
fn seed_branches(stack: &Stack, token: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for (code, name, city) in [
        ("BOG", "Bogotá Centro", "Bogotá"),
        ("MED", "Medellín Centro", "Medellín"),
    ] {
        let (status, b) = stack.api(
            "POST",
            "/api/v1/branches",
            token,
            Some(&json!({"code": code, "name": name, "city": city, "address": "Calle 1 # 2-3"})),
        );
        assert_eq!(status, 201, "create branch {code}: {b}");
        ids.push(b["id"].as_i64().unwrap());
    }
    let (status, t) = stack.api(
        "POST",
        "/api/v1/tariffs",
        token,
        Some(&json!({
            "package_type": "box", "zone": "national", "min_grams": 0, "max_grams": 30_000,
            "base_price": 8_000, "per_kg_price": 2_000, "storage_grace_hours": 24,
            "storage_fee_per_day": 1_000, "cod_fee": 3_000, "valid_from_ms": 0
        })),
    );
    assert_eq!(status, 201, "create a tariff: {t}");
    ids
}

/// Three SMS whose gateway answers slowly; the worker running one is
/// killed with SIGKILL mid-send. The other worker takes its job back once
/// the lease runs out: every job ends succeeded, none stays behind, and no
/// message reaches the gateway twice.
fn kill_a_worker_mid_send(stack: &Stack, gateway: &Liwa, token: &str, branches: &[i64]) {
    for _ in 0..3 {
        gateway.fail_next(Fault::Slow(Duration::from_secs(5)));
    }
    let codes: Vec<String> = (1..=3)
        .map(|n| received_parcel(stack, token, branches, n).1)
        .collect();
    let targets: Vec<String> = stack
        .var("STACK_WORKER_TARGETS")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    // Killed only once every message is at the gateway (which holds its
    // answer for 5 s): a worker killed before its request left would make
    // the next attempt mark the send unknown and rightly not send it at
    // all, which is not what this checks.
    wait_for(Duration::from_secs(30), "every SMS at the gateway", || {
        codes
            .iter()
            .all(|c| sms_naming(gateway, c) >= 1)
            .then_some(())
    });
    let victim = wait_for(Duration::from_secs(30), "a worker mid-send", || {
        targets.iter().position(|t| running_in(t) >= 1.0)
    });
    let pid = stack.pid(&format!("worker{}", victim + 1));
    let killed = Command::new("kill").args(["-9", &pid]).status().unwrap();
    assert!(killed.success());
    let mut seen = String::new();
    wait_for(Duration::from_secs(60), "the sms queue drained", || {
        let mut busy = Vec::new();
        for state in ["queued", "scheduled", "running"] {
            let (_, page) = stack.api(
                "GET",
                &format!("/api/v1/jobs?queue=sms&state={state}"),
                token,
                None,
            );
            let items = page["items"].as_array().cloned().unwrap_or_default();
            busy.extend(items.iter().map(|j| format!("{} {state}", j["id"])));
        }
        let now = busy.join(", ");
        if now != seen {
            eprintln!("sms queue at {} s: [{now}]", now_ms() / 1_000 % 1_000);
            seen = now;
        }
        busy.is_empty().then_some(())
    });
    for code in &codes {
        assert_eq!(
            sms_naming(gateway, code),
            1,
            "the SMS of {code} reached the gateway once"
        );
    }
    let (_, dead) = stack.api("GET", "/api/v1/jobs/dead?queue=sms", token, None);
    assert!(
        !dead.to_string().contains("sms.send"),
        "an SMS job died instead of finishing: {dead}"
    );
}

/// With two schedulers, the per-minute entry's job of each minute since
/// the start exists once, ran once and succeeded, and the schedulers'
/// tick counts add up to the number of those minutes.
fn every_minute_runs_once_a_minute(stack: &Stack, token: &str, before_start: i64, started: i64) {
    // Two whole minutes after the start, and a little for the last tick's
    // job to run and be scraped.
    let first_sure = (started / 60_000 + 1) * 60_000;
    let until = first_sure + 60_000;
    let wait = (until + 8_000 - now_ms()).max(0);
    std::thread::sleep(Duration::from_millis(u64::try_from(wait).unwrap()));
    let mut minutes = 0;
    let mut tick = (before_start / 60_000 + 1) * 60_000;
    while tick <= until {
        let id = format!("{EVERY_MINUTE}:{}", utc_minute(tick));
        let (status, job) = stack.api("GET", &format!("/api/v1/jobs/{id}"), token, None);
        if tick >= first_sure {
            assert_eq!(status, 200, "no job for the tick {id}: {job}");
        }
        if status == 200 {
            assert_eq!(job["state"], "succeeded", "{job}");
            assert_eq!(job["attempts"], 1, "{job}");
            minutes += 1;
        }
        tick += 60_000;
    }
    assert!(minutes >= 2, "{minutes} ticks");
    let ticks = format!(
        "sum(paqueteria_scheduler_ticks_total{{job=\"scheduler\",entry=\"{EVERY_MINUTE}\"}})"
    );
    wait_for(Duration::from_secs(20), "the ticks scraped", || {
        (stack.number(&ticks) == f64::from(minutes)).then_some(())
    });
    assert_eq!(
        stack.number("sum(paqueteria_scheduler_is_leader{job=\"scheduler\"})"),
        1.0,
        "one leader of two"
    );
}

/// `$__rate_interval` when the panels are evaluated: the whole run, so a
/// counter of the killed worker still counts.
const RATE_WINDOW: &str = "5m";

/// Every query of every dashboard panel (and every variable's values)
/// returns at least one series.
fn every_panel_has_data(stack: &Stack) {
    let mut empty = Vec::new();
    for (at, q) in crate::grafana::queries() {
        if at.starts_with("alerts.yml") {
            continue;
        }
        let promql = match crate::grafana::expand(&q, RATE_WINDOW) {
            Some(e) => e,
            // label_values(metric, label): the label's values exist.
            None => {
                let inner = q
                    .trim()
                    .trim_start_matches("label_values(")
                    .trim_end_matches(')');
                let (metric, label) = inner.rsplit_once(',').unwrap();
                let metric = crate::grafana::expand(metric, RATE_WINDOW).unwrap();
                format!("count by ({}) ({metric})", label.trim())
            }
        };
        match stack.query(&promql) {
            Ok(r) if !r.is_empty() => {}
            Ok(_) => empty.push(format!("{at}: no series for {promql}")),
            Err(e) => empty.push(format!("{at}: {promql}: {e}")),
        }
    }
    assert!(
        empty.is_empty(),
        "panels without data:\n{}",
        empty.join("\n")
    );
}

/// Prometheus evaluated every alert rule of alerts.yml without an error.
fn every_rule_evaluates(stack: &Stack) {
    let expected: Vec<String> = crate::grafana::queries()
        .into_iter()
        .filter_map(|(at, _)| at.strip_prefix("alerts.yml: ").map(str::to_owned))
        .collect();
    let rules = wait_for(Duration::from_secs(30), "every rule evaluated", || {
        let v = stack.prometheus("/api/v1/rules?type=alert");
        let rules: Vec<Value> = v["data"]["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        rules
            .iter()
            .all(|r| r["health"] != "unknown")
            .then_some(rules)
    });
    let mut seen: Vec<String> = Vec::new();
    for r in &rules {
        let name = r["name"].as_str().unwrap_or("").to_owned();
        assert_eq!(r["health"], "ok", "{name}: {}", r["lastError"]);
        seen.push(name);
    }
    for name in &expected {
        assert!(
            seen.contains(name),
            "Prometheus did not load the rule {name}"
        );
    }
}
