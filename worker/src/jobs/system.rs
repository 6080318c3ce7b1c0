//! `system.ping`: a round trip through the broker and a worker, for
//! operators (the counterpart of `celery inspect ping`).
//!
//! Queue `default`; 1 attempt; 10 s limit; no idempotency key (every ping is
//! new). Its result names the worker that answered.

use paqueteria_core::jobs::Ping;

use super::{Handlers, JobContext, JobResult};

/// Registers the system handlers.
pub fn register(handlers: &mut Handlers) {
    handlers.register::<Ping, _, _>(ping);
}

async fn ping(ctx: JobContext, _job: Ping) -> JobResult {
    Ok(Some(serde_json::json!({
        "pong": ctx.worker_id,
        "host": gethostname::gethostname().to_string_lossy(),
    })))
}
