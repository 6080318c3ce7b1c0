//! The deployment files' tests; this library is empty.
//!
//! `cargo test -p paqueteria-deploy` checks, without Docker:
//! - `docker-compose.prod.yml` against the Compose Specification's schema
//!   (check-jsonschema) and the rules of issue 20 (`tests/it/compose.rs`);
//! - the `Dockerfile`'s user, health check and locked build
//!   (`tests/it/dockerfile.rs`);
//! - `monitoring/prometheus` with promtool: the config, the rules and the
//!   alerts' unit tests (`tests/it/prometheus.rs`);
//! - `monitoring/grafana`: every dashboard panel's unit, description, data
//!   source and query (`tests/it/grafana.rs`);
//! - that every metric the dashboards and alerts use is exported and
//!   documented in `monitoring/METRICS.md` (`tests/it/metrics.rs`).
//!
//! promtool and check-jsonschema come from `PROMTOOL_BIN` and
//! `CHECK_JSONSCHEMA_BIN` (or `PATH`); `scripts/test` installs both. A test
//! that needs a missing tool fails, saying so.
