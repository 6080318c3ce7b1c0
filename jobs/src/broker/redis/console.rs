//! What the jobs console does beyond one job: pause and resume a queue
//! (`pause.lua`), list a state page by page (`browse.lua`), run a waiting
//! job now (`run_now.lua`), and retry or discard many dead jobs
//! (`dead_admin.lua`).

use std::collections::HashMap;

use redis::Value;

use super::decode::{as_int, info_from_hash};
use super::{RedisBroker, map_err};
use crate::broker::browse::{QueueMatches, bulk_targets, merge};
use crate::broker::{
    BrokerError, BrokerResult, DeadAction, JobFilter, JobId, JobInfo, JobPage, ListState,
    SEARCH_LIMIT,
};

/// Ids per `dead_admin.lua` call in a bulk action.
const BULK_CHUNK: usize = 500;

/// The action as `dead_admin.lua` names it.
fn script_action(action: DeadAction) -> &'static str {
    match action {
        DeadAction::Retry => "rerun",
        DeadAction::Discard => "discard",
    }
}

impl RedisBroker {
    pub(super) async fn pause_impl(&self, queue: &str, pause: bool) -> BrokerResult<bool> {
        if pause {
            self.register_queue(queue).await?;
        }
        let k = self.keys(queue);
        let changed: i64 = self
            .inner
            .scripts
            .pause
            .key(&k.paused)
            .arg(if pause { "pause" } else { "resume" })
            .arg(&k.wake)
            .arg(self.now())
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(changed == 1)
    }

    pub(super) async fn list_jobs_impl(&self, filter: &JobFilter) -> BrokerResult<JobPage> {
        let want = filter.wanted()?;
        let lists = self.matches(filter, want).await?;
        let (page, more) = merge(lists, filter.offset, filter.limit);
        let keys: Vec<(&str, String)> = page
            .iter()
            .map(|(queue, id)| {
                let key = format!("{}{id}", self.keys(queue).job_prefix);
                (queue.as_str(), key)
            })
            .collect();
        let hashes: Vec<HashMap<String, String>> = self.hgetall_each(&keys).await?;
        // A job settled or deleted since the listing read it is shown as it
        // is now, or left out when it is gone.
        let jobs: Vec<JobInfo> = page
            .iter()
            .zip(hashes)
            .filter(|(_, h)| !h.is_empty())
            .map(|((queue, id), h)| info_from_hash(id.as_str(), queue, &h))
            .collect();
        Ok(JobPage { jobs, more })
    }

    pub(super) async fn run_now_impl(&self, id: &JobId) -> BrokerResult<bool> {
        let Some((queue, _)) = self.find(id).await? else {
            return Ok(false);
        };
        let k = self.keys(&queue);
        let done: i64 = self
            .inner
            .scripts
            .run_now
            .key(&k.sched)
            .key(&k.ready)
            .arg(&k.job_prefix)
            .arg(id.as_str())
            .arg(self.now())
            .arg(&k.wake)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(done == 1)
    }

    pub(super) async fn bulk_dead_impl(
        &self,
        action: DeadAction,
        ids: &[JobId],
    ) -> BrokerResult<u64> {
        // An id is in at most one queue's dead set, and dead_admin.lua acts
        // only on ids its ZREM finds: offering every id to every queue costs
        // a few ZREMs and no lookup of the queue.
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        let mut n = 0;
        for queue in self.queues_impl().await? {
            for chunk in ids.chunks(BULK_CHUNK) {
                n += self
                    .dead_admin(&queue, script_action(action), chunk)
                    .await?;
            }
        }
        Ok(n)
    }

    pub(super) async fn bulk_dead_matching_impl(
        &self,
        action: DeadAction,
        filter: &JobFilter,
    ) -> BrokerResult<u64> {
        if filter.state != ListState::Dead {
            return Err(BrokerError::Invalid(format!(
                "bulk {} acts on the dead set, not on {} jobs",
                action.as_str(),
                filter.state
            )));
        }
        let lists = self.matches(filter, SEARCH_LIMIT).await?;
        let mut n = 0;
        for (queue, ids) in bulk_targets(lists) {
            let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
            for chunk in ids.chunks(BULK_CHUNK) {
                n += self
                    .dead_admin(&queue, script_action(action), chunk)
                    .await?;
            }
        }
        Ok(n)
    }

    /// The first `want` matches of `filter` in each of its queues, newest
    /// first, with their sort keys.
    async fn matches(&self, filter: &JobFilter, want: usize) -> BrokerResult<Vec<QueueMatches>> {
        let mut lists = Vec::new();
        for queue in self.queue_list(filter.queue.as_deref()).await? {
            let k = self.keys(&queue);
            let (structure, kind) = match filter.state {
                ListState::Queued => (&k.ready, "list"),
                ListState::Scheduled => (&k.sched, "zset"),
                ListState::Running => (&k.run, "zset"),
                ListState::Dead => (&k.dead, "zset"),
            };
            let vals: Vec<Value> = self
                .inner
                .scripts
                .browse
                .key(structure)
                .arg(&k.job_prefix)
                .arg(kind)
                .arg(want)
                .arg(SEARCH_LIMIT)
                .arg(filter.name_filter().unwrap_or(""))
                .arg(filter.folded_text().unwrap_or_default())
                .invoke_async(&mut self.conn())
                .await
                .map_err(map_err)?;
            let found = vals
                .chunks_exact(2)
                .filter_map(|pair| {
                    let id = match &pair[0] {
                        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                        _ => return None,
                    };
                    Some((as_int(&pair[1]), JobId(id)))
                })
                .collect();
            lists.push((queue, found));
        }
        Ok(lists)
    }
}
