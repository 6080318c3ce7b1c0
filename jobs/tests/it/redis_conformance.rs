//! The conformance suite against a real Redis (`TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379/0`), each test under its own key prefix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use paqueteria_jobs::broker::redis::RedisBroker;
use paqueteria_jobs::broker::{BrokerConfig, SharedBroker};

struct RedisEngine {
    url: String,
    prefix: String,
}

impl crate::conformance::Engine for RedisEngine {
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

/// A job record written by hand or by an older version, missing the fields
/// a worker needs, is not dropped (it would read "queued" forever): the
/// lease sends it to the dead set with an error naming what it lacks. One
/// that lacks only fields with defaults runs.
#[tokio::test]
async fn a_job_record_missing_its_fields_goes_to_the_dead_set() {
    use paqueteria_jobs::broker::{JobId, JobState};

    let engine = <RedisEngine as crate::conformance::Engine>::fresh().await;
    let broker = crate::conformance::Engine::open(&engine, crate::conformance::config()).await;
    let mut c = redis::Client::open(engine.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let p = &engine.prefix;
    let q = crate::conformance::Q;
    let _: () = redis::cmd("SADD")
        .arg(format!("{p}:queues"))
        .arg(q)
        .query(&mut c)
        .unwrap();
    for (id, fields) in [
        ("by-hand", vec![("p", "{}"), ("s", "queued")]),
        (
            "older",
            vec![("n", "test.job"), ("p", "{}"), ("m", "3"), ("s", "queued")],
        ),
    ] {
        let mut hset = redis::cmd("HSET");
        hset.arg(format!("{p}:{{{q}}}:j:{id}"));
        for (k, v) in fields {
            hset.arg(k).arg(v);
        }
        let _: () = hset.query(&mut c).unwrap();
        let _: () = redis::cmd("LPUSH")
            .arg(format!("{p}:{{{q}}}:ready"))
            .arg(id)
            .query(&mut c)
            .unwrap();
    }
    let leased = broker
        .lease(
            &crate::conformance::queues(&[q]),
            10,
            crate::conformance::WORKER,
        )
        .await
        .unwrap();
    let ids: Vec<&str> = leased.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(
        ids,
        ["older"],
        "only the record with what a worker needs runs"
    );
    assert_eq!(leased[0].attempt, 1);
    assert_eq!(
        leased[0].request_id, None,
        "a record from before request ids has none"
    );
    assert_eq!(leased[0].policy.retry.max_attempts, 3);
    assert!(leased[0].policy.timeout_ms > 0);

    let dead = broker
        .job(&JobId::parse("by-hand").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dead.state, JobState::Dead);
    let error = dead.last_error.unwrap_or_default();
    assert!(
        error.contains("n (name)") && error.contains("m (max attempts)"),
        "{error}"
    );
    let listed = broker.dead_jobs(Some(q), 10).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(broker.discard(&dead.id).await.unwrap());
}
