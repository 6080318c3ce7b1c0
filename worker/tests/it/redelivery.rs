//! The worker is SIGKILLed after the SMS gateway and the SMTP server got
//! their message and before it could record and acknowledge them. The jobs
//! run again on a second worker, and still exactly one SMS and one email
//! were delivered.
//!
//! To stop the first worker at exactly that point, the fake gateway holds
//! its answer after recording the message, and a small TCP relay in front
//! of the real SMTP server (maildev) holds the server's answer to the end
//! of the message, after maildev has stored it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::{Fault, Liwa, Maildev, eventually, register, setup, walk};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use paqueteria_core::domain::ParcelEvent;
use paqueteria_core::store::Store;
use paqueteria_jobs::broker::redis::RedisBroker;
use paqueteria_jobs::broker::{BrokerConfig, JobId, JobState, SharedBroker};
use paqueteria_jobs::clock::Clock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Relays SMTP to `upstream`, but holds every byte the server sends once
/// the client has sent the end of a message (`\r\n.\r\n`).
async fn holding_relay(upstream: u16, held: Arc<AtomicBool>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                .await
                .unwrap();
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let seen_end = Arc::new(AtomicBool::new(false));
            let flag = seen_end.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut tail: Vec<u8> = Vec::new();
                while let Ok(n) = cr.read(&mut buf).await {
                    if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    tail.extend_from_slice(&buf[..n]);
                    if tail.windows(5).any(|w| w == b"\r\n.\r\n") {
                        flag.store(true, Ordering::SeqCst);
                    }
                    let keep = tail.len().saturating_sub(4);
                    tail.drain(..keep);
                }
            });
            let held = held.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if seen_end.load(Ordering::SeqCst) {
                        held.store(true, Ordering::SeqCst);
                        std::future::pending::<()>().await;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn worker(env: &[(&str, String)]) -> Worker {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_worker"));
    cmd.args([
        "-Q",
        "sms,default",
        "-c",
        "4",
        "--metrics-addr",
        "127.0.0.1:0",
    ])
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("RUST_LOG", "warn")
    .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Worker(cmd.spawn().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_after_the_send_and_before_the_ack_sends_nothing_twice() {
    let liwa = Liwa::start().await;
    let mail = Maildev::start().await;
    let held = Arc::new(AtomicBool::new(false));
    let relay_port = holding_relay(mail.smtp_port, held.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let redis =
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let prefix = format!("test:{}", uuid::Uuid::now_v7().simple());
    let mut env = liwa.env();
    env.extend([
        ("REDIS_URL", redis.clone()),
        ("REDIS_PREFIX", prefix.clone()),
        ("DATA_DIR", dir.path().display().to_string()),
        ("JOB_LEASE", "2s".to_owned()),
        (
            "SMTP_URL",
            format!(
                "smtp://{}:{}@127.0.0.1:{relay_port}",
                crate::common::SMTP_USER,
                crate::common::SMTP_PASS
            ),
        ),
        ("MAIL_FROM", "no-reply@paqueteria.test".to_owned()),
    ]);

    // A status change writes one SMS and one email to the outbox.
    let store = Store::open_sqlite(&dir.path().join("paqueteria.sqlite3"), Clock::system())
        .await
        .unwrap()
        .with_pins(paqueteria_testkit::test_pins());
    let (a, b) = setup(&store).await;
    let p = walk(
        &store,
        register(&store, a, b, 3, true).await,
        &[ParcelEvent::Receive],
    )
    .await;
    let broker: SharedBroker =
        Arc::new(RedisBroker::connect(&redis, &prefix, BrokerConfig::default()).unwrap());
    liwa.fail_next(Fault::Slow(Duration::from_secs(30)));
    assert_eq!(
        store
            .relay_outbox(broker.as_ref(), 10)
            .await
            .unwrap()
            .enqueued,
        2
    );

    let first = worker(&env);
    eventually(
        Duration::from_secs(30),
        "the gateway and the SMTP server to hold their messages",
        || async {
            liwa.messages().len() == 1
                && mail.emails().await.len() == 1
                && held.load(Ordering::SeqCst)
        },
    )
    .await;
    kill(Pid::from_raw(first.0.id() as i32), Signal::SIGKILL).unwrap();
    drop(first);

    let _second = worker(&env);
    let notes = store.notifications(p.id).await.unwrap();
    assert_eq!(notes.len(), 2);
    for n in &notes {
        let id = JobId::parse(n.job_id.clone().unwrap()).unwrap();
        eventually(
            Duration::from_secs(30),
            "the job to run again and finish",
            || async { broker.job(&id).await.unwrap().unwrap().state == JobState::Succeeded },
        )
        .await;
        let info = broker.job(&id).await.unwrap().unwrap();
        assert!(
            info.attempts >= 2,
            "{} ran {} times",
            n.channel,
            info.attempts
        );
    }
    assert_eq!(liwa.messages().len(), 1, "exactly one SMS");
    assert_eq!(mail.emails().await.len(), 1, "exactly one email");
    for n in store.notifications(p.id).await.unwrap() {
        assert_eq!(
            n.state, "unknown",
            "{}: not resent, flagged for a look",
            n.channel
        );
    }
}
