//! Operator commands: what `worker inspect [active|scheduled|dead]`,
//! `worker enqueue`, `worker job`, `worker dead …`, `worker pause`,
//! `worker resume` and `worker purge` do. Each writes to `out` and returns
//! the process exit code, so tests call them directly.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context as _;
use paqueteria_core::jobs::{catalog, queues};
use paqueteria_jobs::broker::{CancelOutcome, JobFilter, JobId, JobInfo, ListState, SharedBroker};

use crate::cli::{Command, DeadAction, InspectWhat, ListArgs};

/// Runs one operator command.
pub async fn execute(
    cmd: Command,
    broker: &SharedBroker,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<i32> {
    match cmd {
        Command::Inspect { what: None, json } => inspect(broker, json, out).await,
        Command::Inspect {
            what: Some(what), ..
        } => {
            let (state, args) = match what {
                InspectWhat::Active(a) => (ListState::Running, a),
                InspectWhat::Scheduled(a) => (ListState::Scheduled, a),
                InspectWhat::Dead(a) => (ListState::Dead, a),
            };
            inspect_jobs(broker, state, &args, out).await
        }
        Command::Pause { queue } | Command::Resume { queue }
            if !known_queues(broker).await?.contains(&queue) =>
        {
            eprintln!(
                "no queue {queue:?}: known queues are {}",
                known_queues(broker).await?.join(", ")
            );
            Ok(1)
        }
        Command::Pause { queue } => {
            let changed = broker.pause_queue(&queue).await.context("pause")?;
            let already = if changed {
                ""
            } else {
                " (it was paused already)"
            };
            writeln!(
                out,
                "paused {queue}{already}: its jobs wait until `worker resume {queue}`"
            )?;
            Ok(0)
        }
        Command::Resume { queue } => {
            if broker.resume_queue(&queue).await.context("resume")? {
                writeln!(out, "resumed {queue}: its jobs run")?;
            } else {
                writeln!(out, "{queue} was not paused")?;
            }
            Ok(0)
        }
        Command::Enqueue {
            job,
            payload,
            delay,
        } => {
            let mut new = catalog().lookup(&job)?.new_job(&payload)?;
            if let Some(d) = delay {
                new = new.at(broker.clock().now_ms() + i64::try_from(d.as_millis()).unwrap_or(0));
            }
            let done = broker.enqueue(new).await.context("enqueue")?;
            if !done.created {
                eprintln!(
                    "a job with id {} already exists; nothing new was enqueued",
                    done.id
                );
            }
            writeln!(out, "{}", done.id)?;
            Ok(0)
        }
        // Answered before the broker opens (lib.rs).
        Command::Healthcheck => Ok(0),
        Command::Jobs => {
            writeln!(
                out,
                "{:<32} {:<12} {:>8} {:>10}",
                "JOB", "QUEUE", "ATTEMPTS", "LIMIT"
            )?;
            for e in catalog().kinds() {
                writeln!(
                    out,
                    "{:<32} {:<12} {:>8} {:>9}s",
                    e.name,
                    e.queue,
                    e.policy.retry.max_attempts,
                    e.policy.timeout_ms / 1000
                )?;
            }
            Ok(0)
        }
        Command::Job { id, json } => {
            let id = JobId::parse(id).map_err(anyhow::Error::msg)?;
            match broker.job(&id).await.context("look up the job")? {
                Some(info) if json => {
                    writeln!(out, "{}", serde_json::to_string_pretty(&info)?)?;
                    Ok(0)
                }
                Some(info) => {
                    print_job(&info, out)?;
                    Ok(0)
                }
                None => {
                    eprintln!(
                        "no job with id {id} (never enqueued, or deleted after its retention)"
                    );
                    Ok(1)
                }
            }
        }
        Command::Cancel { id } => {
            let id = JobId::parse(id).map_err(anyhow::Error::msg)?;
            let (msg, code) = match broker.cancel(&id).await.context("cancel")? {
                CancelOutcome::Cancelled => ("cancelled".to_owned(), 0),
                CancelOutcome::Requested => (
                    "running: its worker stops it at the next heartbeat".to_owned(),
                    0,
                ),
                CancelOutcome::AlreadyFinished(state) => (format!("already {state}"), 1),
                CancelOutcome::Unknown => (format!("no job with id {id}"), 1),
            };
            writeln!(out, "{msg}")?;
            Ok(code)
        }
        Command::Dead { action } => dead(action, broker, out).await,
        Command::Purge { queue, yes } => {
            if !yes {
                eprintln!(
                    "purge deletes every queued and scheduled job of {queue:?}; add --yes to confirm"
                );
                return Ok(2);
            }
            let n = broker.purge(&queue).await.context("purge")?;
            writeln!(out, "purged {n} jobs from {queue}")?;
            Ok(0)
        }
    }
}

/// Paquetería's queues, then any other queue the broker has seen.
async fn known_queues(broker: &SharedBroker) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = queues::ALL.iter().map(|q| (*q).to_owned()).collect();
    for q in broker.queues().await.context("list queues")? {
        if !names.contains(&q) {
            names.push(q);
        }
    }
    Ok(names)
}

async fn inspect(
    broker: &SharedBroker,
    json: bool,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<i32> {
    let names = known_queues(broker).await?;
    let stats = broker.stats(&names).await.context("queue stats")?;
    let workers = broker.workers().await.context("list workers")?;
    if json {
        let queues: BTreeMap<&str, serde_json::Value> = stats
            .iter()
            .map(|s| {
                (
                    s.queue.as_str(),
                    serde_json::json!({
                        "queued": s.queued,
                        "scheduled": s.scheduled,
                        "running": s.running,
                        "dead": s.dead,
                        "oldest_age_s": s.oldest_age_s,
                        "paused": s.paused,
                        "throughput": s.throughput,
                    }),
                )
            })
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({ "queues": queues, "workers": workers })
        )?;
        return Ok(0);
    }
    writeln!(
        out,
        "{:<14} {:>8} {:>9} {:>8} {:>7} {:>11} {:>11} {:>11}",
        "QUEUE", "QUEUED", "SCHEDULED", "RUNNING", "DEAD", "OLDEST(s)", "OK/FAIL 1m", "OK/FAIL 1h"
    )?;
    for s in &stats {
        let t = &s.throughput;
        let minute = format!("{}/{}", t.succeeded_1m, t.failed_1m);
        let hour = format!("{}/{}", t.succeeded_1h, t.failed_1h);
        writeln!(
            out,
            "{:<14} {:>8} {:>9} {:>8} {:>7} {:>11.1} {minute:>11} {hour:>11}{}",
            s.queue,
            s.queued,
            s.scheduled,
            s.running,
            s.dead,
            s.oldest_age_s,
            if s.paused { "  PAUSED" } else { "" }
        )?;
    }
    writeln!(out, "\n{} live worker(s)", workers.len())?;
    for w in &workers {
        writeln!(
            out,
            "  {}  pid {}  -c {}  -Q {}",
            w.id,
            w.pid,
            w.concurrency,
            w.queues.join(",")
        )?;
    }
    Ok(0)
}

/// `worker inspect active|scheduled|dead`: the jobs of one state, newest
/// first, as `celery inspect active` lists them: id, name, arguments (the
/// payload), the worker (host and pid when it is live) and the times.
async fn inspect_jobs(
    broker: &SharedBroker,
    state: ListState,
    args: &ListArgs,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<i32> {
    let mut filter = JobFilter::new(state, usize::from(args.limit));
    filter.queue.clone_from(&args.queue);
    let page = broker.list_jobs(&filter).await.context("list jobs")?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&page.jobs)?)?;
        return Ok(0);
    }
    let workers = broker.workers().await.context("list workers")?;
    let worker_name = |id: Option<&str>| match id {
        None => "-".to_owned(),
        Some(id) => workers
            .iter()
            .find(|w| w.id == id)
            .map_or_else(|| id.to_owned(), |w| format!("{}:{}", w.hostname, w.pid)),
    };
    for j in &page.jobs {
        let when = match state {
            ListState::Running => format!(
                "worker {}  started {}",
                worker_name(j.worker.as_deref()),
                time(j.started_at_ms)
            ),
            ListState::Scheduled => format!("{}  due {}", j.state, time(Some(j.run_at_ms))),
            ListState::Queued => format!("enqueued {}", time(Some(j.enqueued_at_ms))),
            ListState::Dead => format!(
                "died {}  error {}",
                time(j.finished_at_ms),
                j.last_error.as_deref().unwrap_or("-")
            ),
        };
        writeln!(
            out,
            "{}  {}  queue {}  attempt {}/{}  {}  args {}",
            j.id, j.name, j.queue, j.attempts, j.max_attempts, when, j.payload
        )?;
    }
    let label = match state {
        ListState::Running => "active",
        other => other.as_str(),
    };
    let more = if page.more {
        " (more: raise --limit)"
    } else {
        ""
    };
    writeln!(out, "{} {label} job(s){more}", page.jobs.len())?;
    Ok(0)
}

/// A Unix time in ms as RFC 3339 (UTC), or `-`.
fn time(ms: Option<i64>) -> String {
    ms.and_then(|v| u64::try_from(v).ok())
        .map(|v| std::time::UNIX_EPOCH + std::time::Duration::from_millis(v))
        .map_or_else(
            || "-".to_owned(),
            |t| humantime::format_rfc3339_millis(t).to_string(),
        )
}

async fn dead(
    action: DeadAction,
    broker: &SharedBroker,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<i32> {
    match action {
        DeadAction::List { queue, limit, json } => {
            let jobs = broker
                .dead_jobs(queue.as_deref(), limit)
                .await
                .context("list dead jobs")?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&jobs)?)?;
            } else {
                for j in &jobs {
                    writeln!(
                        out,
                        "{}  {}  {}  attempts {}/{}  {}",
                        j.id,
                        j.queue,
                        j.name,
                        j.attempts,
                        j.max_attempts,
                        j.last_error.as_deref().unwrap_or("")
                    )?;
                }
                writeln!(out, "{} dead job(s)", jobs.len())?;
            }
            Ok(0)
        }
        DeadAction::Retry { id: Some(id), .. } => {
            let id = JobId::parse(id).map_err(anyhow::Error::msg)?;
            if broker.rerun_dead(&id).await.context("re-run")? {
                writeln!(out, "queued {id} again")?;
                Ok(0)
            } else {
                eprintln!("{id} is not in the dead set");
                Ok(1)
            }
        }
        DeadAction::Retry {
            id: None, queue, ..
        } => {
            let n = broker
                .rerun_all_dead(queue.as_deref())
                .await
                .context("re-run all")?;
            writeln!(out, "queued {n} dead job(s) again")?;
            Ok(0)
        }
        DeadAction::Discard { id } => {
            let id = JobId::parse(id).map_err(anyhow::Error::msg)?;
            if broker.discard(&id).await.context("discard")? {
                writeln!(out, "discarded {id}")?;
                Ok(0)
            } else {
                eprintln!("{id} is not in the dead set");
                Ok(1)
            }
        }
    }
}

fn print_job(j: &JobInfo, out: &mut (dyn Write + Send)) -> std::io::Result<()> {
    writeln!(out, "id:        {}", j.id)?;
    writeln!(out, "job:       {} (queue {})", j.name, j.queue)?;
    writeln!(out, "state:     {}", j.state)?;
    writeln!(out, "attempts:  {}/{}", j.attempts, j.max_attempts)?;
    writeln!(out, "enqueued:  {}", time(Some(j.enqueued_at_ms)))?;
    writeln!(out, "due:       {}", time(Some(j.run_at_ms)))?;
    writeln!(out, "started:   {}", time(j.started_at_ms))?;
    writeln!(out, "finished:  {}", time(j.finished_at_ms))?;
    writeln!(out, "worker:    {}", j.worker.as_deref().unwrap_or("-"))?;
    writeln!(out, "request:   {}", j.request_id.as_deref().unwrap_or("-"))?;
    writeln!(out, "error:     {}", j.last_error.as_deref().unwrap_or("-"))?;
    writeln!(out, "result:    {}", j.result.as_deref().unwrap_or("-"))?;
    writeln!(out, "payload:   {}", j.payload)
}
