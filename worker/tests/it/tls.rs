//! Redis over TLS (`rediss://`), as managed Redis services serve it: a real
//! `redis-server` with a plain port and a TLS port whose certificate comes
//! from a CA the test makes. The `worker` command line and a running worker
//! reach it over TLS, its wake-up subscription included, trusting that CA
//! through `SSL_CERT_FILE` (the system store is used otherwise), and
//! refuse a server whose certificate they cannot check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use paqueteria_jobs::broker::redis::RedisBroker;
use paqueteria_jobs::broker::{BrokerConfig, JobId, JobState};
use paqueteria_jobs::testing::job_ended;

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
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
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

/// A `redis-server` with a plain and a TLS port, stopped by its pid on drop.
struct TlsRedis {
    child: Child,
    plain: u16,
    tls: u16,
    certs: Certs,
    _dir: tempfile::TempDir,
}

impl TlsRedis {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let certs = make_certs(dir.path());
        let (plain, tls) = (free_port(), free_port());
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &plain.to_string()])
            .args(["--tls-port", &tls.to_string(), "--tls-auth-clients", "no"])
            .arg("--tls-cert-file")
            .arg(&certs.cert)
            .arg("--tls-key-file")
            .arg(&certs.key)
            .arg("--tls-ca-cert-file")
            .arg(&certs.ca)
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        let me = Self {
            child,
            plain,
            tls,
            certs,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let client = redis::Client::open(format!("redis://127.0.0.1:{plain}")).unwrap();
        while client
            .get_connection_with_timeout(Duration::from_millis(200))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
        me
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reaches_redis_over_tls_and_checks_its_certificate() {
    let redis = TlsRedis::start();
    let data = tempfile::tempdir().unwrap();
    let prefix = format!("test:{}", uuid::Uuid::now_v7().simple());
    let url = format!("rediss://localhost:{}/0", redis.tls);
    let mut env = vec![
        ("REDIS_URL", url.clone()),
        ("REDIS_PREFIX", prefix.clone()),
        ("DATA_DIR", data.path().display().to_string()),
    ];

    // Without the CA the server's certificate cannot be checked: refused.
    let refused = run(&env, &["enqueue", "system.ping", "{}"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "enqueued over unchecked TLS");
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    env.push(("SSL_CERT_FILE", redis.certs.ca.display().to_string()));
    let out = run(&env, &["enqueue", "system.ping", "{}"]);
    assert!(
        out.status.success(),
        "enqueue over TLS: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = JobId::parse(String::from_utf8(out.stdout).unwrap().trim()).unwrap();

    // The job is in Redis, read over the plain port.
    let plain: paqueteria_jobs::SharedBroker = std::sync::Arc::new(
        RedisBroker::connect(
            &format!("redis://127.0.0.1:{}/0", redis.plain),
            &prefix,
            BrokerConfig::default(),
        )
        .unwrap(),
    );
    let queued = plain.job(&id).await.unwrap().map(|j| j.state);
    assert_eq!(queued, Some(JobState::Queued));

    // A worker over TLS runs it, and one enqueued after it has gone idle
    // (the wake-up subscription is a TLS connection of its own).
    let worker = Worker(
        worker_cmd(&env)
            .args(["-Q", "default", "-c", "2", "--metrics-addr", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let info = job_ended(&plain, &id, Duration::from_secs(20)).await;
    assert_eq!(info.state, JobState::Succeeded);
    // Let the worker go idle on its wake-up; a job enqueued now starts at
    // once, not at its next poll a second later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let next = plain
        .enqueue(paqueteria_jobs::NewJob::new("system.ping", "default", "{}"))
        .await
        .unwrap()
        .id;
    let info = job_ended(&plain, &next, Duration::from_secs(20)).await;
    assert_eq!(info.state, JobState::Succeeded);
    let waited = info.started_at_ms.unwrap() - info.enqueued_at_ms;
    assert!(
        waited < 500,
        "an idle worker took {waited} ms to start a job"
    );
    drop(worker);
}
