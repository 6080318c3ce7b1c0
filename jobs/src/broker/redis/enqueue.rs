//! Enqueueing (`enqueue.lua`): a batch of one queue is one script call;
//! a queue's name is checked and recorded in `P:queues` on first use.

use std::collections::HashMap;

use redis::{AsyncCommands, ToRedisArgs};

use super::{RedisBroker, map_err};
use crate::broker::{BrokerError, BrokerResult, Enqueued, NewJob, check_request_id};

fn check_queue(queue: &str) -> BrokerResult<()> {
    if queue.is_empty()
        || queue.len() > 100
        || queue.contains(['{', '}'])
        || queue.chars().any(char::is_whitespace)
    {
        return Err(BrokerError::Invalid(format!(
            "queue name {queue:?} must have 1 to 100 characters, no braces or whitespace"
        )));
    }
    Ok(())
}

impl RedisBroker {
    pub(super) async fn enqueue_impl(&self, job: NewJob) -> BrokerResult<Enqueued> {
        let created = self
            .enqueue_queue(&job.queue.clone(), std::slice::from_ref(&job))
            .await?;
        Ok(Enqueued {
            id: job.id,
            created: created.first().copied().unwrap_or(false),
        })
    }

    pub(super) async fn enqueue_many_impl(&self, jobs: Vec<NewJob>) -> BrokerResult<Vec<Enqueued>> {
        // One script call per queue and per 1,000 jobs, all on the
        // multiplexed connection.
        let mut by_queue: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, j) in jobs.iter().enumerate() {
            by_queue.entry(j.queue.as_str()).or_default().push(i);
        }
        let mut created = vec![false; jobs.len()];
        for (queue, idx) in by_queue {
            for chunk in idx.chunks(1000) {
                let batch: Vec<NewJob> = chunk.iter().map(|&i| jobs[i].clone()).collect();
                let res = self.enqueue_queue(queue, &batch).await?;
                for (&i, c) in chunk.iter().zip(res) {
                    created[i] = c;
                }
            }
        }
        Ok(jobs
            .into_iter()
            .zip(created)
            .map(|(j, created)| Enqueued { id: j.id, created })
            .collect())
    }

    pub(super) async fn register_queue(&self, queue: &str) -> BrokerResult<()> {
        if self.inner.registered.lock().await.contains(queue) {
            return Ok(());
        }
        let _: i64 = self
            .conn()
            .sadd(self.queues_key(), queue)
            .await
            .map_err(map_err)?;
        self.inner.registered.lock().await.insert(queue.to_owned());
        Ok(())
    }

    async fn enqueue_queue(&self, queue: &str, jobs: &[NewJob]) -> BrokerResult<Vec<bool>> {
        check_queue(queue)?;
        for j in jobs {
            check_request_id(j.request_id.as_deref())?;
        }
        self.register_queue(queue).await?;
        let k = self.keys(queue);
        let now = self.now();
        if let Some(waiting) = &self.inner.waiting {
            let mut script = redis::cmd("EVALSHA");
            script
                .arg(self.inner.scripts.enqueue.get_hash())
                .arg(2)
                .arg(&k.ready)
                .arg(&k.sched)
                .arg(&k.job_prefix)
                .arg(now)
                .arg(&k.wake);
            push_jobs(&mut script, jobs);
            let marker = format!("{}:{{{queue}}}:wait", self.inner.prefix);
            let created = self
                .enqueue_waited(waiting, &k.ready, &marker, script)
                .await?;
            return Ok(created.into_iter().map(|c| c == 1).collect());
        }
        let mut inv = self.inner.scripts.enqueue.key(&k.ready);
        inv.key(&k.sched).arg(&k.job_prefix).arg(now).arg(&k.wake);
        push_jobs(&mut inv, jobs);
        let created: Vec<i64> = inv.invoke_async(&mut self.conn()).await.map_err(map_err)?;
        Ok(created.into_iter().map(|c| c == 1).collect())
    }
}

/// A command being built: the script invocation, or the `EVALSHA` sent
/// in a pipeline with `WAIT`.
trait Args {
    fn push<T: ToRedisArgs>(&mut self, v: T);
}

impl Args for redis::Cmd {
    fn push<T: ToRedisArgs>(&mut self, v: T) {
        self.arg(v);
    }
}

impl Args for redis::ScriptInvocation<'_> {
    fn push<T: ToRedisArgs>(&mut self, v: T) {
        self.arg(v);
    }
}

/// Writes the nine values per job `enqueue.lua` reads straight into `out`.
fn push_jobs(out: &mut impl Args, jobs: &[NewJob]) {
    for j in jobs {
        let p = &j.policy;
        out.push(j.id.as_str());
        out.push(&j.name);
        out.push(&j.payload);
        out.push(j.run_at_ms.unwrap_or(0));
        out.push(p.retry.max_attempts);
        out.push(p.timeout_ms);
        out.push(p.retry.backoff_base_ms);
        out.push(p.retry.backoff_max_ms);
        out.push(j.request_id.as_deref().unwrap_or(""));
    }
}
