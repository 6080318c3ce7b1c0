//! The Liwa SMS gateway's HTTP API.
//!
//! `POST {LIWA_AUTH_URL}` with `{"account", "password"}` gives a token that
//! lives about a day; it is cached for 23 hours and fetched again once when
//! a send answers 401. `POST {LIWA_BASE_URL}/v2/sms/single` carries both
//! `Authorization: Bearer <token>` and `API-KEY: <key>`, and the body
//! `{"number": "573001234567", "message": "…", "type": 1}`: country code
//! and national number without the `+`. A 200 still has to say
//! `"success": true`; the gateway spells the id `menssageId`.

use std::time::{Duration, Instant};

use paqueteria_core::domain::Phone;
use paqueteria_core::settings::LiwaSettings;
use secrecy::ExposeSecret;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::SendError;
use super::ratelimit::RateLimit;

const TOKEN_LIFETIME: Duration = Duration::from_secs(23 * 3600);

#[derive(Deserialize)]
struct LoginReply {
    token: String,
}

#[derive(Deserialize)]
struct SendReply {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(rename = "menssageId", default)]
    message_id: Option<serde_json::Value>,
}

/// A Liwa client: token cache and the shared rate limit.
pub struct LiwaClient {
    http: reqwest::Client,
    settings: LiwaSettings,
    token: Mutex<Option<(String, Instant)>>,
    limit: Mutex<RateLimit>,
}

impl std::fmt::Debug for LiwaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiwaClient")
            .field("base_url", &self.settings.base_url)
            .finish_non_exhaustive()
    }
}

fn transport_error(e: &reqwest::Error) -> SendError {
    // Never echo the URL's query or headers; the message names the kind.
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    SendError::Transient(format!("SMS gateway {kind}"))
}

impl LiwaClient {
    /// A client with a time limit per call.
    pub fn new(
        settings: LiwaSettings,
        timeout: Duration,
        limit: RateLimit,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            http,
            settings,
            token: Mutex::new(None),
            limit: Mutex::new(limit),
        })
    }

    async fn login(&self) -> Result<String, SendError> {
        let reply = self
            .http
            .post(&self.settings.auth_url)
            .json(&serde_json::json!({
                "account": self.settings.account,
                "password": self.settings.password.expose_secret(),
            }))
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = reply.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(SendError::Transient(format!(
                "SMS gateway login answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(SendError::Permanent(format!(
                "SMS gateway login refused ({status}): check LIWA_ACCOUNT and LIWA_PASSWORD"
            )));
        }
        let body: LoginReply = reply
            .json()
            .await
            .map_err(|e| SendError::Transient(format!("SMS gateway login reply: {e}")))?;
        Ok(body.token)
    }

    async fn token(&self, fresh: bool) -> Result<String, SendError> {
        let mut cached = self.token.lock().await;
        if !fresh
            && let Some((t, at)) = cached.as_ref()
            && at.elapsed() < TOKEN_LIFETIME
        {
            return Ok(t.clone());
        }
        let t = self.login().await?;
        *cached = Some((t.clone(), Instant::now()));
        Ok(t)
    }

    /// Takes one turn of the shared rate limit, or says how long until
    /// the next one. Call it before [`Self::send`].
    pub async fn take_turn(&self) -> Result<(), Duration> {
        self.limit.lock().await.try_acquire().await
    }

    /// Sends one SMS; returns the gateway's message id. The caller has taken
    /// a turn of the rate limit ([`Self::take_turn`]).
    pub async fn send(&self, to: &Phone, text: &str) -> Result<String, SendError> {
        let number = to.as_str().trim_start_matches('+').to_owned();
        let body = serde_json::json!({ "number": number, "message": text, "type": 1 });
        let url = format!("{}/v2/sms/single", self.settings.base_url);
        let mut fresh = false;
        loop {
            let token = self.token(fresh).await?;
            let reply = self
                .http
                .post(&url)
                .bearer_auth(&token)
                .header("API-KEY", self.settings.api_key.expose_secret())
                .json(&body)
                .send()
                .await
                .map_err(|e| transport_error(&e))?;
            let status = reply.status();
            if status.as_u16() == 401 && !fresh {
                fresh = true;
                continue;
            }
            let text = reply.text().await.unwrap_or_default();
            let parsed: Option<SendReply> = serde_json::from_str(&text).ok();
            let said = parsed
                .as_ref()
                .and_then(|r| r.message.clone())
                .unwrap_or_else(|| text.chars().take(200).collect());
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(SendError::Transient(format!(
                    "SMS gateway answered {status}: {said}"
                )));
            }
            if !status.is_success() {
                return Err(SendError::Permanent(format!(
                    "SMS gateway refused ({status}): {said}"
                )));
            }
            return match parsed {
                Some(r) if r.success => Ok(match r.message_id {
                    Some(serde_json::Value::String(s)) => s,
                    Some(v) => v.to_string(),
                    None => String::new(),
                }),
                Some(_) => Err(SendError::Permanent(format!("SMS gateway refused: {said}"))),
                None => Err(SendError::Transient(format!(
                    "SMS gateway answered 200 with an unreadable body: {said}"
                ))),
            };
        }
    }
}
