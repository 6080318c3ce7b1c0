//! Sending a notification at most once per row.
//!
//! A send job [`Store::claim_notification`]s its row before it calls the
//! gateway or the SMTP server: the row goes `sending`. After the call it is
//! recorded `sent` (with the provider's message id) or released for a retry
//! or marked `failed`. A redelivered job finds the row `sent` and does
//! nothing. If it finds the row still `sending`, the attempt before it died
//! during the call and may have delivered: the row becomes `unknown` and is
//! not sent again, so nobody receives a message twice.

use sqlx::Row;

use super::rows::{NOTIFICATION_COLUMNS, notification_from};
use super::{Notification, OutboxMessage, Store, StoreError, StoreResult};

/// What a send attempt may do with its row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Send it: the row is now `sending`.
    Send(Notification),
    /// Already sent by an earlier attempt.
    AlreadySent(Notification),
    /// An earlier attempt died during the call; its outcome is unknown and
    /// the row is not sent again.
    Unknown(Notification),
}

/// Notifications committed but not yet handed to the broker, per channel.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxBacklog {
    /// `sms` or `email`.
    pub channel: &'static str,
    /// Rows still pending.
    pub pending: i64,
    /// Age of the oldest of them in seconds (0 when none).
    pub oldest_age_s: f64,
}

impl Store {
    /// The outbox backlog of both channels (for `/metrics`): a read of the
    /// pending index only.
    pub async fn outbox_backlog(&self) -> StoreResult<Vec<OutboxBacklog>> {
        let rows = sqlx::query(
            "SELECT channel, COUNT(*) AS n, MIN(created_at) AS oldest FROM notifications \
             WHERE state = 'pending' GROUP BY channel",
        )
        .fetch_all(&self.pool)
        .await?;
        let now = self.now();
        let mut out: Vec<OutboxBacklog> = ["sms", "email"]
            .into_iter()
            .map(|channel| OutboxBacklog {
                channel,
                pending: 0,
                oldest_age_s: 0.0,
            })
            .collect();
        for row in rows {
            let channel: String = row.try_get("channel")?;
            let Some(b) = out.iter_mut().find(|b| b.channel == channel) else {
                continue;
            };
            b.pending = row.try_get("n")?;
            let oldest: Option<i64> = row.try_get("oldest")?;
            b.oldest_age_s = oldest.map_or(0.0, |t| (now - t).max(0) as f64 / 1_000.0);
        }
        Ok(out)
    }

    /// One notification.
    pub async fn notification(&self, id: i64) -> StoreResult<Notification> {
        let row = self
            .row_by_id(
                &format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1"),
                id,
                "notification",
            )
            .await?;
        notification_from(&row)
    }

    /// Claims a row for one send attempt (see the module docs). A `failed`
    /// row may be claimed again: that is an operator retrying a dead job.
    pub async fn claim_notification(&self, id: i64) -> StoreResult<Claim> {
        let now = self.now();
        // One conditional statement per step, so two attempts at once
        // (a redelivered job and a resend, on any engine) cannot both
        // take the row: only one moves it to `sending`.
        let taken = sqlx::query(&format!(
            "UPDATE notifications SET state = 'sending', attempted_at = $1 \
             WHERE id = $2 AND state IN ('pending', 'enqueued', 'failed') \
             RETURNING {NOTIFICATION_COLUMNS}"
        ))
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = taken {
            return Ok(Claim::Send(notification_from(&row)?));
        }
        sqlx::query(
            "UPDATE notifications SET state = 'unknown', attempted_at = $1, error = $2 \
             WHERE id = $3 AND state = 'sending'",
        )
        .bind(now)
        .bind(
            "an earlier attempt stopped during the send; it may have been delivered, so it is not sent again",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        let n = self.notification(id).await?;
        Ok(match n.state.as_str() {
            "sent" => Claim::AlreadySent(n),
            _ => Claim::Unknown(n),
        })
    }

    /// Records a delivered message and how it left. A reissued PIN's
    /// text, once the gateway has it, is kept masked.
    pub async fn mark_notification_sent(
        &self,
        id: i64,
        transport: &str,
        provider_message_id: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE notifications SET state = 'sent', transport = $1, provider_message_id = $2, \
             sent_at = $3, error = NULL, \
             body = CASE WHEN template = $5 THEN $6 ELSE body END WHERE id = $4",
        )
        .bind(transport)
        .bind(provider_message_id)
        .bind(self.now())
        .bind(id)
        .bind(super::PIN_TEMPLATE)
        .bind("Paqueteria: nuevo PIN de entrega enviado (oculto).")
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives the row back after an attempt that certainly did not deliver
    /// (connection refused, 5xx, 429): the retry may send it.
    pub async fn release_notification(&self, id: i64, error: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE notifications SET state = 'enqueued', error = $1 WHERE id = $2 AND state = 'sending'",
        )
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a permanent failure (the gateway refused the message).
    pub async fn mark_notification_failed(&self, id: i64, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE notifications SET state = 'failed', error = $1 WHERE id = $2")
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Keeps a message in the outbox (no transport configured) and records
    /// the row sent, in one transaction. The outbox keeps one message per
    /// row: a resend from the console (a new claim of a failed row) puts
    /// its send in place of the first, dated now.
    pub async fn deliver_to_outbox(
        &self,
        notification_id: i64,
        subject: Option<&str>,
        text_body: &str,
        html_body: Option<&str>,
    ) -> StoreResult<()> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT channel, recipient FROM notifications WHERE id = $1")
            .bind(notification_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("notification"))?;
        let channel: String = row.try_get("channel")?;
        let recipient: String = row.try_get("recipient")?;
        sqlx::query(
            "INSERT INTO outbox_messages (notification_id, channel, recipient, subject, text_body, html_body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (notification_id) DO UPDATE SET \
             subject = excluded.subject, text_body = excluded.text_body, \
             html_body = excluded.html_body, created_at = excluded.created_at",
        )
        .bind(notification_id)
        .bind(&channel)
        .bind(&recipient)
        .bind(subject)
        .bind(text_body)
        .bind(html_body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE notifications SET state = 'sent', transport = 'outbox', sent_at = $1, error = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(notification_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The outbox, newest first; `channel` filters to `sms` or `email`.
    pub async fn outbox_messages(
        &self,
        channel: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let rows = sqlx::query(
            "SELECT id, notification_id, channel, recipient, subject, text_body, html_body, created_at \
             FROM outbox_messages WHERE ($1 IS NULL OR channel = $1) ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(channel)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxMessage {
                    id: r.try_get("id")?,
                    notification_id: r.try_get("notification_id")?,
                    channel: r.try_get("channel")?,
                    recipient: r.try_get("recipient")?,
                    subject: r.try_get("subject")?,
                    text_body: r.try_get("text_body")?,
                    html_body: r.try_get("html_body")?,
                    created_at_ms: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Messages newest first, for the console: in `state` (`pending`,
    /// `enqueued`, `sending`, `sent`, `failed`, `unknown`) and on `channel`
    /// when given, about parcels from or to `branch_id` when given (a
    /// supervisor's), older than `before_id` (the next page), at most
    /// `limit`, each with when it was created.
    pub async fn messages(
        &self,
        state: Option<&str>,
        channel: Option<&str>,
        branch_id: Option<i64>,
        before_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<(Notification, i64)>> {
        let rows = sqlx::query(&format!(
            "SELECT {NOTIFICATION_COLUMNS}, created_at FROM notifications \
             WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR channel = $2) \
             AND (CAST($3 AS BIGINT) IS NULL OR parcel_id IN \
                  (SELECT id FROM parcels WHERE origin_branch_id = $3 OR destination_branch_id = $3)) \
             AND (CAST($4 AS BIGINT) IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        ))
        .bind(state)
        .bind(channel)
        .bind(branch_id)
        .bind(before_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((notification_from(r)?, r.try_get("created_at")?)))
            .collect()
    }

    /// Sends a `failed` message again for `actor_id`: the row goes back to
    /// `pending`, the relay enqueues a new send, and the audit log says
    /// who did it, in one transaction. Only a row that is still `failed`
    /// changes (two resends at once make one); a message whose earlier
    /// send may have reached its recipient (`unknown`) is never sent again,
    /// nor a pickup PIN (a newer one may have replaced it: a supervisor
    /// issues a new PIN instead). Whether the row was resent. A store
    /// working for a request ([`Store::for_request`]) records it on the
    /// row: the new send job is that request's.
    pub async fn resend_notification(&self, id: i64, actor_id: i64) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE notifications SET state = 'pending', resends = resends + 1, job_id = NULL, \
             enqueued_at = NULL, request_id = COALESCE($3, request_id) \
             WHERE id = $1 AND state = 'failed' AND template <> $2",
        )
        .bind(id)
        .bind(super::PIN_TEMPLATE)
        .bind(self.request_id())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            drop(tx);
            // A clear 404 for a row that does not exist.
            self.notification(id).await?;
            return Ok(false);
        }
        let subject = format!("notification:{id}");
        super::audit::audit_in(
            &mut tx,
            &super::AuditEntry {
                actor_id: Some(actor_id),
                action: super::AuditAction::MessageResent,
                subject: Some(&subject),
                detail: "sent again from the jobs console",
                client_addr: None,
            },
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
