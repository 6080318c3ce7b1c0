//! The job the examples share: a producer enqueues it, a worker runs it.

use paqueteria_jobs::{EngineConfig, Job, JobPolicy};
use serde::{Deserialize, Serialize};

/// Greets someone by name.
#[derive(Debug, Serialize, Deserialize)]
pub struct SendGreeting {
    /// Who to greet.
    pub name: String,
}

impl Job for SendGreeting {
    const NAME: &'static str = "greeting.send";
    const QUEUE: &'static str = "greetings";
    fn policy() -> JobPolicy {
        // 3 attempts, 1 s doubling up to 1 min, 10 s time limit.
        JobPolicy::new(3, 1, 60, 10)
    }
}

/// The broker every example opens: `JOBS_URL` when it is a `redis://` URL,
/// else the embedded engine in the file `JOBS_URL` names (default
/// `jobs.sqlite3` in the current directory).
pub fn engine() -> EngineConfig {
    match std::env::var("JOBS_URL") {
        Ok(url) if url.starts_with("redis") => EngineConfig::redis(url, "examples"),
        Ok(path) if !path.is_empty() => EngineConfig::sqlite(path),
        _ => EngineConfig::sqlite("jobs.sqlite3"),
    }
}
