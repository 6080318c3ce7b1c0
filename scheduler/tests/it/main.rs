//! The scheduler against real brokers: ticks, catch-up, the state file,
//! and a standby taking over from a killed leader.
//!
//! One test binary for the whole crate: the crate and its dependencies are
//! linked once, not once per test file.

mod beat;
mod failover;
mod metrics;
