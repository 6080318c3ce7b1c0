//! Operator commands: what `worker inspect`, `worker enqueue`, `worker job`,
//! `worker dead …` and `worker purge` do. Each writes to `out` and returns
//! the process exit code, so tests call them directly.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context as _;
use paqueteria_core::jobs::{catalog, queues};
use paqueteria_jobs::broker::{CancelOutcome, JobId, JobInfo, SharedBroker};

use crate::cli::{Command, DeadAction};

/// Runs one operator command.
pub async fn execute(
    cmd: Command,
    broker: &SharedBroker,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<i32> {
    match cmd {
        Command::Inspect { json } => inspect(broker, json, out).await,
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

async fn inspect(
    broker: &SharedBroker,
    json: bool,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<i32> {
    let mut names: Vec<String> = queues::ALL.iter().map(|q| (*q).to_owned()).collect();
    for q in broker.queues().await.context("list queues")? {
        if !names.contains(&q) {
            names.push(q);
        }
    }
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
        "{:<14} {:>8} {:>9} {:>8} {:>7} {:>11}",
        "QUEUE", "QUEUED", "SCHEDULED", "RUNNING", "DEAD", "OLDEST(s)"
    )?;
    for s in &stats {
        writeln!(
            out,
            "{:<14} {:>8} {:>9} {:>8} {:>7} {:>11.1}",
            s.queue, s.queued, s.scheduled, s.running, s.dead, s.oldest_age_s
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
    let time = |ms: Option<i64>| {
        ms.and_then(|v| u64::try_from(v).ok())
            .map(|v| std::time::UNIX_EPOCH + std::time::Duration::from_millis(v))
            .map_or_else(
                || "-".to_owned(),
                |t| humantime::format_rfc3339_millis(t).to_string(),
            )
    };
    writeln!(out, "id:        {}", j.id)?;
    writeln!(out, "job:       {} (queue {})", j.name, j.queue)?;
    writeln!(out, "state:     {}", j.state)?;
    writeln!(out, "attempts:  {}/{}", j.attempts, j.max_attempts)?;
    writeln!(out, "enqueued:  {}", time(Some(j.enqueued_at_ms)))?;
    writeln!(out, "due:       {}", time(Some(j.run_at_ms)))?;
    writeln!(out, "started:   {}", time(j.started_at_ms))?;
    writeln!(out, "finished:  {}", time(j.finished_at_ms))?;
    writeln!(out, "worker:    {}", j.worker.as_deref().unwrap_or("-"))?;
    writeln!(out, "error:     {}", j.last_error.as_deref().unwrap_or("-"))?;
    writeln!(out, "result:    {}", j.result.as_deref().unwrap_or("-"))?;
    writeln!(out, "payload:   {}", j.payload)
}
