//! The job engine's integration tests: the conformance suite over both
//! engines, the runtime over both engines, the examples, and the crate's
//! dependencies.
//!
//! One test binary for the whole crate: the crate and its dependencies are
//! linked once, not once per test file.

#[macro_use]
mod conformance;
mod client;
mod dependencies;
mod examples;
mod hooked;
mod job_spans;
mod outage;
mod redis_conformance;
mod runtime;
mod sqlite_conformance;
