//! `sms.send`: one SMS through the Liwa gateway, or into the outbox when no
//! gateway is configured.
//!
//! The notification row makes it effectively-once: the attempt claims the
//! row before the call and records the gateway's message id after it (see
//! `paqueteria_core::store::Claim`). A redelivered job finds the row sent
//! and does nothing; one whose earlier attempt died during the call leaves
//! it `unknown` rather than risk a second SMS.
//!
//! Queue `sms`; 8 attempts, 5 s doubling to 1 h, 30 s limit; idempotency key
//! the notification id. When the gateway's rate limit has no turn free, the
//! job waits in its slot if the next turn is near (a quarter second at
//! most), else snoozes until it is (the attempt does not count, and the
//! worker slot goes to other queues' jobs).

use std::sync::Arc;
use std::time::Duration;

use paqueteria_core::jobs::SendSms;
use paqueteria_core::store::{Claim, StoreError};
use paqueteria_core::telemetry::Sent;
use paqueteria_jobs::EngineConfig;
use secrecy::ExposeSecret;
use serde_json::json;

use super::{Handlers, JobContext, JobError, JobResult, Services};
use crate::transport::SendError;
use crate::transport::liwa::LiwaClient;
use crate::transport::ratelimit::RateLimit;

/// Registers `sms.send`.
pub fn register(h: &mut Handlers, services: &Arc<Services>) -> anyhow::Result<()> {
    let transports = &services.settings.transports;
    let gateway = match &transports.sms {
        Some(liwa) => {
            let rate = transports.sms_rate_limit;
            let limit = match &services.settings.broker {
                EngineConfig::Redis { url, prefix, .. } => {
                    // Connects lazily: a Redis still starting is not fatal.
                    let url = url.expose_secret().to_owned();
                    let prefix = prefix.clone();
                    LazyLimit::Redis { url, prefix, rate }
                }
                EngineConfig::Sqlite { .. } => LazyLimit::Local(rate),
            };
            Some((liwa.clone(), transports.sms_timeout, limit))
        }
        None => None,
    };
    let s = services.clone();
    let client: Arc<tokio::sync::OnceCell<Arc<LiwaClient>>> =
        Arc::new(tokio::sync::OnceCell::new());
    h.register::<SendSms, _, _>(move |ctx, job| {
        let s = s.clone();
        let gateway = gateway.clone();
        let client = client.clone();
        async move {
            let liwa = match gateway {
                Some((settings, timeout, limit)) => Some(
                    client
                        .get_or_try_init(|| async move {
                            let limit = limit.connect().await?;
                            LiwaClient::new(settings, timeout, limit).map(Arc::new)
                        })
                        .await
                        .map_err(|e| JobError::retry(format!("SMS gateway client: {e}")))?
                        .clone(),
                ),
                None => None,
            };
            send(&s, liwa.as_deref(), ctx, job).await
        }
    });
    Ok(())
}

#[derive(Clone)]
enum LazyLimit {
    Redis {
        url: String,
        prefix: String,
        rate: u32,
    },
    Local(u32),
}

impl LazyLimit {
    async fn connect(self) -> anyhow::Result<RateLimit> {
        Ok(match self {
            Self::Redis { url, prefix, rate } => RateLimit::redis(&url, &prefix, rate).await?,
            Self::Local(rate) => RateLimit::local(rate),
        })
    }
}

/// Records a failed send on the notification row and says what the job
/// becomes: a transient failure frees the row for the retry, a permanent
/// one marks it failed and sends the job to the dead set.
pub(crate) async fn send_failed(s: &Services, id: i64, e: SendError) -> JobError {
    let (recorded, error) = match e {
        SendError::Transient(e) => (
            s.store.release_notification(id, &e).await,
            JobError::Retry(e),
        ),
        SendError::Permanent(e) => (
            s.store.mark_notification_failed(id, &e).await,
            JobError::Abort(e),
        ),
    };
    match recorded {
        Ok(()) => error,
        Err(e) => store_error(e),
    }
}

/// Counts one send attempt in `paqueteria_notifications_total`.
pub(crate) fn notified(channel: &'static str, outcome: Sent) {
    paqueteria_core::telemetry::notification_metrics().count(channel, outcome);
}

pub(crate) fn store_error(e: StoreError) -> JobError {
    match e {
        StoreError::NotFound(_) => JobError::abort(e),
        other => JobError::retry(other),
    }
}

/// A wait for the rate limit this short is spent in the worker slot; a
/// longer one gives the slot back (a snooze).
const SHORT_WAIT: Duration = Duration::from_millis(250);

/// Takes a turn of the gateway's rate limit: waits in the slot when the
/// next turn is near, else snoozes the job until it is (the attempt does not
/// count, and the slot goes to other queues' jobs meanwhile).
async fn take_turn(liwa: &LiwaClient) -> Result<(), JobError> {
    let mut waited = Duration::ZERO;
    loop {
        match liwa.take_turn().await {
            Ok(()) => return Ok(()),
            Err(wait) if waited + wait <= SHORT_WAIT => {
                tokio::time::sleep(wait).await;
                waited += wait;
            }
            Err(wait) => {
                // Jitter, so snoozed messages do not all come back in step.
                let jitter = Duration::from_millis(fastrand::u64(0..=50));
                return Err(JobError::snooze(wait + jitter));
            }
        }
    }
}

async fn send(s: &Services, liwa: Option<&LiwaClient>, ctx: JobContext, job: SendSms) -> JobResult {
    let id = job.notification_id;
    if let Some(liwa) = liwa {
        take_turn(liwa).await?;
    }
    match s.store.claim_notification(id).await.map_err(store_error)? {
        Claim::Send(_) => {}
        Claim::AlreadySent(n) => {
            notified("sms", Sent::Duplicate);
            tracing::info!(job_id = %ctx.id, notification_id = id, "SMS already sent; nothing to do");
            return Ok(Some(
                json!({ "skipped": "already sent", "provider_message_id": n.provider_message_id }),
            ));
        }
        Claim::Unknown(_) => {
            notified("sms", Sent::Unknown);
            tracing::warn!(job_id = %ctx.id, notification_id = id,
                "an earlier attempt stopped during the send; not sending again to avoid a duplicate");
            return Ok(Some(
                json!({ "skipped": "outcome of an earlier attempt unknown" }),
            ));
        }
    }
    let Some(liwa) = liwa else {
        s.store
            .deliver_to_outbox(id, None, &job.body, None)
            .await
            .map_err(store_error)?;
        notified("sms", Sent::Outboxed);
        tracing::info!(job_id = %ctx.id, notification_id = id, "SMS kept in the outbox (no gateway configured)");
        return Ok(Some(json!({ "transport": "outbox" })));
    };
    match liwa.send(&job.to, &job.body).await {
        Ok(message_id) => {
            s.store
                .mark_notification_sent(id, "liwa", Some(&message_id))
                .await
                .map_err(store_error)?;
            notified("sms", Sent::Sent);
            tracing::info!(job_id = %ctx.id, notification_id = id, %message_id, "SMS sent");
            Ok(Some(
                json!({ "transport": "liwa", "provider_message_id": message_id }),
            ))
        }
        Err(e) => {
            notified("sms", e.outcome());
            Err(send_failed(s, id, e).await)
        }
    }
}
