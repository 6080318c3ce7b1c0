//! Enqueues one `greeting.send` job per name given, from any process, and
//! prints each job's id. See `worker.rs` for how to run the pair.

#[path = "shared/greeting.rs"]
mod greeting;

use greeting::SendGreeting;
use paqueteria_jobs::{BrokerConfig, JobClient, connect};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        return Err("usage: producer NAME...".into());
    }
    let client = JobClient::new(connect(&greeting::engine(), BrokerConfig::default()).await?);
    for name in names {
        let done = client.enqueue(&SendGreeting { name }).await?;
        println!("{}", done.id);
    }
    Ok(())
}
