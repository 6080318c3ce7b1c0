//! Paquetería's job handlers, one module per job family, on the
//! `paqueteria-jobs` registry.
//!
//! Each module's header says its jobs' queue, retry policy and idempotency
//! key. Families with side effects take the shared [`Services`] (store,
//! files, job client, settings) and build their transport from it in their
//! `register` function.

pub mod email;
pub mod files;
pub mod maintenance;
pub mod reports;
pub mod sms;
pub mod system;

pub use crate::services::Services;
pub use paqueteria_jobs::{Handlers, JobContext, JobError, JobResult};

/// A storage failure as a job error: retried when it may pass (network,
/// 5xx, throttling), else final. `what` says what the job was doing.
pub(crate) fn storage_error(what: &str, e: paqueteria_core::files::StorageError) -> JobError {
    let reason = format!("{what}: {e}");
    if e.is_transient() {
        JobError::Retry(reason)
    } else {
        JobError::Abort(reason)
    }
}

/// The handlers that need no services (`system.ping`).
pub fn builtin() -> Handlers {
    let mut h = Handlers::new();
    system::register(&mut h);
    h
}

/// Every job this build can run, on `services`. Fails when a transport's
/// settings do not work (a malformed SMTP URL, say).
pub fn handlers(services: &std::sync::Arc<Services>) -> anyhow::Result<Handlers> {
    let mut h = builtin();
    paqueteria_core::telemetry::notification_metrics().init();
    reports::register(&mut h, services)?;
    sms::register(&mut h, services)?;
    email::register(&mut h, services)?;
    files::register(&mut h, services)?;
    maintenance::register(&mut h, services)?;
    Ok(h)
}
