//! A test app spawned on port 0 and a plain HTTP/1.0 client for it.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;

use paqueteria_app::startup::Application;
use paqueteria_core::domain::Role;
use paqueteria_core::settings::Settings;
use paqueteria_core::store::{NewUser, Store};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Store,
    pub data_dir: std::path::PathBuf,
    /// `REDIS_URL` and `REDIS_PREFIX` when the app runs on Redis.
    redis: Option<(String, String)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: u16,
    pub body: String,
    /// The status line and the headers.
    pub head: String,
}

impl Reply {
    /// A header's value (the name in any case), if the answer has it.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl TestApp {
    pub async fn spawn(vars: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        // A directory that does not exist yet, as on a fresh clone.
        env.insert(
            "DATA_DIR".to_owned(),
            dir.path().join("data").display().to_string(),
        );
        // On PostgreSQL the app needs its secret key given (the embedded
        // default makes one in DATA_DIR).
        if env.contains_key("DATABASE_URL") && !env.contains_key("APP_SECRET_KEY") {
            env.insert(
                "APP_SECRET_KEY".to_owned(),
                paqueteria_testkit::TEST_SECRET_KEY.to_owned(),
            );
        }
        let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = Application::build(&settings, listener).await.unwrap();
        let addr = app.local_addr().unwrap();
        let store = app.store().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        let redis = env.get("REDIS_URL").map(|url| {
            (
                url.clone(),
                env.get("REDIS_PREFIX")
                    .cloned()
                    .unwrap_or_else(|| "paq".to_owned()),
            )
        });
        Self {
            redis,
            addr,
            store,
            data_dir: dir.path().join("data"),
            stop: Some(tx),
            done,
            _dir: dir,
        }
    }

    /// The app's job broker, as another process opens it: the embedded
    /// engine's file, or Redis under the app's prefix.
    pub async fn broker(&self) -> paqueteria_jobs::broker::SharedBroker {
        use paqueteria_jobs::broker::BrokerConfig;
        match &self.redis {
            Some((url, prefix)) => std::sync::Arc::new(
                paqueteria_jobs::broker::redis::RedisBroker::connect(
                    url,
                    prefix,
                    BrokerConfig::default(),
                )
                .unwrap(),
            ),
            None => std::sync::Arc::new(
                paqueteria_jobs::broker::sqlite::SqliteBroker::open(
                    &self.data_dir.join("jobs.sqlite3"),
                    BrokerConfig::default(),
                )
                .await
                .unwrap(),
            ),
        }
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        self.request_bytes(method, path, headers, body.as_bytes())
            .await
    }

    /// A request with a binary body.
    pub async fn request_bytes(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.0\r\nHost: test\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut req = req.into_bytes();
        req.extend_from_slice(body);
        // The server may answer (413) and close before it read it all.
        let _ = s.write_all(&req).await;
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw).await;
        // Binary bodies (downloads) come back lossily; use get_bytes for them.
        let buf = String::from_utf8_lossy(&raw).into_owned();
        let status = buf
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let (head, body) = buf
            .split_once("\r\n\r\n")
            .map(|(h, b)| (h.to_owned(), b.to_owned()))
            .unwrap_or_default();
        Reply { status, body, head }
    }

    /// A GET whose body may be binary: status, head (status line and
    /// headers) and body bytes.
    pub async fn get_bytes(&self, path: &str, token: &str) -> (u16, String, Vec<u8>) {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let req =
            format!("GET {path} HTTP/1.0\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&buf[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, head, buf[split + 4..].to_vec())
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        self.request("GET", path, &headers, "").await
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        self.request("POST", path, &headers, &body.to_string())
            .await
    }

    /// Signs in through the OAuth2 password flow and returns the token.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        let form = format!("username={email}&password={password}");
        self.request(
            "POST",
            "/api/v1/auth/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form,
        )
        .await
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().map(|tx| tx.send(()));
        self.done.await.unwrap().unwrap();
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// An app with two branches (`[origin, destination]` of most tests' parcels)
/// and a tariff, an admin, an operator at the first branch and a courier at
/// the second.
pub async fn app_with_staff() -> (TestApp, Vec<i64>) {
    app_with_staff_and(&[]).await
}

/// [`app_with_staff`] with more settings.
pub async fn app_with_staff_and(vars: &[(&str, String)]) -> (TestApp, Vec<i64>) {
    let app = TestApp::spawn(vars).await;
    let (bog, med) = paqueteria_testkit::two_branches_and_a_tariff(&app.store).await;
    for (email, role, branch_id) in [
        ("admin@example.com", Role::Admin, None),
        ("operator@example.com", Role::Operator, Some(bog)),
        ("courier@example.com", Role::Courier, Some(med)),
    ] {
        app.store
            .create_user(&NewUser {
                email: email.to_owned(),
                name: email.to_owned(),
                password: PASSWORD.to_owned(),
                role,
                branch_id,
            })
            .await
            .unwrap();
    }
    let branches = vec![bog, med];
    (app, branches)
}

/// A new user of `role` at `branch`, signed in: their token.
pub async fn staff_at(app: &TestApp, email: &str, role: Role, branch: Option<i64>) -> String {
    app.store
        .create_user(&NewUser {
            email: email.to_owned(),
            name: email.to_owned(),
            password: PASSWORD.to_owned(),
            role,
            branch_id: branch,
        })
        .await
        .unwrap();
    token(app, email).await
}

pub async fn token(app: &TestApp, email: &str) -> String {
    let r = app.login(email, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

pub fn parcel_body(branches: &[i64]) -> serde_json::Value {
    json!({
        "sender": {"phone": "+573001110000", "name": "Ana Gómez", "email": "ana@example.com"},
        "recipient": {"phone": "+573002220000", "name": "Luis Pérez"},
        "origin_branch_id": branches[0],
        "destination_branch_id": branches[1],
        "service": "branch_pickup",
        "package_type": "box",
        "zone": "national",
        "weight_grams": 1500
    })
}

/// Registers `n` parcels of `parcel_body` as the operator; their ids and
/// tracking codes.
pub async fn registered_parcels(app: &TestApp, branches: &[i64], n: usize) -> Vec<(i64, String)> {
    let op = token(app, "operator@example.com").await;
    let mut out = Vec::new();
    for _ in 0..n {
        let r = app
            .post_json("/api/v1/parcels", Some(&op), &parcel_body(branches))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let j = r.json();
        out.push((
            j["id"].as_i64().unwrap(),
            j["tracking_code"].as_str().unwrap().to_owned(),
        ));
    }
    out
}
