//! The scheduler (beat): enqueues each cron entry's jobs once per tick,
//! across restarts, deploys and failovers.
//!
//! - [`parse`]: entries from a TOML schedule, checked against a
//!   [`crate::Catalog`]; ticks in each entry's time zone, DST rules kept.
//! - [`StateFile`]: the last tick per entry, in a file written atomically.
//! - [`Leadership`]: one leader among any number of schedulers (a Redis
//!   lease, or a file lock on one machine).
//! - [`Entry::cadence`]: an entry's cadence in plain terms, to put in words.
//! - [`Scheduler`]: on every step, if it leads, it enqueues each tick that
//!   came due and records it.
//!
//! # Exactly once per tick
//! A tick is enqueued with the deterministic job id `<entry>:<tick UTC>`,
//! then recorded in the state file. A crash between the two enqueues the
//! same id again on restart, which the broker answers "already there":
//! the tick never fires twice.
//!
//! # Missed ticks
//! Ticks that came due while no scheduler led (before this one took the
//! lead, less a grace of five minutes that covers a failover) follow their
//! entry's catch-up policy. Ticks that came due while this scheduler led
//! always fire, however late (a broker outage delays them; it does not
//! drop them).

mod cadence;
mod leader;
mod metrics;
mod schedule;
mod state;

use std::time::Duration;

use crate::broker::{BrokerError, SharedBroker};
use crate::clock::Clock;

pub use cadence::{Cadence, Days};
pub use leader::{FileLock, Leadership, RedisLease};
pub use metrics::SchedulerMetrics;
pub use schedule::{CatchUp, Entry, ScheduleError, parse, tick_id, utc_text};
pub use state::{EntryState, Loaded, StateFile};

/// Why a scheduler step or command failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The broker refused or could not take a tick's job.
    #[error("enqueue {id}: {source}")]
    Enqueue {
        /// The tick's job id.
        id: String,
        /// The broker's error.
        source: BrokerError,
    },
    /// The state file could not be written.
    #[error("write the scheduler state {path}: {source}")]
    State {
        /// The state file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An entry's job could not be built (its payload no longer fits the
    /// job), or no entry has the name asked for.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// Ticks due this long before the lead was taken still fire regardless of
/// the catch-up policy: a failover's gap, not downtime.
pub const FAILOVER_GRACE_MS: i64 = 5 * 60 * 1_000;

/// Ticks looked at per entry and step at most.
const MAX_TICKS: usize = 10_000;

/// What one step did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Whether this scheduler leads.
    pub leader: bool,
    /// Ids of the jobs this step created.
    pub fired: Vec<String>,
    /// Ticks that were already enqueued (the id fence held).
    pub fenced: Vec<String>,
    /// Ticks passed over by a catch-up policy.
    pub skipped: usize,
    /// When to step again (Unix ms).
    pub next_ms: i64,
}

/// A scheduler.
pub struct Scheduler {
    entries: Vec<Entry>,
    state: StateFile,
    broker: SharedBroker,
    leadership: Leadership,
    metrics: SchedulerMetrics,
    leading_since: Option<i64>,
    standby_poll_ms: i64,
    /// Per entry, the job id of its latest tick whose success is not known
    /// yet: looked up on each step until it settles.
    watch: Vec<Option<String>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("entries", &self.entries.len())
            .field("state", &self.state.path())
            .field("leading_since", &self.leading_since)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Loads the state at `state_path`: entries no longer in the schedule
    /// are dropped from it, new ones start at `now_ms` (their past never
    /// fires).
    pub fn new(
        entries: Vec<Entry>,
        state_path: &std::path::Path,
        broker: SharedBroker,
        leadership: Leadership,
        metrics: SchedulerMetrics,
        now_ms: i64,
        lease: Duration,
    ) -> std::io::Result<Self> {
        let (mut state, loaded) = StateFile::load(state_path, now_ms);
        match &loaded {
            Loaded::Existing => {}
            Loaded::Missing => {
                tracing::info!(path = %state_path.display(), "no scheduler state yet: a fresh start, nothing in the past fires")
            }
            Loaded::Corrupt { reason, moved_to } => tracing::error!(
                path = %state_path.display(),
                moved_to = ?moved_to.as_ref().map(|p| p.display().to_string()),
                %reason,
                "the scheduler state file is corrupt; it was set aside and is rebuilt from now"
            ),
        }
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        for dropped in state.retain(&names) {
            tracing::info!(entry = %dropped, "entry no longer in the schedule; dropped from the state");
        }
        for e in &entries {
            if state.get(&e.name).is_none() {
                tracing::info!(entry = %e.name, "new entry; it starts from now");
                state.set(&e.name, now_ms, now_ms);
            }
            let name = [e.name.as_str()];
            metrics.init_entry(&e.name);
            if let Some(gap) = e.longest_gap_ms(now_ms) {
                metrics
                    .interval
                    .with_label_values(&name)
                    .set(gap as f64 / 1_000.0);
            }
            if let Some(s) = state.get(&e.name) {
                metrics
                    .last_tick
                    .with_label_values(&name)
                    .set(s.last_tick_ms as f64 / 1_000.0);
                if let Some(ok) = s.last_success_ms {
                    metrics
                        .last_success
                        .with_label_values(&name)
                        .set(ok as f64 / 1_000.0);
                }
            }
        }
        state.save()?;
        let standby_poll_ms = i64::try_from(lease.as_millis() / 5)
            .unwrap_or(1_000)
            .clamp(100, 5_000);
        Ok(Self {
            watch: vec![None; entries.len()],
            entries,
            state,
            broker,
            leadership,
            metrics,
            leading_since: None,
            standby_poll_ms,
        })
    }

    /// The entries.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The state.
    pub fn state(&self) -> &StateFile {
        &self.state
    }

    /// The metrics.
    pub fn metrics(&self) -> &SchedulerMetrics {
        &self.metrics
    }

    /// One step at `now_ms` (see the module docs). A broker error ends the
    /// step early; what was not recorded fires on the next one.
    pub async fn step(&mut self, now_ms: i64) -> Result<Step, SchedulerError> {
        let mut step = Step::default();
        if !self.leadership.hold(now_ms).await {
            if self.leading_since.take().is_some() {
                tracing::warn!("lost the leader lease; standing by");
            }
            self.metrics.is_leader.set(0);
            step.next_ms = now_ms + self.standby_poll_ms;
            return Ok(step);
        }
        step.leader = true;
        self.metrics.is_leader.set(1);
        self.metrics.heartbeat.set(now_ms as f64 / 1_000.0);
        let leading_since = match self.leading_since {
            Some(t) => t,
            None => {
                tracing::info!("took the leader lease");
                for (entry, tick) in self.leadership.shared_ticks().await {
                    if self.entries.iter().any(|e| e.name == entry) {
                        self.state.set(&entry, tick, now_ms);
                    }
                }
                // The latest tick's job may still succeed: keep looking.
                for (i, e) in self.entries.iter().enumerate() {
                    self.watch[i] = self
                        .state
                        .get(&e.name)
                        .map(|s| tick_id(&e.name, s.last_tick_ms));
                }
                self.leading_since = Some(now_ms);
                now_ms
            }
        };
        let mut changed = Vec::new();
        for i in 0..self.entries.len() {
            let entry = &self.entries[i];
            let last = self
                .state
                .get(&entry.name)
                .map_or(now_ms, |s| s.last_tick_ms);
            let due = entry.ticks_between(last, now_ms, MAX_TICKS);
            let Some(&latest) = due.last() else { continue };
            let cutoff = leading_since - FAILOVER_GRACE_MS;
            let missed: Vec<i64> = due.iter().copied().filter(|t| *t < cutoff).collect();
            let kept: Vec<i64> = match entry.catch_up {
                CatchUp::Skip => Vec::new(),
                CatchUp::Once => missed.last().copied().into_iter().collect(),
                CatchUp::Backfill(n) => {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    missed[missed.len().saturating_sub(n)..].to_vec()
                }
            };
            if missed.len() > kept.len() {
                tracing::info!(
                    entry = %entry.name, missed = missed.len(), firing = kept.len(),
                    policy = %entry.catch_up, "ticks missed while no scheduler ran"
                );
            }
            step.skipped += missed.len() - kept.len();
            self.metrics
                .missed
                .with_label_values(&[entry.name.as_str()])
                .inc_by(u64::try_from(missed.len()).unwrap_or(0));
            let fire = kept
                .into_iter()
                .chain(due.iter().copied().filter(|t| *t >= cutoff));
            for tick in fire {
                let job = entry.new_job(tick)?;
                let id = job.id.clone();
                let done =
                    self.broker
                        .enqueue(job)
                        .await
                        .map_err(|source| SchedulerError::Enqueue {
                            id: id.as_str().to_owned(),
                            source,
                        });
                let done = match done {
                    Ok(d) => d,
                    Err(e) => {
                        self.record(&changed, now_ms).await?;
                        return Err(e);
                    }
                };
                let lag = (now_ms - tick).max(0) as f64 / 1_000.0;
                if done.created {
                    self.metrics
                        .ticks
                        .with_label_values(&[entry.name.as_str()])
                        .inc();
                    self.metrics
                        .lag
                        .with_label_values(&[entry.name.as_str()])
                        .observe(lag);
                    tracing::info!(entry = %entry.name, job_id = %id, tick = %utc_text(tick), lag_s = lag, "tick enqueued");
                    step.fired.push(id.as_str().to_owned());
                } else {
                    tracing::info!(entry = %entry.name, job_id = %id, "tick already enqueued");
                    step.fenced.push(id.as_str().to_owned());
                }
                // Record as we go, so an error further on loses nothing.
                self.state.set(&entry.name, tick, now_ms);
                self.watch[i] = Some(id.as_str().to_owned());
            }
            self.state.set(&entry.name, latest, now_ms);
            self.metrics
                .last_tick
                .with_label_values(&[entry.name.as_str()])
                .set(latest as f64 / 1_000.0);
            changed.push(i);
        }
        self.record(&changed, now_ms).await?;
        self.check_successes().await?;
        let next = self
            .entries
            .iter()
            .filter_map(|e| e.next_after(now_ms))
            .min()
            .unwrap_or(now_ms + 60_000);
        step.next_ms = next.min(now_ms + self.standby_poll_ms);
        Ok(step)
    }

    /// Saves the state and shares the changed entries' ticks.
    async fn record(&mut self, changed: &[usize], _now_ms: i64) -> Result<(), SchedulerError> {
        if changed.is_empty() {
            return Ok(());
        }
        self.state.save().map_err(|source| SchedulerError::State {
            path: self.state.path().display().to_string(),
            source,
        })?;
        for &i in changed {
            let name = self.entries[i].name.clone();
            if let Some(s) = self.state.get(&name) {
                self.leadership.share_tick(&name, s.last_tick_ms).await;
            }
        }
        Ok(())
    }

    /// Looks up each watched tick's job: a success is recorded (state file
    /// and `last_success` gauge); a job that died, was cancelled or is no
    /// longer held stops being watched; a broker error leaves it for the
    /// next step.
    async fn check_successes(&mut self) -> Result<(), SchedulerError> {
        let mut changed = false;
        for i in 0..self.entries.len() {
            let Some(id) = self.watch[i].clone() else {
                continue;
            };
            let Ok(job_id) = crate::broker::JobId::parse(id) else {
                self.watch[i] = None;
                continue;
            };
            let info = match self.broker.job(&job_id).await {
                Ok(info) => info,
                Err(e) => {
                    tracing::debug!(error = %e, job_id = %job_id, "cannot look up a tick's job yet");
                    continue;
                }
            };
            use crate::broker::JobState as S;
            match info {
                Some(job) if job.state == S::Succeeded => {
                    self.watch[i] = None;
                    let name = self.entries[i].name.as_str();
                    let at = job.finished_at_ms.unwrap_or(job.enqueued_at_ms);
                    if self.state.set_success(name, at) {
                        changed = true;
                        self.metrics
                            .last_success
                            .with_label_values(&[name])
                            .set(at as f64 / 1_000.0);
                    }
                }
                Some(job) if !matches!(job.state, S::Dead | S::Cancelled) => {}
                _ => self.watch[i] = None,
            }
        }
        if changed {
            self.state.save().map_err(|source| SchedulerError::State {
                path: self.state.path().display().to_string(),
                source,
            })?;
        }
        Ok(())
    }

    /// Enqueues one run of `entry` now, outside its schedule.
    pub async fn run_now(
        entries: &[Entry],
        broker: &SharedBroker,
        entry: &str,
        now_ms: i64,
    ) -> Result<String, SchedulerError> {
        let e = entries.iter().find(|e| e.name == entry).ok_or_else(|| {
            let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            ScheduleError(format!("no entry {entry:?}; entries: {}", names.join(", ")))
        })?;
        let mut job = e.new_job(now_ms)?;
        job.id = crate::broker::JobId::parse(format!("{}:manual:{}", e.name, uuid::Uuid::now_v7()))
            .map_err(ScheduleError)?;
        let id = job.id.as_str().to_owned();
        let done = broker
            .enqueue(job)
            .await
            .map_err(|source| SchedulerError::Enqueue { id, source })?;
        Ok(done.id.as_str().to_owned())
    }

    /// Steps until `shutdown` completes, then gives up the lead. A failed
    /// step is logged and retried with backoff: the scheduler never stops
    /// on its own.
    pub async fn run(
        mut self,
        clock: Clock,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(200);
        loop {
            let now = clock.now_ms();
            let wait = match self.step(now).await {
                Ok(step) => {
                    backoff = Duration::from_millis(200);
                    Duration::from_millis(
                        u64::try_from((step.next_ms - now).max(10)).unwrap_or(1_000),
                    )
                }
                Err(e) => {
                    tracing::warn!(error = %e, "scheduler step failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        self.leadership.release().await;
        self.metrics.is_leader.set(0);
        tracing::info!("scheduler stopped");
    }
}

/// Each tick id an entry would fire between two instants (for tests and
/// `scheduler list`).
pub fn tick_ids(entry: &Entry, after_ms: i64, until_ms: i64) -> Vec<String> {
    entry
        .ticks_between(after_ms, until_ms, MAX_TICKS)
        .into_iter()
        .map(|t| tick_id(&entry.name, t))
        .collect()
}
