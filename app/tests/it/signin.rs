//! Sign-in throttling the right way round, and the audit log of sign-ins,
//! on both stores: one address spraying usernames gets 429 (JSON, with
//! `Retry-After`); guesses at one account do not lock its owner out of the
//! address they sign in from, while a new address gets no answer; every
//! sign-in and failed sign-in is audited with the client's address and the
//! email given, never the password.
//!
//! Clients come from distinct loopback addresses (127.0.0.x), so the
//! throttle sees the real TCP peer of each.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};

use paqueteria_core::store::{AuditAction, AuditFilter, AuditRow};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{PASSWORD, Reply, TestApp, app_with_staff_and};

/// A sign-in form posted from the loopback address `127.0.0.{from}`.
async fn login_from(app: &TestApp, from: u8, email: &str, password: &str) -> Reply {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, from), 0)))
        .unwrap();
    let mut s = socket.connect(app.addr).await.unwrap();
    let form = format!("username={email}&password={password}");
    let req = format!(
        "POST /api/v1/auth/token HTTP/1.0\r\nHost: test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .map(|(h, b)| (h.to_owned(), b.to_owned()))
        .unwrap_or_default();
    Reply { status, body, head }
}

/// Asserts `r` is a throttled answer: 429, a JSON `detail`, a whole
/// number of seconds in `Retry-After`.
fn assert_throttled(r: &Reply) {
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.json()["detail"].is_string(), "{}", r.body);
    let wait: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in {}", r.head));
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
}

async fn audit(app: &TestApp, action: AuditAction) -> Vec<AuditRow> {
    app.store
        .audit_log(&AuditFilter {
            action: Some(action),
            limit: 1_000,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

async fn spraying_usernames_from_one_address_gets_429(app: TestApp) {
    let mut statuses = Vec::new();
    let mut first_throttled = None;
    for i in 0..30 {
        let r = login_from(&app, 3, &format!("guess{i}@example.com"), "password1").await;
        if r.status == 429 && first_throttled.is_none() {
            first_throttled = Some(r);
        } else {
            statuses.push(r.status);
        }
    }
    let throttled = first_throttled.expect("30 usernames from one address are never throttled");
    assert_throttled(&throttled);
    assert!(
        statuses.iter().filter(|s| **s == 401).count() >= 10,
        "the first attempts are answered: {statuses:?}"
    );
    assert!(
        login_from(&app, 3, "admin@example.com", PASSWORD)
            .await
            .status
            == 429,
        "the address stays throttled whatever the username"
    );
    assert_eq!(
        login_from(&app, 4, "admin@example.com", PASSWORD)
            .await
            .status,
        200,
        "another address is not affected"
    );

    // Each answered attempt is audited with the address and the email
    // given; throttled ones are not (a flood must not fill the log).
    let failed = audit(&app, AuditAction::SignInFailed).await;
    let answered = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(failed.len(), answered, "{failed:?}");
    for row in &failed {
        assert_eq!(row.client_addr.as_deref(), Some("127.0.0.3"), "{row:?}");
        assert!(
            row.subject.as_deref().unwrap().starts_with("guess"),
            "{row:?}"
        );
        assert_eq!(row.actor_id, None);
        assert!(!row.detail.contains("password1"), "{row:?}");
    }
    let signed_in = audit(&app, AuditAction::SignIn).await;
    assert_eq!(signed_in.len(), 1, "{signed_in:?}");
    assert_eq!(signed_in[0].subject.as_deref(), Some("admin@example.com"));
    assert_eq!(signed_in[0].client_addr.as_deref(), Some("127.0.0.4"));
    assert!(signed_in[0].actor_id.is_some());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spraying_usernames_from_one_address_gets_429_on_sqlite() {
    let (app, _) = app_with_staff_and(&[]).await;
    spraying_usernames_from_one_address_gets_429(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spraying_usernames_from_one_address_gets_429_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, _) = app_with_staff_and(&[("DATABASE_URL", pg.url.clone())]).await;
    spraying_usernames_from_one_address_gets_429(app).await;
    pg.drop_now().await;
}

async fn guesses_at_an_account_do_not_lock_its_owner_out(app: TestApp) {
    let owner = "operator@example.com";
    // The owner signs in from their usual address.
    assert_eq!(login_from(&app, 2, owner, PASSWORD).await.status, 200);
    // A guesser spreads 10 wrong passwords over 10 addresses: each answered.
    for from in 10..20 {
        let r = login_from(&app, from, owner, "wrong password!").await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    // Then the account refuses addresses it does not know, right password
    // or not: the guesser learns nothing.
    assert_throttled(&login_from(&app, 20, owner, "wrong password!").await);
    assert_throttled(&login_from(&app, 21, owner, PASSWORD).await);
    // The owner, at their address, still signs in, typos and all.
    assert_eq!(
        login_from(&app, 2, owner, "a typo").await.status,
        401,
        "a wrong password from the owner's address is checked"
    );
    let r = login_from(&app, 2, owner, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["access_token"].is_string());

    let failed = audit(&app, AuditAction::SignInFailed).await;
    assert_eq!(failed.len(), 11, "10 guesses and the typo: {failed:?}");
    assert!(failed.iter().all(|r| r.subject.as_deref() == Some(owner)));
    let signed_in = audit(&app, AuditAction::SignIn).await;
    assert_eq!(signed_in.len(), 2, "{signed_in:?}");
    assert!(
        signed_in
            .iter()
            .all(|r| r.client_addr.as_deref() == Some("127.0.0.2"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_at_an_account_do_not_lock_its_owner_out_on_sqlite() {
    let (app, _) = app_with_staff_and(&[]).await;
    guesses_at_an_account_do_not_lock_its_owner_out(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_at_an_account_do_not_lock_its_owner_out_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, _) = app_with_staff_and(&[("DATABASE_URL", pg.url.clone())]).await;
    guesses_at_an_account_do_not_lock_its_owner_out(app).await;
    pg.drop_now().await;
}

/// A sign-in posted from 127.0.0.1 saying it was forwarded for `forwarded`.
async fn login_forwarded(app: &TestApp, forwarded: &str, email: &str, password: &str) -> Reply {
    let form = format!("username={email}&password={password}");
    app.request(
        "POST",
        "/api/v1/auth/token",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Forwarded-For", forwarded),
        ],
        &form,
    )
    .await
}

/// `X-Forwarded-For` names the client only when `APP_TRUST_FORWARDED_FOR`
/// says the app is behind a proxy, and then by the entry the proxy
/// appended (the rightmost): what the client wrote to its left is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_names_the_client_only_when_trusted() {
    let (app, _) = app_with_staff_and(&[("APP_TRUST_FORWARDED_FOR", "true".to_owned())]).await;
    // One client rotating the address it writes is still one address.
    for i in 0..40 {
        let r = login_forwarded(
            &app,
            &format!("10.9.{i}.1, 203.0.113.7"),
            &format!("u{i}@example.com"),
            "x",
        )
        .await;
        if r.status == 429 {
            break;
        }
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let r = login_forwarded(&app, "203.0.113.7", "admin@example.com", PASSWORD).await;
    assert_throttled(&r);
    // Another address behind the proxy is not affected, and is audited.
    let r = login_forwarded(&app, "203.0.113.8", "admin@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let signed_in = audit(&app, AuditAction::SignIn).await;
    assert_eq!(signed_in[0].client_addr.as_deref(), Some("203.0.113.8"));
    app.stop().await;

    // Not trusted (the default): the header is ignored, the peer counts.
    let (app, _) = app_with_staff_and(&[]).await;
    let r = login_forwarded(&app, "203.0.113.9", "admin@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let signed_in = audit(&app, AuditAction::SignIn).await;
    assert_eq!(signed_in[0].client_addr.as_deref(), Some("127.0.0.1"));
    app.stop().await;
}
