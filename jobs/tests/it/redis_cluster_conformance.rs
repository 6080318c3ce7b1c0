//! The conformance suite against a real Redis Cluster
//! (`TEST_REDIS_CLUSTER_URL`, which `scripts/test` sets), each test under
//! its own key prefix; its keys are deleted on every master afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use paqueteria_jobs::broker::redis::RedisBroker;
use paqueteria_jobs::broker::{BrokerConfig, SharedBroker};

struct RedisClusterEngine {
    url: String,
    prefix: String,
}

impl crate::conformance::Engine for RedisClusterEngine {
    async fn fresh() -> Self {
        Self {
            url: crate::cluster::cluster_url(),
            prefix: format!("test:{}", uuid::Uuid::now_v7().simple()),
        }
    }

    async fn open(&self, config: BrokerConfig) -> SharedBroker {
        std::sync::Arc::new(RedisBroker::connect(&self.url, &self.prefix, config).unwrap())
    }
}

impl Drop for RedisClusterEngine {
    fn drop(&mut self) {
        crate::cluster::delete_prefix(&self.url, &self.prefix);
    }
}

conformance_suite!(RedisClusterEngine);
