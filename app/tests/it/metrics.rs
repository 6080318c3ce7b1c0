//! What the app tells Prometheus beyond HTTP: sign-ins by outcome, the
//! notification outbox's backlog, the jobs it enqueued and, in the
//! all-in-one run, the notifications its worker sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::common::{TestApp, app_with_staff_and, parcel_body, token};

/// The value of the series `series` (name and labels as exposed), if any.
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

async fn scrape(app: &TestApp) -> String {
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    r.body
}

/// Registers a parcel and receives it at the counter: one SMS to its
/// recipient.
async fn received_parcel(app: &TestApp, op: &str, branches: &[i64]) {
    let r = app
        .post_json("/api/v1/parcels", Some(op), &parcel_body(branches))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let r = app
        .post_json(
            &format!("/api/v1/parcels/{id}/transition"),
            Some(op),
            &serde_json::json!({"event": "receive", "version": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

const SIGN_INS: &str = "paqueteria_auth_sign_ins_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_and_the_outbox_backlog_are_on_metrics() {
    // No broker to relay to: the parcel's notifications stay in the outbox.
    let (app, branches) =
        app_with_staff_and(&[("REDIS_URL", "redis://127.0.0.1:1/0".to_owned())]).await;
    let before = scrape(&app).await;
    for outcome in ["succeeded", "failed", "throttled"] {
        assert_eq!(
            value(&before, &format!(r#"{SIGN_INS}{{outcome="{outcome}"}}"#)),
            Some(0.0),
            "{outcome} is shown from the start:\n{before}"
        );
    }
    assert_eq!(
        value(&before, r#"paqueteria_outbox_pending{channel="sms"}"#),
        Some(0.0)
    );

    let op = token(&app, "operator@example.com").await;
    assert_eq!(
        app.login("operator@example.com", "wrong password")
            .await
            .status,
        401
    );
    received_parcel(&app, &op, &branches).await;

    let after = scrape(&app).await;
    let signed = |outcome: &str| value(&after, &format!(r#"{SIGN_INS}{{outcome="{outcome}"}}"#));
    assert_eq!(signed("succeeded"), Some(1.0), "{after}");
    assert_eq!(signed("failed"), Some(1.0), "{after}");
    // Receiving it writes an SMS to its recipient, which waits.
    assert_eq!(
        value(&after, r#"paqueteria_outbox_pending{channel="sms"}"#),
        Some(1.0),
        "{after}"
    );
    assert!(
        value(
            &after,
            r#"paqueteria_outbox_oldest_age_seconds{channel="sms"}"#
        )
        .is_some_and(|age| age >= 0.0),
        "{after}"
    );
    assert_eq!(
        value(&after, r#"paqueteria_outbox_pending{channel="email"}"#),
        Some(0.0),
        "the recipient has no email address:\n{after}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_all_in_one_app_counts_what_it_enqueues_and_sends() {
    let (app, branches) = app_with_staff_and(&[]).await;
    let op = token(&app, "operator@example.com").await;
    received_parcel(&app, &op, &branches).await;
    // The relay enqueues the SMS and the in-process worker keeps it in the
    // local outbox (no gateway configured). The counters are the
    // process's, shared with the other tests of this binary: at least one.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = scrape(&app).await;
        let enqueued = value(
            &m,
            r#"paqueteria_jobs_enqueued_total{job="sms.send",queue="sms"}"#,
        );
        let outboxed = value(
            &m,
            r#"paqueteria_notifications_total{channel="sms",outcome="outboxed"}"#,
        );
        if enqueued.is_some_and(|n| n >= 1.0) && outboxed.is_some_and(|n| n >= 1.0) {
            assert!(
                value(
                    &m,
                    r#"paqueteria_notifications_total{channel="email",outcome="sent"}"#
                )
                .is_some(),
                "every outcome is shown:\n{m}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "enqueued {enqueued:?}, outboxed {outboxed:?}:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}
