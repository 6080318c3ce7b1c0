//! While Redis is down the outbox relay fails every half second; the log
//! says so once, not every round, and once more when Redis is back.
//!
//! The app binary runs with `REDIS_URL` pointing at a switch this test
//! holds: it drops every connection while "down" (counting them, which is
//! how the test knows many relay rounds have failed without sleeping), and
//! forwards to the test Redis once "up".

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paqueteria_core::settings::Settings;
use paqueteria_core::store::Store;
use paqueteria_jobs::Clock;
use paqueteria_testkit::eventually;

/// A TCP switch in front of Redis: drops connections while down, forwards
/// them while up, to the test Redis over TCP or its Unix socket (as
/// `scripts/test` runs it).
struct Switch {
    port: u16,
    up: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
}

/// Where the switch forwards to: the test Redis's address.
#[derive(Clone)]
enum Upstream {
    Tcp(String),
    Unix(std::path::PathBuf),
}

impl Upstream {
    fn of(url: &str) -> Self {
        for scheme in ["redis+unix://", "unix://"] {
            if let Some(path) = url.strip_prefix(scheme) {
                let path = path.split('?').next().unwrap_or(path);
                return Self::Unix(path.into());
            }
        }
        let host = url
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap();
        Self::Tcp(host.to_owned())
    }

    /// Copies bytes both ways between `client` and the test Redis until
    /// either side closes.
    async fn join(self, mut client: tokio::net::TcpStream) {
        let copied = match self {
            Self::Tcp(addr) => match tokio::net::TcpStream::connect(addr).await {
                Ok(mut server) => tokio::io::copy_bidirectional(&mut client, &mut server).await,
                Err(e) => Err(e),
            },
            Self::Unix(path) => match tokio::net::UnixStream::connect(path).await {
                Ok(mut server) => tokio::io::copy_bidirectional(&mut client, &mut server).await,
                Err(e) => Err(e),
            },
        };
        if let Err(e) = copied {
            eprintln!("switch: forwarding ended: {e}");
        }
    }
}

impl Switch {
    async fn start(upstream: Upstream) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (up2, dropped2) = (up.clone(), dropped.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    dropped2.fetch_add(1, Ordering::SeqCst);
                    drop(client);
                    continue;
                }
                tokio::spawn(upstream.clone().join(client));
            }
        });
        Self { port, up, dropped }
    }
}

/// The log lines at `level` (JSON lines) whose text mentions `word`.
fn count(lines: &Mutex<Vec<String>>, level: &str, word: &str) -> usize {
    lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(&format!("\"level\":\"{level}\"")) && l.contains(word))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_the_relay_warns_once_and_says_when_it_is_back() {
    let switch = Switch::start(Upstream::of(&paqueteria_testkit::redis_url())).await;
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut app = std::process::Command::new(env!("CARGO_BIN_EXE_app"))
        .env("DATA_DIR", dir.path())
        .env("APP_ADDR", format!("127.0.0.1:{port}"))
        .env("APP_ADMIN_EMAIL", "admin@example.com")
        .env("APP_ADMIN_PASSWORD", "a long admin password")
        .env("REDIS_URL", format!("redis://127.0.0.1:{}/0", switch.port))
        .env("REDIS_PREFIX", paqueteria_testkit::unique_prefix())
        .env("RUST_LOG", "warn,paqueteria_app::relay=info")
        .env("LOG_FORMAT", "json")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stderr = app.stderr.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push(line);
        }
    });
    eventually(Duration::from_secs(30), "the app to answer", || async {
        paqueteria_testkit::http_get(("127.0.0.1", port), "/health")
            .await
            .is_some_and(|(status, _)| status == 200)
    })
    .await;

    // A notification waits for the relay, which cannot reach Redis.
    let settings =
        Settings::from_lookup(|k| (k == "DATA_DIR").then(|| dir.path().display().to_string()))
            .unwrap();
    let store = Store::open(&settings.database, Clock::system())
        .await
        .unwrap();
    let admin = store.users().await.unwrap()[0].id;
    let id = store
        .notify_user(
            admin,
            "report_ready",
            "Su reporte",
            &serde_json::json!({}),
            "relay-test",
        )
        .await
        .unwrap()
        .unwrap();

    // Many rounds fail (each drops at least one connection at the switch).
    let start = switch.dropped.load(Ordering::SeqCst);
    eventually(Duration::from_secs(30), "20 failed connections", || async {
        (switch.dropped.load(Ordering::SeqCst) >= start + 20).then_some(())
    })
    .await;
    eventually(Duration::from_secs(10), "the outage warning", || async {
        (count(&lines, "WARN", "outbox relay failing") == 1).then_some(())
    })
    .await;
    assert_eq!(
        count(&lines, "WARN", ""),
        1,
        "one warning for the whole outage: {:#?}",
        lines.lock().unwrap()
    );

    // Redis is back: the notification goes out and the log says so once.
    switch.up.store(true, Ordering::SeqCst);
    eventually(
        Duration::from_secs(30),
        "the notification enqueued",
        || async {
            let n = store.notification(id).await.unwrap();
            (n.state != "pending").then_some(())
        },
    )
    .await;
    eventually(Duration::from_secs(10), "the recovery line", || async {
        (count(&lines, "INFO", "outbox relay recovered") == 1).then_some(())
    })
    .await;
    let _ = app.kill();
    let _ = app.wait();
    assert_eq!(count(&lines, "WARN", ""), 1, "{:#?}", lines.lock().unwrap());
}
