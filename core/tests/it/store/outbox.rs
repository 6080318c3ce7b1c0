//! The outbox: notifications of a change made while the broker is down go
//! out once it is back.

use paqueteria_core::domain::{ParcelEvent, Service};

use paqueteria_testkit::two_branches_and_a_tariff as setup;

use super::{OPERATOR, TestDb, apply, register};

/// The outbox: a change made while the broker is unreachable still gets its
/// notifications once the broker is back, each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_of_a_change_made_while_the_broker_is_down_go_out_once_it_is_back() {
    use paqueteria_jobs::broker::redis::RedisBroker;
    use paqueteria_jobs::broker::{Broker, BrokerConfig};

    let db = TestDb::sqlite().await;
    let s = &db.store;
    let (a, b) = setup(s).await;
    let p = register(s, a, b, Service::BranchPickup).await;
    // Nothing listens on port 1: every call fails as "unavailable".
    let down =
        RedisBroker::connect("redis://127.0.0.1:1/0", "down", BrokerConfig::default()).unwrap();
    let p = apply(s, &p, &ParcelEvent::Receive, &OPERATOR)
        .await
        .unwrap();
    let relayed = s.relay_outbox(&down, 100).await.unwrap();
    assert_eq!((relayed.enqueued, relayed.failed), (0, 1));
    assert_eq!(
        s.pending_notifications(100).await.unwrap().len(),
        1,
        "the row waits for the broker"
    );

    let url =
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let prefix = format!("test:{}", uuid::Uuid::now_v7().simple());
    let up = RedisBroker::connect(&url, &prefix, BrokerConfig::default()).unwrap();
    assert_eq!(s.relay_outbox(&up, 100).await.unwrap().enqueued, 1);
    assert_eq!(
        s.relay_outbox(&up, 100).await.unwrap().enqueued,
        0,
        "a relayed row is not sent again"
    );
    let stats = up.stats(&["sms".to_owned()]).await.unwrap();
    assert_eq!(stats[0].queued, 1, "exactly one job");
    let note = &s.notifications(p.id).await.unwrap()[0];
    assert_eq!(note.state, "enqueued");
    assert_eq!(
        note.job_id.as_deref(),
        Some(format!("sms.send:{}", note.id).as_str())
    );
    let _ = up.purge("sms").await;
    db.finish().await;
}
