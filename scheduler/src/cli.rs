//! The `scheduler` command line.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

/// Paquetería's scheduler: enqueues the schedule's jobs, once per tick.
#[derive(Debug, Parser)]
#[command(name = "scheduler", version)]
pub struct Cli {
    /// Where to serve /metrics and /health (default SCHEDULER_METRICS_ADDR
    /// or 127.0.0.1:9102).
    #[arg(long, global = true)]
    pub metrics_addr: Option<SocketAddr>,
    /// What to do; without one it runs.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prints every entry with its next three runs (local time) and its
    /// last handled tick.
    List,
    /// Enqueues one run of an entry now.
    RunNow {
        /// The entry's name.
        entry: String,
    },
    /// Exits 0 when the scheduler serving `/health` (on --metrics-addr or
    /// SCHEDULER_METRICS_ADDR) answers, 1 otherwise: a container's health
    /// check. Reads no schedule and opens no broker.
    Healthcheck,
}
