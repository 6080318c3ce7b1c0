//! Test fixtures shared by every crate's tests, so a set-up is written once:
//! where the test servers are, a fresh store per test (a SQLite file or a
//! PostgreSQL database), the two branches and the tariff most parcel tests
//! start from, and the bounded wait ([`eventually`]).

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod env;
pub mod liwa;

use paqueteria_core::domain::{Grams, Money, Phone, Role};
use paqueteria_core::files::s3::S3Storage;
use paqueteria_core::settings::{FilesSettings, HomeDeliveryProof, Settings};
use paqueteria_core::store::{NewBranch, NewCustomer, NewTariff, NewUser, PinSettings, Store};
use paqueteria_jobs::Clock;
use sqlx::Connection;

pub use paqueteria_jobs::testing::{eventually, job_ended};

/// The secret key test stores hash pickup PINs with.
pub const TEST_SECRET_KEY: &str = "test-secret-key-of-at-least-32-characters";

/// PIN settings with [`TEST_SECRET_KEY`]: a PIN proves every delivery.
pub fn test_pins() -> PinSettings {
    PinSettings::new(&TEST_SECRET_KEY.into(), HomeDeliveryProof::Pin)
}

/// The test Redis: `TEST_REDIS_URL`, default `redis://127.0.0.1:6379/0`.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

/// A key prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("test:{}", uuid::Uuid::now_v7().simple())
}

/// The PostgreSQL server's admin URL: `TEST_DATABASE_URL`, default
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A PostgreSQL database of its own, created empty; [`Self::drop_now`]
/// removes it.
#[derive(Debug)]
pub struct PgDatabase {
    admin: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl PgDatabase {
    /// Creates a database with a unique name.
    pub async fn create() -> Self {
        sqlx::any::install_default_drivers();
        let admin = postgres_admin_url();
        let name = format!("paq_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
        Self {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }

    /// Drops the database, ending its open connections.
    pub async fn drop_now(self) {
        let mut conn = sqlx::AnyConnection::connect(&self.admin).await.unwrap();
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

/// A store on fresh storage, with the clock it reads.
pub struct TestStore {
    /// The store.
    pub store: Store,
    /// Its clock (tests move it).
    pub clock: Clock,
    /// Its URL (`sqlite://…` or `postgres://…`).
    pub url: String,
    dir: Option<tempfile::TempDir>,
    pg: Option<PgDatabase>,
}

impl TestStore {
    /// A store in a fresh SQLite file.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::system();
        let path = dir.path().join("store.sqlite3");
        let store = Store::open_sqlite(&path, clock.clone())
            .await
            .unwrap()
            .with_pins(test_pins());
        Self {
            store,
            clock,
            url: format!("sqlite://{}?mode=rwc", path.display()),
            dir: Some(dir),
            pg: None,
        }
    }

    /// A store in a fresh PostgreSQL database.
    pub async fn postgres() -> Self {
        let pg = PgDatabase::create().await;
        let clock = Clock::system();
        let store = Store::connect(&pg.url, clock.clone())
            .await
            .unwrap()
            .with_pins(test_pins());
        Self {
            store,
            clock,
            url: pg.url.clone(),
            dir: None,
            pg: Some(pg),
        }
    }

    /// The temp dir of a SQLite store.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    /// Closes the store and drops its database.
    pub async fn finish(self) {
        let Self { store, pg, .. } = self;
        drop(store);
        if let Some(pg) = pg {
            pg.drop_now().await;
        }
    }
}

/// Settings (`S3_*`) that put the files in a fresh bucket of the test S3
/// server (`TEST_S3_ENDPOINT`, `TEST_S3_ACCESS_KEY`, `TEST_S3_SECRET_KEY`;
/// scripts/test starts SeaweedFS and sets them), the bucket made.
pub async fn s3_vars() -> Vec<(&'static str, String)> {
    let endpoint = std::env::var("TEST_S3_ENDPOINT").expect(
        "TEST_S3_ENDPOINT is not set: run scripts/test, which starts SeaweedFS, or point it at an S3 server",
    );
    let vars = vec![
        (
            "S3_BUCKET",
            format!("paq-test-{}", uuid::Uuid::now_v7().simple()),
        ),
        ("S3_ENDPOINT", endpoint),
        (
            "S3_ACCESS_KEY_ID",
            std::env::var("TEST_S3_ACCESS_KEY").unwrap(),
        ),
        (
            "S3_SECRET_ACCESS_KEY",
            std::env::var("TEST_S3_SECRET_KEY").unwrap(),
        ),
    ];
    let map: std::collections::HashMap<&str, String> = vars.iter().cloned().collect();
    let settings = Settings::from_lookup(|k| map.get(k).cloned()).unwrap();
    let FilesSettings::S3(s3) = &settings.transports.files else {
        panic!("S3 settings expected");
    };
    S3Storage::connect(s3)
        .await
        .unwrap()
        .ensure_bucket()
        .await
        .unwrap();
    vars
}

/// The tariff most tests use: boxes up to 30 kg, $ 8.000 + $ 2.000 per kg,
/// 24 h of free storage then $ 1.000 a day, $ 3.000 cash-on-delivery fee.
pub fn demo_tariff() -> NewTariff {
    NewTariff {
        package_type: "box".to_owned(),
        zone: "national".to_owned(),
        min_grams: Grams(0),
        max_grams: Grams(30_000),
        base_price: Money::units(8_000),
        per_kg_price: Money::units(2_000),
        storage_grace_hours: 24,
        storage_fee_per_day: Money::units(1_000),
        cod_fee: Money::units(3_000),
        valid_from_ms: 0,
        valid_to_ms: None,
    }
}

/// A branch with `code`, named and placed after it.
pub fn branch(code: &str, name: &str, city: &str) -> NewBranch {
    NewBranch {
        code: code.to_owned(),
        name: name.to_owned(),
        city: city.to_owned(),
        address: "Calle 1".to_owned(),
        phone: None,
    }
}

/// Two branches (BOG-01 Bogotá Centro, MED-01 Medellín Norte) and
/// [`demo_tariff`]; returns the branches' ids.
pub async fn two_branches_and_a_tariff(s: &Store) -> (i64, i64) {
    let a = s
        .create_branch(&branch("BOG-01", "Bogotá Centro", "Bogotá"))
        .await
        .unwrap();
    let b = s
        .create_branch(&branch("MED-01", "Medellín Norte", "Medellín"))
        .await
        .unwrap();
    s.create_tariff(&demo_tariff()).await.unwrap();
    (a.id, b.id)
}

/// A supervisor without a branch (jefa@example.com), who asks for reports;
/// returns the user's id.
pub async fn supervisor(s: &Store) -> i64 {
    s.create_user(&NewUser {
        email: "jefa@example.com".to_owned(),
        name: "Jefa".to_owned(),
        password: "correct horse battery".to_owned(),
        role: Role::Supervisor,
        branch_id: None,
    })
    .await
    .unwrap()
    .id
}

/// `GET path` over plain HTTP/1.0 to `addr` (a test server on loopback):
/// the status and the body, or `None` while nothing answers there.
pub async fn http_get(addr: impl tokio::net::ToSocketAddrs, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// A customer with an E.164 `phone`.
pub fn customer(phone: &str, name: &str, email: Option<&str>) -> NewCustomer {
    NewCustomer {
        phone: Phone::parse(phone).unwrap(),
        name: name.to_owned(),
        email: email.map(str::to_owned),
        document: None,
        address: String::new(),
    }
}
