//! The storage the runtime tests run on: one Redis, a Redis Cluster
//! (`TEST_REDIS_CLUSTER_URL`, see `cluster.rs`), SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use paqueteria_jobs::broker::redis::RedisBroker;
use paqueteria_jobs::broker::sqlite::SqliteBroker;
use paqueteria_jobs::broker::{BrokerConfig, SharedBroker};

/// A broker on fresh storage; the storage lives as long as this value.
#[derive(Clone)]
pub struct TestBroker {
    broker: SharedBroker,
    _dir: Option<Arc<tempfile::TempDir>>,
}

impl std::ops::Deref for TestBroker {
    type Target = SharedBroker;
    fn deref(&self) -> &SharedBroker {
        &self.broker
    }
}

/// One broker engine under test.
#[allow(async_fn_in_trait)]
pub trait Engine {
    /// A broker with this lease length on fresh storage.
    async fn broker(lease: Duration) -> TestBroker;
}

/// The Redis engine, each test under its own key prefix.
pub struct RedisEngine;

impl Engine for RedisEngine {
    async fn broker(lease: Duration) -> TestBroker {
        let url = std::env::var("TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
        redis_broker(&url, lease)
    }
}

/// A Redis broker at `url` under a prefix of its own.
fn redis_broker(url: &str, lease: Duration) -> TestBroker {
    let prefix = format!("test:{}", uuid::Uuid::now_v7().simple());
    let config = BrokerConfig {
        lease,
        ..BrokerConfig::default()
    };
    TestBroker {
        broker: Arc::new(RedisBroker::connect(url, &prefix, config).unwrap()),
        _dir: None,
    }
}

/// The Redis engine on a cluster, each test under its own key prefix.
pub struct RedisClusterEngine;

impl Engine for RedisClusterEngine {
    async fn broker(lease: Duration) -> TestBroker {
        redis_broker(&crate::cluster::cluster_url(), lease)
    }
}

/// The SQLite engine, each test on its own file.
pub struct SqliteEngine;

impl Engine for SqliteEngine {
    async fn broker(lease: Duration) -> TestBroker {
        let dir = tempfile::tempdir().unwrap();
        let config = BrokerConfig {
            lease,
            ..BrokerConfig::default()
        };
        let broker = SqliteBroker::open(&dir.path().join("jobs.sqlite3"), config)
            .await
            .unwrap();
        TestBroker {
            broker: Arc::new(broker),
            _dir: Some(Arc::new(dir)),
        }
    }
}
