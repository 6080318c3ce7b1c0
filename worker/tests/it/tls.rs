//! Redis over TLS (`rediss://`), as managed Redis services serve it: a real
//! `redis-server`, then a real three-master Redis Cluster, speaking only
//! TLS with a certificate from a CA the test makes. The `worker` command
//! line and a running worker reach them over TLS, wake-up subscription
//! included, trusting that CA through `SSL_CERT_FILE` (the system store is
//! used otherwise), and refuse a server whose certificate they cannot
//! check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::free_port;

/// A CA certificate, and a server certificate it signed for `localhost`
/// and 127.0.0.1, written as PEM files into `dir`.
struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_certs(dir: &Path) -> Certs {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Paquetería test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    // Cluster nodes also present it to each other as clients on the bus.
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();

    let certs = Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    std::fs::write(&certs.ca, ca_cert.pem()).unwrap();
    std::fs::write(&certs.cert, cert.pem()).unwrap();
    std::fs::write(&certs.key, key.serialize_pem()).unwrap();
    certs
}

/// Processes one test started, stopped by their pids on drop.
#[derive(Default)]
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `redis-server` with TLS on `tls` (certificates of `certs`) and
/// `args`, in its own dir under `dir`.
fn start_tls_server(procs: &mut Procs, certs: &Certs, dir: &Path, tls: u16, args: &[&str]) {
    let dir = dir.join(tls.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--tls-port", &tls.to_string()])
        .args(["--tls-auth-clients", "no"])
        .arg("--tls-cert-file")
        .arg(&certs.cert)
        .arg("--tls-key-file")
        .arg(&certs.key)
        .arg("--tls-ca-cert-file")
        .arg(&certs.ca)
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .arg("--logfile")
        .arg(dir.join("redis.log"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed (scripts/test installs it)");
    procs.0.push(child);
}

/// `redis-cli` over TLS to the server on `port`, trusting `certs.ca`;
/// killed, failing the test, if it has not finished within 30 s.
fn cli(certs: &Certs, port: u16, args: &[&str]) -> Output {
    let mut child = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(&certs.ca)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli is installed (scripts/test installs it)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("redis-cli {args:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Polls `check` every 20 ms until it holds or `limit` passes.
fn poll(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn answers(certs: &Certs, port: u16) -> bool {
    String::from_utf8_lossy(&cli(certs, port, &["PING"]).stdout).trim() == "PONG"
}

/// A `redis-server` that speaks only TLS.
struct TlsRedis {
    tls: u16,
    certs: Certs,
    _procs: Procs,
    _dir: tempfile::TempDir,
}

impl TlsRedis {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let certs = make_certs(dir.path());
        let tls = free_port();
        let mut procs = Procs::default();
        start_tls_server(&mut procs, &certs, dir.path(), tls, &["--port", "0"]);
        poll(Duration::from_secs(10), "redis-server to answer", || {
            answers(&certs, tls)
        });
        Self {
            tls,
            certs,
            _procs: procs,
            _dir: dir,
        }
    }
}

/// A Redis Cluster of three masters that speaks only TLS, to its clients
/// and on its bus.
struct TlsCluster {
    ports: Vec<u16>,
    certs: Certs,
    _procs: Procs,
    _dir: tempfile::TempDir,
}

/// A free loopback port whose cluster bus port (+10000) is free too.
fn free_port_with_bus() -> u16 {
    loop {
        let port = free_port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

impl TlsCluster {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let certs = make_certs(dir.path());
        let ports: Vec<u16> = (0..3).map(|_| free_port_with_bus()).collect();
        let mut procs = Procs::default();
        for &p in &ports {
            start_tls_server(
                &mut procs,
                &certs,
                dir.path(),
                p,
                &[
                    "--port",
                    "0",
                    "--tls-cluster",
                    "yes",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                ],
            );
        }
        for &p in &ports {
            poll(Duration::from_secs(10), "a cluster node to answer", || {
                answers(&certs, p)
            });
        }
        let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(nodes.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let created = cli(&certs, ports[0], &args);
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        for &p in &ports {
            poll(Duration::from_secs(30), "cluster_state:ok", || {
                String::from_utf8_lossy(&cli(&certs, p, &["CLUSTER", "INFO"]).stdout)
                    .contains("cluster_state:ok")
            });
        }
        Self {
            ports,
            certs,
            _procs: procs,
            _dir: dir,
        }
    }
}

/// The `worker` binary with a clean environment but for `env`.
fn worker_cmd(env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_worker"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run(env: &[(&str, String)], args: &[&str]) -> Output {
    worker_cmd(env).args(args).output().unwrap()
}

/// `worker job ID --json` over `env`: the job's state and how long it
/// waited from its enqueue to its start.
fn job(env: &[(&str, String)], id: &str) -> (String, Option<i64>) {
    let out = run(env, &["job", id, "--json"]);
    assert!(
        out.status.success(),
        "worker job: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let waited = v["started_at_ms"]
        .as_i64()
        .zip(v["enqueued_at_ms"].as_i64())
        .map(|(s, e)| s - e);
    (v["state"].as_str().unwrap_or_default().to_owned(), waited)
}

fn enqueue_ping(env: &[(&str, String)]) -> String {
    let out = run(env, &["enqueue", "system.ping", "{}"]);
    assert!(
        out.status.success(),
        "enqueue over TLS: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// What a user checks against a TLS Redis at `url`, trusting `certs.ca`:
/// without that CA the command line is refused; with it, an enqueued job
/// is queued, a worker runs it, and then starts a job enqueued while it
/// idles in under 500 ms (its wake-up subscription is a TLS connection
/// of its own). Returns the refusal's message.
fn enqueue_and_run_over_tls(url: String, certs: &Certs) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut env = vec![
        ("REDIS_URL", url),
        (
            "REDIS_PREFIX",
            format!("test:{}", uuid::Uuid::now_v7().simple()),
        ),
        ("DATA_DIR", data.path().display().to_string()),
    ];
    let refused = run(&env, &["enqueue", "system.ping", "{}"]);
    assert!(!refused.status.success(), "enqueued over unchecked TLS");
    let refusal = String::from_utf8_lossy(&refused.stderr).into_owned();

    env.push(("SSL_CERT_FILE", certs.ca.display().to_string()));
    let first = enqueue_ping(&env);
    assert_eq!(job(&env, &first).0, "queued");
    let _worker = Procs(vec![
        worker_cmd(&env)
            .args(["-Q", "default", "-c", "2", "--metrics-addr", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    ]);
    poll(Duration::from_secs(20), "the first job to succeed", || {
        job(&env, &first).0 == "succeeded"
    });
    // Let the worker go idle on its wake-up; a job enqueued now starts at
    // once, not at its next poll a second later.
    std::thread::sleep(Duration::from_millis(300));
    let next = enqueue_ping(&env);
    poll(Duration::from_secs(20), "the second job to succeed", || {
        job(&env, &next).0 == "succeeded"
    });
    let waited = job(&env, &next).1.unwrap();
    assert!(
        waited < 500,
        "an idle worker took {waited} ms to start a job"
    );
    refusal
}

#[test]
fn the_worker_reaches_redis_over_tls_and_checks_its_certificate() {
    let redis = TlsRedis::start();
    let refusal =
        enqueue_and_run_over_tls(format!("rediss://localhost:{}/0", redis.tls), &redis.certs);
    assert!(refusal.to_lowercase().contains("certificate"), "{refusal}");
}

#[test]
fn the_worker_runs_jobs_on_a_redis_cluster_over_tls() {
    let cluster = TlsCluster::start();
    let seed = format!("rediss+cluster://127.0.0.1:{}", cluster.ports[0]);
    enqueue_and_run_over_tls(seed, &cluster.certs);
}
