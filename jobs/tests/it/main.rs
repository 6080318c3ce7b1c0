//! The job engine's integration tests: the conformance suite over both
//! engines (Redis on one server and on a cluster), the runtime over both,
//! Redis behind Sentinel through a failover, what a cluster failover
//! loses with and without `REDIS_ENQUEUE_WAIT`,
//! the examples, and the crate's dependencies.
//!
//! One test binary for the whole crate: the crate and its dependencies are
//! linked once, not once per test file.

#[macro_use]
mod conformance;
mod client;
mod cluster;
mod dependencies;
mod durability;
mod examples;
mod hooked;
mod job_spans;
mod outage;
mod redis_cluster_conformance;
mod redis_conformance;
mod runtime;
mod runtime_engines;
mod sentinel;
mod servers;
mod sqlite_conformance;
