//! Helpers for tests of services built on the engine: wait for a condition
//! with a bounded poll instead of sleeping, wait for a job to end.
//!
//! ```
//! # use std::time::Duration;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use paqueteria_jobs::testing::eventually;
//! let started = std::time::Instant::now();
//! // A condition as a bool, or a value as an Option: polled until it holds.
//! eventually(Duration::from_secs(5), "a moment to pass", || async move {
//!     started.elapsed() > Duration::from_millis(30)
//! })
//! .await;
//! # }
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use crate::broker::{JobId, JobInfo, JobState, SharedBroker};

/// What a polled check says: a `bool` holds when true; an `Option<T>` holds
/// when `Some`, and [`eventually`] returns the value.
pub trait Condition {
    /// What [`eventually`] returns once the condition holds.
    type Value;
    /// `Some` once the condition holds.
    fn holds(self) -> Option<Self::Value>;
}

impl Condition for bool {
    type Value = ();
    fn holds(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Condition for Option<T> {
    type Value = T;
    fn holds(self) -> Option<T> {
        self
    }
}

/// Polls `check` every 10 ms until it holds, and returns its value. Panics
/// naming `what` after `limit`: a test that waits fails in bounded time.
pub async fn eventually<F, Fut>(
    limit: Duration,
    what: &str,
    mut check: F,
) -> <Fut::Output as Condition>::Value
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Condition,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await.holds() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until job `id` has ended (succeeded, dead or cancelled) and returns
/// it; panics after `limit`.
pub async fn job_ended(broker: &SharedBroker, id: &JobId, limit: Duration) -> JobInfo {
    eventually(limit, &format!("job {id} to end"), || async move {
        broker.job(id).await.ok().flatten().filter(|j| {
            matches!(
                j.state,
                JobState::Succeeded | JobState::Dead | JobState::Cancelled
            )
        })
    })
    .await
}
