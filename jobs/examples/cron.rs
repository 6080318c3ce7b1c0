//! A scheduler and a worker in one process: a cron entry greets the world
//! every two seconds, each tick once, until Ctrl-C or SIGTERM.
//!
//! ```sh
//! cargo run -p paqueteria-jobs --example cron
//! ```
//! Stop it and start it again: ticks already fired are not fired twice
//! (the state file `cron-state.json` remembers them), and the ticks missed
//! while it was stopped follow the entry's `catch_up` policy.

#[path = "shared/greeting.rs"]
mod greeting;

use greeting::SendGreeting;
use paqueteria_jobs::scheduler::{FileLock, Leadership, Scheduler, SchedulerMetrics, parse};
use paqueteria_jobs::{
    BrokerConfig, Catalog, Clock, Handlers, Job, Metrics, QueueSpec, Runtime, RuntimeConfig,
    connect, shutdown_signal,
};

const SCHEDULE: &str = r#"
[[entry]]
name = "greet-the-world"
cron = "*/2 * * * * *"          # six fields: every two seconds
job = "greeting.send"
payload = { name = "mundo, hoy es {date}" }
tz = "America/Bogota"
catch_up = "once"
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = connect(&greeting::engine(), BrokerConfig::default()).await?;
    let catalog = Catalog::new().with::<SendGreeting>();
    let entries = parse(SCHEDULE, chrono_tz::UTC, &catalog)?;
    let clock = Clock::system();
    let scheduler = Scheduler::new(
        entries,
        "cron-state.json".as_ref(),
        broker.clone(),
        // One scheduler per machine; with Redis, `Leadership::Redis` elects
        // one among many hosts.
        Leadership::File(FileLock::new("cron-state.json.lock".into())),
        SchedulerMetrics::new(),
        clock.now_ms(),
        std::time::Duration::from_secs(10),
    )?;

    let mut handlers = Handlers::new();
    handlers.register::<SendGreeting, _, _>(|ctx, job: SendGreeting| async move {
        println!("¡Hola, {}! ({})", job.name, ctx.id);
        Ok(None)
    });
    let worker = Runtime::build(
        RuntimeConfig {
            queues: vec![QueueSpec::new(SendGreeting::QUEUE)],
            ..RuntimeConfig::default()
        },
        broker,
        handlers,
        Metrics::new(),
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let beat = tokio::spawn({
        let mut stopped = stopped.clone();
        scheduler.run(clock, async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
    });
    let work = tokio::spawn({
        let mut stopped = stopped.clone();
        worker.run_until_stopped(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
    });
    eprintln!("cron: greeting every two seconds (Ctrl-C to stop)");
    shutdown_signal().await;
    let _ = stop.send(true);
    beat.await?;
    work.await??;
    eprintln!("cron: stopped");
    Ok(())
}
