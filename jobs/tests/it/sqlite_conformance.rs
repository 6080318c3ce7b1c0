//! The conformance suite against the SQLite engine, each test on its own file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use paqueteria_jobs::broker::sqlite::SqliteBroker;
use paqueteria_jobs::broker::{BrokerConfig, SharedBroker};

struct SqliteEngine {
    dir: tempfile::TempDir,
}

impl crate::conformance::Engine for SqliteEngine {
    async fn fresh() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    async fn open(&self, config: BrokerConfig) -> SharedBroker {
        std::sync::Arc::new(
            SqliteBroker::open(&self.dir.path().join("jobs.sqlite3"), config)
                .await
                .unwrap(),
        )
    }
}

conformance_suite!(SqliteEngine);
