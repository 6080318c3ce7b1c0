//! The parcel store, the report rows and file storage against both store
//! engines and a real S3-compatible server.
//!
//! One test binary for the whole crate: the crate and its dependencies are
//! linked once, not once per test file.

mod docs;
mod files;
mod passwords;
mod renames;
mod reports;
mod store;
