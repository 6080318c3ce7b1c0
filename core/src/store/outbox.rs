//! The outbox relay: turns committed notification rows into send jobs.
//!
//! A status change writes its notification rows in its own transaction, so
//! a rolled-back change leaves nothing to send. The relay then enqueues each
//! pending row as `sms.send` / `email.send` with the row's id as the job's
//! idempotency key, and marks the row enqueued. If the broker is down the
//! rows stay pending and go out once it is back; if the relay dies between
//! the enqueue and the mark, the next enqueue of the same id is a no-op. So
//! every notification becomes exactly one job.

use crate::domain::Phone;
use crate::jobs::{Job, SendEmail, SendSms};
use paqueteria_jobs::Broker;

use super::rows::{NOTIFICATION_COLUMNS, notification_from};
use super::{Notification, Store, StoreError, StoreResult};

/// What one relay round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Relayed {
    /// Rows enqueued and marked.
    pub enqueued: u64,
    /// Rows whose enqueue failed; they stay pending for the next round.
    pub failed: u64,
    /// The first enqueue error, when one failed. The caller logs it: a
    /// relay that runs every half second decides how often to say so.
    pub error: Option<String>,
}

impl Store {
    /// Pending notifications, oldest first.
    ///
    /// In the order of the index of pending ones (`notifications_pending`,
    /// by creation time): ordered by id alone, SQLite would walk every
    /// notification ever sent to find the few pending.
    pub async fn pending_notifications(&self, limit: i64) -> StoreResult<Vec<Notification>> {
        let rows = sqlx::query(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE state = 'pending' \
             ORDER BY created_at, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(notification_from).collect()
    }

    async fn mark_enqueued(&self, id: i64, job_id: &str) -> StoreResult<()> {
        // A fast worker may have claimed the row already: keep its state,
        // record the job either way.
        sqlx::query(
            "UPDATE notifications SET job_id = $1, enqueued_at = COALESCE(enqueued_at, $2), \
             state = CASE WHEN state = 'pending' THEN 'enqueued' ELSE state END WHERE id = $3",
        )
        .bind(job_id)
        .bind(self.now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Enqueues up to `limit` pending notifications.
    pub async fn relay_outbox(&self, broker: &dyn Broker, limit: i64) -> StoreResult<Relayed> {
        let mut r = Relayed::default();
        for n in self.pending_notifications(limit).await? {
            let job = match n.channel.as_str() {
                "sms" => SendSms {
                    notification_id: n.id,
                    to: Phone::parse(&n.recipient).map_err(StoreError::Database)?,
                    body: n.body.clone(),
                }
                .to_new_job(),
                _ => SendEmail {
                    notification_id: n.id,
                    to: n.recipient.clone(),
                    template: n.template.clone(),
                    context: email_context(&n),
                }
                .to_new_job(),
            }
            .map_err(|e| StoreError::Database(e.to_string()))?;
            // The request that wrote the row, so the job's log lines are
            // found from it (and it from the job's page).
            let job = job.with_request_id(n.request_id.clone());
            // A resend is a new send: a job id of its own, or the broker
            // would take it for the first send, already done.
            let job = if n.resends > 0 {
                let id = paqueteria_jobs::JobId::parse(format!("{}:resend{}", job.id, n.resends))
                    .map_err(StoreError::Database)?;
                job.with_id(id)
            } else {
                job
            };
            match broker.enqueue(job).await {
                Ok(done) => {
                    self.mark_enqueued(n.id, done.id.as_str()).await?;
                    r.enqueued += 1;
                }
                Err(e) => {
                    tracing::debug!(notification_id = n.id, error = %e, "could not enqueue a notification; it stays pending");
                    r.failed += 1;
                    if r.error.is_none() {
                        r.error = Some(format!("notification {}: {e}", n.id));
                    }
                    if e.is_transient() {
                        // The broker is down: the rest would fail the same way.
                        break;
                    }
                }
            }
        }
        Ok(r)
    }
}

/// The row's own template values plus its subject line and parcel.
fn email_context(n: &Notification) -> serde_json::Value {
    let mut context = match &n.context {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    context.insert("subject".to_owned(), n.body.clone().into());
    context.insert("parcel_id".to_owned(), n.parcel_id.into());
    serde_json::Value::Object(context)
}
