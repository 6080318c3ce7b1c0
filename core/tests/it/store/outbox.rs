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

/// A failed message is sent again once, by whoever asked, and never one
/// that may have arrived; two send attempts at once take the row once.
async fn a_failed_message_is_resent_once_and_never_one_that_may_have_arrived(db: TestDb) {
    use paqueteria_core::store::{AuditAction, AuditFilter, Claim, NewUser};

    let s = &db.store;
    let (a, b) = setup(s).await;
    let admin = s
        .create_user(&NewUser {
            email: "admin@example.com".to_owned(),
            name: "Admin".to_owned(),
            password: "a long and rare pass phrase 4711".to_owned(),
            role: paqueteria_core::domain::Role::Admin,
            branch_id: None,
        })
        .await
        .unwrap()
        .id;
    let p = register(s, a, b, Service::BranchPickup).await;
    apply(s, &p, &ParcelEvent::Receive, &OPERATOR)
        .await
        .unwrap();
    let id = s.notifications(p.id).await.unwrap()[0].id;

    // Two attempts at once: one sends, the other does not.
    let (x, y) = tokio::join!(s.claim_notification(id), s.claim_notification(id));
    let sends = [x.unwrap(), y.unwrap()]
        .iter()
        .filter(|c| matches!(c, Claim::Send(_)))
        .count();
    assert_eq!(sends, 1);
    s.mark_notification_failed(id, "refused").await.unwrap();

    // The console's list: by state, and by a branch of the parcel only.
    let failed = s
        .messages(Some("failed"), None, None, None, 10)
        .await
        .unwrap();
    assert_eq!(failed.iter().map(|(n, _)| n.id).collect::<Vec<_>>(), [id]);
    assert_eq!(
        s.messages(None, None, Some(a), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let other = s
        .create_branch(&paqueteria_testkit::branch("CAL-01", "Cali", "Cali"))
        .await
        .unwrap()
        .id;
    assert!(
        s.messages(None, None, Some(other), None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Resent once: pending again, counted, audited; a second press does nothing.
    assert!(s.resend_notification(id, admin).await.unwrap());
    assert!(!s.resend_notification(id, admin).await.unwrap());
    let n = s.notification(id).await.unwrap();
    assert_eq!((n.state.as_str(), n.resends), ("pending", 1));
    let audited = s
        .audit_log(&AuditFilter {
            action: Some(AuditAction::MessageResent),
            actor_id: Some(admin),
            before_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!(
        audited[0].subject.as_deref(),
        Some(format!("notification:{id}").as_str())
    );

    // An attempt that died during the send: unknown, never resent.
    assert!(matches!(
        s.claim_notification(id).await.unwrap(),
        Claim::Send(_)
    ));
    assert!(matches!(
        s.claim_notification(id).await.unwrap(),
        Claim::Unknown(_)
    ));
    assert!(!s.resend_notification(id, admin).await.unwrap());
    assert_eq!(s.notification(id).await.unwrap().state, "unknown");
    db.finish().await;
}

store_suite!(sqlite; a_failed_message_is_resent_once_and_never_one_that_may_have_arrived);
store_suite!(postgres; a_failed_message_is_resent_once_and_never_one_that_may_have_arrived);
