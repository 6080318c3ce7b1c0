//! `bench-worker --queues Q --concurrency N`: the real worker runtime with
//! the bench jobs, until SIGTERM. See `bench/README.md`.

use clap::Parser;
use paqueteria_bench::{BenchEnv, handlers};
use paqueteria_jobs::{Metrics, QueueSpec, Runtime, RuntimeConfig};

#[derive(Parser)]
struct Args {
    /// Queues, comma-separated (defaults to BENCH_QUEUE).
    #[arg(long, value_delimiter = ',')]
    queues: Vec<String>,
    /// Jobs at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    paqueteria_core::telemetry::init().map_err(anyhow::Error::msg)?;
    let args = Args::parse();
    let env = BenchEnv::from_env()?;
    let queues = if args.queues.is_empty() {
        vec![QueueSpec::new(env.queue.clone())]
    } else {
        args.queues
            .iter()
            .map(|q| QueueSpec::new(q.clone()))
            .collect()
    };
    let (broker, results) = env.worker_parts().await?;
    let handlers = handlers(&env, &results)?;
    let runtime = Runtime::build(
        RuntimeConfig {
            queues,
            concurrency: args.concurrency,
            ..RuntimeConfig::default()
        },
        broker,
        handlers,
        Metrics::new(),
    );
    Ok(runtime
        .run_until_stopped(paqueteria_jobs::shutdown_signal())
        .await?)
}
