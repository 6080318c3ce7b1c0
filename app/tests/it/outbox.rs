//! The embedded default end to end: with no SMTP server or SMS gateway
//! configured, a status change's messages go through the outbox relay, the
//! in-process worker and the send jobs into the store's outbox, which the
//! API lists. And the dashboard answers before its first scheduled refresh.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use paqueteria_testkit::eventually;

use crate::common::{app_with_staff, parcel_body, token};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_lands_its_sms_and_email_in_the_outbox() {
    let (app, branches) = app_with_staff().await;
    let op = token(&app, "operator@example.com").await;
    let admin = token(&app, "admin@example.com").await;
    let mut body = parcel_body(&branches);
    body["recipient"]["email"] = json!("luis@example.com");
    let created = app.post_json("/api/v1/parcels", Some(&op), &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let parcel = created.json();
    let (id, code) = (
        parcel["id"].as_i64().unwrap(),
        parcel["tracking_code"].clone(),
    );
    let moved = app
        .post_json(
            &format!("/api/v1/parcels/{id}/transition"),
            Some(&op),
            &json!({"event": "receive", "version": parcel["version"]}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);

    let messages = eventually(
        Duration::from_secs(20),
        "two messages in the outbox",
        || async {
            let r = app.get("/api/v1/outbox", Some(&admin)).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let list = r.json().as_array().cloned().unwrap();
            (list.len() >= 2).then_some(list)
        },
    )
    .await;
    let code = code.as_str().unwrap();
    let sms = messages.iter().find(|m| m["channel"] == "sms").unwrap();
    assert_eq!(sms["recipient"], "+573002220000");
    assert!(sms["text_body"].as_str().unwrap().contains(code), "{sms}");
    let email = messages.iter().find(|m| m["channel"] == "email").unwrap();
    assert_eq!(email["recipient"], "luis@example.com");
    assert!(
        email["subject"].as_str().is_some_and(|s| !s.is_empty()),
        "{email}"
    );
    assert!(
        email["text_body"].as_str().unwrap().contains(code),
        "{email}"
    );
    assert!(
        email["html_body"].as_str().unwrap().contains(code),
        "{email}"
    );

    // Each notification was sent once, by the outbox transport.
    let notes = app.store.notifications(id).await.unwrap();
    assert_eq!(notes.len(), 2);
    assert!(
        notes
            .iter()
            .all(|n| n.state == "sent" && n.transport.as_deref() == Some("outbox")),
        "{notes:?}"
    );
    let only_sms = app.get("/api/v1/outbox?channel=sms", Some(&admin)).await;
    assert_eq!(only_sms.json().as_array().map(Vec::len), Some(1));
    let bad = app.get("/api/v1/outbox?limit=0", Some(&admin)).await;
    assert_eq!(
        (bad.status, bad.json()["detail"][0]["loc"].clone()),
        (422, json!(["query", "limit"]))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_counts_todays_work() {
    let (app, branches) = app_with_staff().await;
    let op = token(&app, "operator@example.com").await;
    for _ in 0..2 {
        let r = app
            .post_json("/api/v1/parcels", Some(&op), &parcel_body(&branches))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = app.get("/api/v1/dashboard", Some(&op)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = r.json();
    assert_eq!(d["by_status"]["REGISTERED"], 2);
    // Two registrations at $ 12.000 each, paid today (minor units).
    assert_eq!(d["revenue_today"], 2_400_000);
    assert_eq!(d["received_today"], 0);
    app.stop().await;
}
