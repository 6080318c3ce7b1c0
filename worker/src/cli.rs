//! The command line, in Celery's shape: `worker -Q reports,sms -c 4`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use paqueteria_jobs::QueueSpec;

/// The queues a worker serves unless `-Q` says otherwise: one report at a
/// time and at most two SMS calls per worker, so a slow report run or a
/// hanging SMS gateway always leaves slots for files, maintenance and email.
pub const DEFAULT_QUEUES: &str = "reports@1,sms@2,files,maintenance,default";

/// Runs Paquetería jobs, or inspects and manages the queues.
#[derive(Debug, Parser)]
#[command(name = "worker", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; with none, run a worker.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the worker itself.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `-Q`: queues written `name[:weight][@cap]`, comma-separated, each named
/// once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueList(pub Vec<QueueSpec>);

impl std::str::FromStr for QueueList {
    type Err = paqueteria_jobs::runtime::QueueSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QueueSpec::parse_list(s).map(Self)
    }
}

/// Options of a running worker.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Queues to consume, comma-separated: `name[:weight][@cap]`. Each
    /// queue is owed a share of the slots by its weight (default 1) and runs
    /// at most `cap` jobs at once; a queue takes more than its share only
    /// while the others have nothing waiting.
    #[arg(short = 'Q', long, default_value = DEFAULT_QUEUES)]
    pub queues: QueueList,
    /// Jobs running at once, one pool across all the queues.
    #[arg(short = 'c', long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// How long running jobs may finish after SIGTERM before they are handed back.
    #[arg(long, default_value = "25s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// Where `/metrics` and `/health` listen.
    #[arg(long, default_value = "127.0.0.1:9101", env = "WORKER_METRICS_ADDR")]
    pub metrics_addr: SocketAddr,
}

/// Operator commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Queues (queued, scheduled, running, dead, oldest wait, paused,
    /// throughput) and live workers; or, like `celery inspect`, the jobs
    /// running (`active`), waiting for a time (`scheduled`) or dead.
    Inspect {
        /// Which jobs to list; with none, the queues and workers.
        #[command(subcommand)]
        what: Option<InspectWhat>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pauses a queue: it still takes jobs, but no worker runs any until it
    /// is resumed.
    Pause {
        /// The queue.
        queue: String,
    },
    /// Resumes a paused queue.
    Resume {
        /// The queue.
        queue: String,
    },
    /// Enqueues a catalog job: `worker enqueue sms.send '{"notification_id":1,…}'`.
    Enqueue {
        /// The job's name (see `worker jobs`).
        job: String,
        /// Its payload, JSON.
        payload: String,
        /// Run it this long from now (`30s`, `2h`).
        #[arg(long, value_parser = humantime::parse_duration)]
        delay: Option<Duration>,
    },
    /// Lists the job catalog: names, queues and policies.
    Jobs,
    /// Exits 0 when the worker serving `/health` on WORKER_METRICS_ADDR
    /// answers, 1 otherwise: a container's health check. Opens no broker.
    Healthcheck,
    /// One job by id: state, attempts, timings, error, result.
    Job {
        /// The job id printed by `enqueue`.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancels a waiting job, or asks a running one to stop.
    Cancel {
        /// The job id.
        id: String,
    },
    /// The dead set.
    Dead {
        /// What to do with it.
        #[command(subcommand)]
        action: DeadAction,
    },
    /// Deletes every queued and scheduled job of a queue.
    Purge {
        /// The queue.
        queue: String,
        /// Confirms the deletion.
        #[arg(long)]
        yes: bool,
    },
}

/// Which jobs `worker inspect` lists.
#[derive(Debug, Subcommand)]
pub enum InspectWhat {
    /// Jobs running now: id, name, arguments, worker, start.
    Active(ListArgs),
    /// Jobs waiting for their time or a retry's backoff: id, name,
    /// arguments, when due.
    Scheduled(ListArgs),
    /// Dead jobs: id, name, arguments, when they died and why.
    Dead(ListArgs),
}

/// Options of an `inspect` listing.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=10000))]
    pub limit: u16,
    /// Print JSON: a list of jobs.
    #[arg(long)]
    pub json: bool,
}

/// What to do with the dead set.
#[derive(Debug, Subcommand)]
pub enum DeadAction {
    /// Lists dead jobs, newest first.
    List {
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Runs dead jobs again with fresh attempts.
    Retry {
        /// The job id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every dead job (of `--queue` when given).
        #[arg(long)]
        all: bool,
        /// With `--all`: only this queue.
        #[arg(long, requires = "all")]
        queue: Option<String>,
    },
    /// Deletes a dead job.
    Discard {
        /// The job id.
        id: String,
    },
}
