//! A fake of the Liwa SMS gateway speaking its wire format over real HTTP
//! (log in for a token, send one SMS), for the worker's tests and the live
//! smoke test of the whole topology. It records every message it accepted
//! and can be told to fail or be slow on the next sends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The account the fake accepts.
pub const ACCOUNT: &str = "paqueteria";
/// Its password.
pub const PASSWORD: &str = "liwa-secret";
/// Its API key.
pub const API_KEY: &str = "liwa-api-key";

/// What the next send answers instead of success.
#[derive(Clone, Debug)]
pub enum Fault {
    /// 401: the token expired.
    Unauthorized,
    /// 500.
    ServerError,
    /// 429.
    TooMany,
    /// 200 with `success: false`.
    Refused(&'static str),
    /// Records the message, then answers after this long.
    Slow(Duration),
}

#[derive(Default)]
struct Fake {
    logins: usize,
    token: Option<String>,
    faults: VecDeque<Fault>,
    messages: Vec<Value>,
    next_id: u64,
}

/// The fake gateway.
#[derive(Clone)]
pub struct Liwa {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<Fake>>,
}

async fn login(
    State(s): State<Arc<Mutex<Fake>>>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if body["account"] != ACCOUNT || body["password"] != PASSWORD {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Invalid credentials"})),
        );
    }
    let mut f = s.lock().unwrap();
    f.logins += 1;
    let token = format!("jwt-{}", f.logins);
    f.token = Some(token.clone());
    (StatusCode::OK, Json(json!({ "token": token })))
}

async fn single(
    State(s): State<Arc<Mutex<Fake>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (fault, delay) = {
        let mut f = s.lock().unwrap();
        if header("API-KEY") != API_KEY {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": "Missing or invalid API KEY"})),
            );
        }
        let bearer = f.token.as_ref().map(|t| format!("Bearer {t}"));
        if bearer.as_deref() != Some(header("Authorization").as_str()) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": "Unauthorized"})),
            );
        }
        if body.get("type") != Some(&json!(1)) {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"message": "type required"})),
            );
        }
        match f.faults.pop_front() {
            Some(Fault::Unauthorized) => {
                f.token = None;
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"message": "Token expired"})),
                );
            }
            Some(Fault::ServerError) => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"message": "Internal error"})),
                );
            }
            Some(Fault::TooMany) => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({"message": "Too many requests"})),
                );
            }
            Some(Fault::Refused(why)) => {
                return (
                    StatusCode::OK,
                    Json(json!({"success": false, "message": why, "number": body["number"]})),
                );
            }
            Some(Fault::Slow(d)) => (None::<()>, Some(d)),
            None => (None, None),
        }
    };
    let _ = fault;
    let id = {
        let mut f = s.lock().unwrap();
        f.next_id += 1;
        f.messages.push(body.clone());
        299_303_864 + f.next_id
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    (
        StatusCode::OK,
        Json(
            json!({"success": true, "message": "Enviado", "number": body["number"], "menssageId": id}),
        ),
    )
}

impl Liwa {
    /// Serves on 127.0.0.1, port 0, until the test's runtime ends.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(Fake::default()));
        let app = axum::Router::new()
            .route("/v2/auth/login", post(login))
            .route("/v2/sms/single", post(single))
            .route(
                "/_fake/messages",
                get(|State(s): State<Arc<Mutex<Fake>>>| async move {
                    Json(Value::Array(s.lock().unwrap().messages.clone()))
                }),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    /// The settings that point the worker here.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LIWA_API_KEY", API_KEY.to_owned()),
            ("LIWA_ACCOUNT", ACCOUNT.to_owned()),
            ("LIWA_PASSWORD", PASSWORD.to_owned()),
            ("LIWA_BASE_URL", format!("http://{}", self.addr)),
        ]
    }

    /// Makes the next send answer `fault`.
    pub fn fail_next(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push_back(fault);
    }

    /// The messages accepted so far, as sent.
    pub fn messages(&self) -> Vec<Value> {
        self.state.lock().unwrap().messages.clone()
    }

    /// How many times a client logged in.
    pub fn logins(&self) -> usize {
        self.state.lock().unwrap().logins
    }
}
