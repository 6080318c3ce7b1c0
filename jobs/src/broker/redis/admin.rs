//! What operators and dashboards ask for: a job by id, cancel
//! (`cancel.lua`), the dead set (`dead_admin.lua`), purge (`purge.lua`),
//! stats (`stats.lua`), the queues, and the worker registry.

use std::collections::HashMap;

use redis::AsyncCommands;

use super::decode::info_from_hash;
use super::{CHUNK, RedisBroker, map_err};
use crate::broker::{
    BrokerError, BrokerResult, CancelOutcome, JobId, JobInfo, JobState, QueueStats, Throughput,
    ThroughputPoint, WorkerInfo,
};

impl RedisBroker {
    pub(super) async fn job_impl(&self, id: &JobId) -> BrokerResult<Option<JobInfo>> {
        Ok(self
            .find(id)
            .await?
            .map(|(queue, h)| info_from_hash(id.as_str(), &queue, &h)))
    }

    pub(super) async fn cancel_impl(&self, id: &JobId) -> BrokerResult<CancelOutcome> {
        let Some((queue, _)) = self.find(id).await? else {
            return Ok(CancelOutcome::Unknown);
        };
        let k = self.keys(&queue);
        let (outcome, state): (String, String) = self
            .inner
            .scripts
            .cancel
            .key(&k.ready)
            .key(&k.sched)
            .arg(&k.job_prefix)
            .arg(id.as_str())
            .arg(self.now())
            .arg(Self::keep_ms(self.inner.config.retention.succeeded))
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(match outcome.as_str() {
            "cancelled" => CancelOutcome::Cancelled,
            "requested" => CancelOutcome::Requested,
            "finished" => CancelOutcome::AlreadyFinished(
                JobState::parse(&state).unwrap_or(JobState::Succeeded),
            ),
            _ => CancelOutcome::Unknown,
        })
    }

    pub(super) async fn dead_jobs_impl(
        &self,
        queue: Option<&str>,
        limit: usize,
    ) -> BrokerResult<Vec<JobInfo>> {
        let mut all = Vec::new();
        for q in self.queue_list(queue).await? {
            let k = self.keys(&q);
            let ids: Vec<String> = self
                .conn()
                .zrevrange(&k.dead, 0, isize::try_from(limit).unwrap_or(isize::MAX) - 1)
                .await
                .map_err(map_err)?;
            if ids.is_empty() {
                continue;
            }
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.hgetall(format!("{}{id}", k.job_prefix));
            }
            let hashes: Vec<HashMap<String, String>> =
                pipe.query_async(&mut self.conn()).await.map_err(map_err)?;
            all.extend(
                ids.iter()
                    .zip(hashes)
                    .filter(|(_, h)| !h.is_empty())
                    .map(|(id, h)| info_from_hash(id, &q, &h)),
            );
        }
        all.sort_by_key(|j| std::cmp::Reverse(j.finished_at_ms));
        all.truncate(limit);
        Ok(all)
    }

    pub(super) async fn rerun_dead_impl(&self, id: &JobId) -> BrokerResult<bool> {
        let Some((queue, _)) = self.find(id).await? else {
            return Ok(false);
        };
        Ok(self
            .dead_admin(&queue, "rerun", &[id.as_str().to_owned()])
            .await?
            == 1)
    }

    pub(super) async fn rerun_all_dead_impl(&self, queue: Option<&str>) -> BrokerResult<u64> {
        let mut n = 0;
        for q in self.queue_list(queue).await? {
            let k = self.keys(&q);
            let total: u64 = self.conn().zcard(&k.dead).await.map_err(map_err)?;
            let mut done = 0;
            while done < total {
                let ids: Vec<String> =
                    self.conn().zrange(&k.dead, 0, 499).await.map_err(map_err)?;
                if ids.is_empty() {
                    break;
                }
                let moved = self.dead_admin(&q, "rerun", &ids).await?;
                done += u64::try_from(ids.len()).unwrap_or(0);
                n += moved;
            }
        }
        Ok(n)
    }

    pub(super) async fn discard_impl(&self, id: &JobId) -> BrokerResult<bool> {
        let Some((queue, _)) = self.find(id).await? else {
            return Ok(false);
        };
        Ok(self
            .dead_admin(&queue, "discard", &[id.as_str().to_owned()])
            .await?
            == 1)
    }

    pub(super) async fn purge_impl(&self, queue: &str) -> BrokerResult<u64> {
        let k = self.keys(queue);
        let mut n = 0;
        loop {
            let deleted: u64 = self
                .inner
                .scripts
                .purge
                .key(&k.ready)
                .key(&k.sched)
                .arg(&k.job_prefix)
                .arg(CHUNK)
                .invoke_async(&mut self.conn())
                .await
                .map_err(map_err)?;
            n += deleted;
            if deleted == 0 {
                return Ok(n);
            }
        }
    }

    pub(super) async fn stats_impl(&self, queues: &[String]) -> BrokerResult<Vec<QueueStats>> {
        let queues = if queues.is_empty() {
            self.queues_impl().await?
        } else {
            queues.to_vec()
        };
        let now = self.now();
        let mut out = Vec::with_capacity(queues.len());
        for q in queues {
            let k = self.keys(&q);
            let r: Vec<i64> = self
                .inner
                .scripts
                .stats
                .key(&k.ready)
                .key(&k.sched)
                .key(&k.run)
                .key(&k.dead)
                .key(&k.stats)
                .key(&k.paused)
                .key(&k.tp)
                .arg(&k.job_prefix)
                .arg(self.bucket())
                .invoke_async(&mut self.conn())
                .await
                .map_err(map_err)?;
            let get = |i: usize| r.get(i).copied().unwrap_or(0);
            let oldest = get(4);
            out.push(QueueStats {
                queue: q,
                queued: u64::try_from(get(0)).unwrap_or(0),
                scheduled: u64::try_from(get(1)).unwrap_or(0),
                running: u64::try_from(get(2)).unwrap_or(0),
                dead: u64::try_from(get(3)).unwrap_or(0),
                oldest_age_s: if oldest < 0 {
                    0.0
                } else {
                    ((now - oldest).max(0) as f64) / 1000.0
                },
                stale_acks: u64::try_from(get(5)).unwrap_or(0),
                paused: get(6) == 1,
                throughput: Throughput {
                    succeeded_1m: u64::try_from(get(7)).unwrap_or(0),
                    failed_1m: u64::try_from(get(8)).unwrap_or(0),
                    succeeded_1h: u64::try_from(get(9)).unwrap_or(0),
                    failed_1h: u64::try_from(get(10)).unwrap_or(0),
                },
            });
        }
        Ok(out)
    }

    /// The hour's series of `queues`: each queue's throughput hash read in
    /// one pipeline, its `s:<bucket>` and `f:<bucket>` fields folded.
    pub(super) async fn throughput_series_impl(
        &self,
        queues: &[String],
    ) -> BrokerResult<Vec<ThroughputPoint>> {
        let queues = if queues.is_empty() {
            self.queues_impl().await?
        } else {
            queues.to_vec()
        };
        let keys: Vec<(&str, String)> = queues
            .iter()
            .map(|q| (q.as_str(), self.keys(q).tp))
            .collect();
        let hashes: Vec<HashMap<String, u64>> = self.hgetall_each(&keys).await?;
        let buckets = hashes.into_iter().flatten().filter_map(|(field, n)| {
            let (kind, bucket) = field.split_once(':')?;
            let bucket: i64 = bucket.parse().ok()?;
            match kind {
                "s" => Some((bucket, n, 0)),
                "f" => Some((bucket, 0, n)),
                _ => None,
            }
        });
        Ok(crate::broker::browse::fold_series(self.bucket(), buckets))
    }

    pub(super) async fn queues_impl(&self) -> BrokerResult<Vec<String>> {
        let mut q: Vec<String> = self
            .conn()
            .smembers(self.queues_key())
            .await
            .map_err(map_err)?;
        q.sort();
        Ok(q)
    }

    pub(super) async fn register_worker_impl(&self, info: &WorkerInfo) -> BrokerResult<()> {
        for q in &info.queues {
            self.register_queue(q).await?;
        }
        let json = serde_json::to_string(info).map_err(|e| BrokerError::Invalid(e.to_string()))?;
        let _: i64 = self
            .conn()
            .hset(self.workers_key(), &info.id, json)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(super) async fn unregister_worker_impl(&self, id: &str) -> BrokerResult<()> {
        let _: i64 = self
            .conn()
            .hdel(self.workers_key(), id)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(super) async fn workers_impl(&self) -> BrokerResult<Vec<WorkerInfo>> {
        let all: HashMap<String, String> = self
            .conn()
            .hgetall(self.workers_key())
            .await
            .map_err(map_err)?;
        let cutoff =
            self.now() - 3 * i64::try_from(self.inner.config.lease.as_millis()).unwrap_or(10_000);
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for (id, json) in all {
            match serde_json::from_str::<WorkerInfo>(&json) {
                Ok(w) if w.last_seen_ms >= cutoff => live.push(w),
                _ => gone.push(id),
            }
        }
        if !gone.is_empty() {
            let _: i64 = self
                .conn()
                .hdel(self.workers_key(), gone)
                .await
                .map_err(map_err)?;
        }
        live.sort_by_key(|w| w.started_at_ms);
        Ok(live)
    }

    pub(super) async fn find(
        &self,
        id: &JobId,
    ) -> BrokerResult<Option<(String, HashMap<String, String>)>> {
        let queues = self.queues_impl().await?;
        let keys: Vec<(&str, String)> = queues
            .iter()
            .map(|q| {
                let key = format!("{}{}", self.keys(q).job_prefix, id.as_str());
                (q.as_str(), key)
            })
            .collect();
        let found: Vec<HashMap<String, String>> = self.hgetall_each(&keys).await?;
        Ok(queues.into_iter().zip(found).find(|(_, h)| !h.is_empty()))
    }

    pub(super) async fn dead_admin(
        &self,
        queue: &str,
        action: &str,
        ids: &[String],
    ) -> BrokerResult<u64> {
        let k = self.keys(queue);
        let mut inv = self.inner.scripts.dead_admin.key(&k.dead);
        inv.key(&k.ready)
            .arg(&k.job_prefix)
            .arg(action)
            .arg(&k.wake);
        for id in ids {
            inv.arg(id);
        }
        inv.invoke_async(&mut self.conn()).await.map_err(map_err)
    }

    pub(super) async fn queue_list(&self, queue: Option<&str>) -> BrokerResult<Vec<String>> {
        match queue {
            Some(q) => Ok(vec![q.to_owned()]),
            None => self.queues_impl().await,
        }
    }
}
