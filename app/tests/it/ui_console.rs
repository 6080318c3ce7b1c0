//! The jobs console over HTTP: who may open it, who may act, and the
//! messages page's resend, which sends a failed message once more and
//! never one that may have arrived.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use paqueteria_core::domain::Role;
use paqueteria_core::store::{AuditAction, AuditFilter};

use crate::common::TestApp;
use crate::ui::{Jar, get, post_form, signed_in, token_of};

/// Waits (at most 30 s) until notification `id` is in `state`.
async fn settles(app: &TestApp, id: i64, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = app.store.notification(id).await.unwrap();
        if n.state == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "notification {id} stays {}: {n:?}",
            n.state
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn resends(app: &TestApp) -> usize {
    app.store
        .audit_log(&AuditFilter {
            action: Some(AuditAction::MessageResent),
            actor_id: None,
            before_id: None,
            limit: 50,
        })
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_message_is_sent_again_once_by_an_admin_and_never_by_a_supervisor() {
    let (app, branches) = crate::common::app_with_staff().await;
    crate::common::staff_at(&app, "sup@example.com", Role::Supervisor, Some(branches[0])).await;
    let (parcel, _) = crate::common::registered_parcels(&app, &branches, 1).await[0].clone();
    // Its reception texts the recipient.
    let admin_token = crate::common::token(&app, "admin@example.com").await;
    let r = app
        .post_json(
            &format!("/api/v1/parcels/{parcel}/transition"),
            Some(&admin_token),
            &serde_json::json!({"event": "receive", "version": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sms = app.store.notifications(parcel).await.unwrap()[0].id;
    // Sent (the embedded default keeps it in the outbox), then recorded as
    // refused by the gateway.
    settles(&app, sms, "sent").await;
    app.store
        .mark_notification_failed(sms, "the gateway refused the number")
        .await
        .unwrap();

    // Who may open the console.
    let mut nobody = Jar::default();
    let r = get(&app, &mut nobody, "/console/messages", &[]).await;
    assert_eq!(r.status, 303);
    let mut op = signed_in(&app, "operator@example.com").await;
    assert_eq!(
        get(&app, &mut op, "/console/messages", &[]).await.status,
        403
    );

    // A supervisor reads it, without the resend button, and may not post it.
    let mut sup = signed_in(&app, "sup@example.com").await;
    let page = get(&app, &mut sup, "/console/messages?state=failed", &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!("id=\"message-{sms}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("the gateway refused the number"));
    assert!(!page.body.contains("/resend"), "{}", page.body);
    let token = token_of(&page);
    let path = format!("/console/messages/{sms}/resend");
    let r = post_form(&app, &mut sup, &path, &[("authenticity_token", &token)]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(app.store.notification(sms).await.unwrap().state, "failed");

    // An admin: without the token nothing happens; with it, once.
    let mut admin = signed_in(&app, "admin@example.com").await;
    let page = get(&app, &mut admin, "/console/messages?state=failed", &[]).await;
    assert!(page.body.contains(&path), "{}", page.body);
    let r = post_form(&app, &mut admin, &path, &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(app.store.notification(sms).await.unwrap().state, "failed");
    let token = token_of(&page);
    let r = post_form(&app, &mut admin, &path, &[("authenticity_token", &token)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/console/messages?resent=1")
    );
    settles(&app, sms, "sent").await;
    assert_eq!(resends(&app).await, 1);
    // A second press finds it no longer failed: nothing is sent.
    let r = post_form(&app, &mut admin, &path, &[("authenticity_token", &token)]).await;
    assert_eq!(
        r.header("location").as_deref(),
        Some("/console/messages?resent=0")
    );
    assert_eq!(resends(&app).await, 1);

    // A message whose send may have reached its recipient (`unknown`: an
    // attempt died during the call) is never offered again, nor sent.
    app.store
        .mark_notification_failed(sms, "refused")
        .await
        .unwrap();
    app.store.claim_notification(sms).await.unwrap();
    app.store.claim_notification(sms).await.unwrap();
    assert_eq!(app.store.notification(sms).await.unwrap().state, "unknown");
    let page = get(&app, &mut admin, "/console/messages?state=unknown", &[]).await;
    assert!(
        page.body.contains(&format!("id=\"message-{sms}\"")),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&path), "{}", page.body);
    let r = post_form(&app, &mut admin, &path, &[("authenticity_token", &token)]).await;
    assert_eq!(
        r.header("location").as_deref(),
        Some("/console/messages?resent=0")
    );
    assert_eq!(app.store.notification(sms).await.unwrap().state, "unknown");
    app.stop().await;
}
