//! The conformance suite against a real Redis (`TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379/0`), each test under its own key prefix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;

use paqueteria_core::broker::redis::RedisBroker;
use paqueteria_core::broker::{BrokerConfig, SharedBroker};

struct RedisEngine {
    url: String,
    prefix: String,
}

impl conformance::Engine for RedisEngine {
    async fn fresh() -> Self {
        Self {
            url: std::env::var("TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned()),
            prefix: format!("test:{}", uuid::Uuid::now_v7().simple()),
        }
    }

    async fn open(&self, config: BrokerConfig) -> SharedBroker {
        std::sync::Arc::new(RedisBroker::connect(&self.url, &self.prefix, config).unwrap())
    }
}

impl Drop for RedisEngine {
    fn drop(&mut self) {
        // Leave the shared Redis as we found it.
        let conn = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection());
        if let Ok(mut c) = conn {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}:*", self.prefix))
                .query(&mut c)
                .unwrap_or_default();
            for chunk in keys.chunks(1000) {
                let _: Result<i64, _> = redis::cmd("UNLINK").arg(chunk).query(&mut c);
            }
        }
    }
}

conformance_suite!(RedisEngine);
