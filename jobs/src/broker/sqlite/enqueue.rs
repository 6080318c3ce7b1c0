//! Enqueueing: a batch is one write transaction, each job one INSERT at
//! the tail of its queue (or scheduled); a queue's name is checked and
//! recorded in `queues` on first use.

use std::collections::HashSet;

use super::{SqliteBroker, TAIL_SEQ, map_err};
use crate::broker::{BrokerError, BrokerResult, Enqueued, NewJob, check_request_id};

fn check_queue(queue: &str) -> BrokerResult<()> {
    if queue.is_empty() || queue.len() > 100 || queue.chars().any(char::is_whitespace) {
        return Err(BrokerError::Invalid(format!(
            "queue name {queue:?} must have 1 to 100 characters and no whitespace"
        )));
    }
    Ok(())
}

impl SqliteBroker {
    pub(super) async fn enqueue_impl(&self, job: NewJob) -> BrokerResult<Enqueued> {
        let mut done = self.enqueue_many_impl(vec![job]).await?;
        done.pop()
            .ok_or_else(|| BrokerError::Failed("enqueue returned nothing".to_owned()))
    }

    pub(super) async fn enqueue_many_impl(&self, jobs: Vec<NewJob>) -> BrokerResult<Vec<Enqueued>> {
        for j in &jobs {
            check_queue(&j.queue)?;
            check_request_id(j.request_id.as_deref())?;
        }
        let queues: HashSet<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
        for q in queues {
            self.register_queue(q).await?;
        }
        let now = self.now();
        let mut out = Vec::with_capacity(jobs.len());
        let mut woke = false;
        let mut tx = self.write_tx().await?;
        for j in jobs {
            let run_at = j.run_at_ms.filter(|&t| t > now);
            let state = if run_at.is_some() {
                "scheduled"
            } else {
                "queued"
            };
            let p = &j.policy;
            let created = sqlx::query(&format!(
                "INSERT INTO jobs (queue, id, name, payload, state, max_attempts, timeout_ms, backoff_base_ms, \
                 backoff_max_ms, enqueued_at, run_at, request_id, ready_seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, {TAIL_SEQ}) \
                 ON CONFLICT (id) DO NOTHING"
            ))
            .bind(&j.queue)
            .bind(j.id.as_str())
            .bind(&j.name)
            .bind(&j.payload)
            .bind(state)
            .bind(i64::from(p.retry.max_attempts))
            .bind(i64::try_from(p.timeout_ms).unwrap_or(i64::MAX))
            .bind(i64::try_from(p.retry.backoff_base_ms).unwrap_or(i64::MAX))
            .bind(i64::try_from(p.retry.backoff_max_ms).unwrap_or(i64::MAX))
            .bind(now)
            .bind(run_at.unwrap_or(now))
            .bind(j.request_id.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected()
                == 1;
            woke |= created && run_at.is_none();
            out.push(Enqueued { id: j.id, created });
        }
        tx.commit().await.map_err(map_err)?;
        if woke {
            self.wake();
        }
        Ok(out)
    }

    pub(super) async fn register_queue(&self, queue: &str) -> BrokerResult<()> {
        if self
            .inner
            .known_queues
            .lock()
            .map(|q| q.contains(queue))
            .unwrap_or(false)
        {
            return Ok(());
        }
        sqlx::query("INSERT OR IGNORE INTO queues (name) VALUES (?1)")
            .bind(queue)
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        if let Ok(mut q) = self.inner.known_queues.lock() {
            q.insert(queue.to_owned());
        }
        Ok(())
    }
}
