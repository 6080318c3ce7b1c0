//! A worker that runs `greeting.send` jobs until Ctrl-C or SIGTERM.
//!
//! ```sh
//! cargo run -p paqueteria-jobs --example worker                 # terminal 1
//! cargo run -p paqueteria-jobs --example producer -- Ana Luis   # terminal 2
//! ```
//! Both use the embedded engine in `./jobs.sqlite3`; set
//! `JOBS_URL=redis://127.0.0.1:6379/0` in both terminals for Redis.

#[path = "shared/greeting.rs"]
mod greeting;

use greeting::SendGreeting;
use paqueteria_jobs::{
    BrokerConfig, Handlers, Job, JobContext, JobError, JobResult, Metrics, QueueSpec, Runtime,
    RuntimeConfig, connect, shutdown_signal,
};

/// The handler: an async function of the job. `Abort` sends the job to the
/// dead set at once; `Retry` would try again after a backoff.
async fn greet(ctx: JobContext, job: SendGreeting) -> JobResult {
    if job.name.trim().is_empty() {
        return Err(JobError::abort("a greeting needs a name"));
    }
    println!(
        "¡Hola, {}! (job {}, attempt {})",
        job.name, ctx.id, ctx.attempt
    );
    Ok(Some(serde_json::json!({ "greeted": job.name })))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = connect(&greeting::engine(), BrokerConfig::default()).await?;
    let mut handlers = Handlers::new();
    handlers.register::<SendGreeting, _, _>(greet);
    let config = RuntimeConfig {
        queues: vec![QueueSpec::new(SendGreeting::QUEUE)],
        concurrency: 4,
        ..RuntimeConfig::default()
    };
    eprintln!("worker: waiting for greetings (Ctrl-C to stop)");
    Runtime::build(config, broker, handlers, Metrics::new())
        .run_until_stopped(shutdown_signal())
        .await?;
    eprintln!("worker: stopped");
    Ok(())
}
