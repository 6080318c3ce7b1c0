//! Stand-ins for the outside world, shared by the worker's tests: a fake of
//! the Liwa SMS gateway speaking its wire format over real HTTP, and a real
//! SMTP server (maildev) started on free ports.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use paqueteria_core::domain::{Grams, Money, ParcelEvent, Role, Service};
use paqueteria_core::jobs::Job;
use paqueteria_core::settings::Settings;
use paqueteria_core::store::{Actor, Handover, NewParcel, Parcel, Store};
use paqueteria_jobs::Metrics;
use paqueteria_jobs::broker::{JobState, SharedBroker};
use paqueteria_jobs::clock::Clock;
use paqueteria_jobs::{QueueSpec, Runtime, RuntimeConfig};
use paqueteria_testkit::PgDatabase;
use paqueteria_worker::jobs::Services;
use serde_json::{Value, json};

pub use paqueteria_testkit::liwa::{Fault, Liwa};

/// A maildev process on free ports, killed on drop.
pub struct Maildev {
    child: Child,
    pub smtp_port: u16,
    pub api_port: u16,
    _dir: tempfile::TempDir,
}

pub const SMTP_USER: &str = "mailer";
pub const SMTP_PASS: &str = "smtp-secret";

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Maildev {
    /// Starts maildev (`MAILDEV_BIN`, installed by scripts/test) with
    /// authentication, and waits until its API answers.
    pub async fn start() -> Self {
        let bin = std::env::var("MAILDEV_BIN").unwrap_or_else(|_| {
            let home = std::env::var("HOME").unwrap_or_default();
            format!("{home}/.cache/paqueteria/tools/node_modules/.bin/maildev")
        });
        let dir = tempfile::tempdir().unwrap();
        let (smtp_port, api_port) = (free_port(), free_port());
        let child = Command::new(&bin)
            .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1"])
            .args([
                "--smtp",
                &smtp_port.to_string(),
                "--web",
                &api_port.to_string(),
            ])
            .args(["--incoming-user", SMTP_USER, "--incoming-pass", SMTP_PASS])
            .arg("--mail-directory")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start maildev at {bin} (scripts/test installs it): {e}")
            });
        let me = Self {
            child,
            smtp_port,
            api_port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if me
                .api("/api/healthz")
                .await
                .is_some_and(|v| v == json!(true))
            {
                break;
            }
            assert!(Instant::now() < deadline, "maildev did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        me
    }

    pub fn smtp_url(&self) -> String {
        format!(
            "smtp://{SMTP_USER}:{SMTP_PASS}@127.0.0.1:{}",
            self.smtp_port
        )
    }

    async fn api(&self, path: &str) -> Option<Value> {
        let (_, body) = paqueteria_testkit::http_get(("127.0.0.1", self.api_port), path).await?;
        serde_json::from_str(&body).ok()
    }

    /// The captured emails.
    pub async fn emails(&self) -> Vec<Value> {
        self.api("/api/email")
            .await
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }
}

impl Drop for Maildev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A store, a broker and a worker on some queues.
pub struct Env {
    pub services: Arc<Services>,
    pub clock: Clock,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    worker: Option<tokio::task::JoinHandle<Result<(), paqueteria_jobs::RuntimeError>>>,
    pub dir: tempfile::TempDir,
    drop_pg: Option<PgDatabase>,
}

impl Env {
    pub async fn embedded() -> Self {
        Self::start(false, &[], &["maintenance"]).await
    }

    pub async fn production() -> Self {
        Self::start(true, &[], &["maintenance"]).await
    }

    /// The embedded stack (SQLite store, SQLite engine, local files) or the
    /// production one (a fresh PostgreSQL database, Redis under a fresh
    /// prefix), with `extra` settings and a worker on `queues`.
    pub async fn start(production: bool, extra: &[(&str, String)], queues: &[&str]) -> Self {
        Self::start_with(production, extra, queues, |s| s).await
    }

    /// Like [`Self::start`], with the file storage wrapped by `wrap` (fault
    /// injection around the real backend).
    pub async fn start_with(
        production: bool,
        extra: &[(&str, String)],
        queues: &[&str],
        wrap: impl FnOnce(
            paqueteria_core::files::SharedStorage,
        ) -> paqueteria_core::files::SharedStorage,
    ) -> Self {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let mut vars: HashMap<&str, String> = HashMap::new();
        vars.insert("DATA_DIR", dir.path().display().to_string());
        let mut drop_pg = None;
        if production {
            let pg = PgDatabase::create().await;
            vars.insert("DATABASE_URL", pg.url.clone());
            drop_pg = Some(pg);
            vars.insert("REDIS_URL", paqueteria_testkit::redis_url());
            vars.insert("REDIS_PREFIX", paqueteria_testkit::unique_prefix());
        }
        for (k, v) in extra {
            vars.insert(k, v.clone());
        }
        let settings = Settings::from_lookup(|k| vars.get(k).cloned()).unwrap();
        let clock = Clock::system();
        let store = Store::open(&settings.database, clock.clone())
            .await
            .unwrap()
            .with_pins(paqueteria_testkit::test_pins());
        let broker = settings.connect_broker().await.unwrap();
        let services = Services::with_store(&settings, broker.clone(), store)
            .await
            .unwrap();
        let mut inner = Arc::try_unwrap(services).unwrap();
        inner.storage = wrap(inner.storage);
        let services = Arc::new(inner);
        let handlers = paqueteria_worker::jobs::handlers(&services).unwrap();
        let runtime = Runtime::build(
            RuntimeConfig {
                queues: queues.iter().map(|q| QueueSpec::new(*q)).collect(),
                concurrency: 2,
                grace: Duration::from_secs(5),
                lease: Duration::from_secs(10),
                maintain_every: Duration::from_millis(50),
            },
            broker,
            handlers,
            Metrics::new(),
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(runtime.run_until_stopped(async move {
            let _ = rx.await;
        }));
        Self {
            services,
            clock,
            stop: Some(tx),
            worker: Some(worker),
            dir,
            drop_pg,
        }
    }

    pub fn store(&self) -> &Store {
        &self.services.store
    }

    pub fn broker(&self) -> &SharedBroker {
        self.services.client.broker()
    }

    /// Enqueues `job`, waits until it succeeded, and returns its result.
    pub async fn run<J: Job>(&self, job: &J) -> serde_json::Value {
        let id = self.services.client.enqueue(job).await.unwrap().id;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let info = self.broker().job(&id).await.unwrap().unwrap();
            match info.state {
                JobState::Succeeded => {
                    return serde_json::from_str(info.result.as_deref().unwrap_or("null")).unwrap();
                }
                JobState::Dead => panic!("{} died: {:?}", J::NAME, info.last_error),
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "{} still {:?}",
                J::NAME,
                info.state
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(w) = self.worker.take() {
            w.await.unwrap().unwrap();
        }
        let Self {
            services, drop_pg, ..
        } = self;
        drop(services);
        if let Some(pg) = drop_pg {
            pg.drop_now().await;
        }
    }
}

pub const OPERATOR: Actor = Actor {
    user_id: None,
    role: Role::Operator,
    branch_id: None,
};

#[allow(unused_imports)]
pub use paqueteria_testkit::{customer, eventually, s3_vars, two_branches_and_a_tariff as setup};

/// A parcel registered by an operator, for pickup at `to`; `n` varies the
/// recipient so each parcel has its own.
pub async fn register(s: &Store, from: i64, to: i64, n: u32, email: bool) -> Parcel {
    let recipient_email = format!("cliente{n}@example.com");
    s.register_parcel(
        &NewParcel {
            sender: customer("+573001110000", "Ana Gómez", None),
            recipient: customer(
                &format!("+5730022{n:05}"),
                &format!("Cliente {n}"),
                email.then_some(recipient_email.as_str()),
            ),
            origin_branch_id: from,
            destination_branch_id: to,
            service: Service::BranchPickup,
            delivery_address: String::new(),
            package_type: "box".to_owned(),
            zone: "national".to_owned(),
            weight: Grams(1_500),
            dimensions_mm: [300, 200, 100],
            declared_value: Money::units(100_000),
            cod_amount: Money::ZERO,
        },
        &Actor {
            branch_id: Some(from),
            ..OPERATOR
        },
    )
    .await
    .unwrap()
    .parcel
}

/// Moves a parcel through `events`, as an admin (who may act at any
/// branch; none of these tests delivers at a counter).
pub async fn walk(s: &Store, mut p: Parcel, events: &[ParcelEvent]) -> Parcel {
    let admin = Actor {
        role: Role::Admin,
        ..OPERATOR
    };
    for e in events {
        p = s
            .apply_event(p.id, p.version, e, &admin, &Handover::NONE)
            .await
            .unwrap();
    }
    p
}

pub const TO_DESTINATION: [ParcelEvent; 3] = [
    ParcelEvent::Receive,
    ParcelEvent::Dispatch,
    ParcelEvent::Arrive,
];
