//! Cross-site request forgery, on both stores: a change authenticated by
//! the session cookie is refused (403 JSON, nothing changed) unless the
//! browser says it comes from the app's own origin; reads and bearer-token
//! requests are not affected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::common::{PASSWORD, Reply, TestApp, app_with_staff_and, token};

/// The session cookie of a browser sign-in as `email`.
async fn session_cookie(app: &TestApp, email: &str) -> String {
    let r = app
        .request(
            "POST",
            "/api/v1/auth/session",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &format!("username={email}&password={PASSWORD}"),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let set = r.header("set-cookie").unwrap();
    set.split(';').next().unwrap().to_owned()
}

async fn create_branch(app: &TestApp, code: &str, headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    let body =
        json!({"code": code, "name": format!("Sede {code}"), "city": "Cali", "address": "Calle 5"});
    app.request("POST", "/api/v1/branches", &all, &body.to_string())
        .await
}

async fn branch_codes(app: &TestApp, bearer: &str) -> Vec<String> {
    app.get("/api/v1/branches", Some(bearer))
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn cookie_changes_need_the_apps_own_origin(app: TestApp) {
    let cookie = session_cookie(&app, "admin@example.com").await;
    let bearer = token(&app, "admin@example.com").await;
    let c = ("Cookie", cookie.as_str());

    // From another site, or saying nothing: refused, nothing created.
    for (code, extra) in [
        ("EVL-01", vec![("Origin", "https://evil.example")]),
        ("EVL-02", vec![("Origin", "null")]),
        ("EVL-03", vec![("Sec-Fetch-Site", "cross-site")]),
        (
            "EVL-04",
            vec![("Origin", "https://paq.example.com.evil.example")],
        ),
        ("EVL-05", vec![]),
    ] {
        let mut headers = vec![c];
        headers.extend(extra);
        let r = create_branch(&app, code, &headers).await;
        assert_eq!(r.status, 403, "{code}: {}", r.body);
        assert!(
            r.json()["detail"].as_str().unwrap().contains("origin"),
            "{}",
            r.body
        );
    }
    let codes = branch_codes(&app, &bearer).await;
    assert!(codes.iter().all(|c| !c.starts_with("EVL")), "{codes:?}");
    // A cross-site sign-out is refused too: the session still works.
    let r = app
        .request(
            "POST",
            "/api/v1/auth/logout",
            &[c, ("Origin", "https://evil.example")],
            "",
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let me = app
        .request(
            "GET",
            "/api/v1/users/me",
            &[c, ("Origin", "https://evil.example")],
            "",
        )
        .await;
    assert_eq!(me.status, 200, "reads are not guarded: {}", me.body);

    // From the app's own pages: accepted.
    let cases = [
        ("OWN-01", vec![c, ("Origin", "http://test")]), // the request's Host
        ("OWN-02", vec![c, ("Origin", "https://paq.example.com")]), // APP_PUBLIC_URL
        ("OWN-03", vec![c, ("Sec-Fetch-Site", "same-origin")]),
    ];
    for (code, headers) in cases {
        let r = create_branch(&app, code, &headers).await;
        assert_eq!(r.status, 201, "{code}: {}", r.body);
    }
    // A bearer token is not a browser's ambient credential: not guarded.
    let auth = format!("Bearer {bearer}");
    let r = create_branch(
        &app,
        "API-01",
        &[
            ("Authorization", auth.as_str()),
            ("Origin", "https://evil.example"),
        ],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let codes = branch_codes(&app, &bearer).await;
    for want in ["OWN-01", "OWN-02", "OWN-03", "API-01"] {
        assert!(
            codes.iter().any(|c| c == want),
            "{want} missing from {codes:?}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_changes_need_the_apps_own_origin_on_sqlite() {
    let (app, _) =
        app_with_staff_and(&[("APP_PUBLIC_URL", "https://paq.example.com".to_owned())]).await;
    cookie_changes_need_the_apps_own_origin(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_changes_need_the_apps_own_origin_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, _) = app_with_staff_and(&[
        ("DATABASE_URL", pg.url.clone()),
        ("APP_PUBLIC_URL", "https://paq.example.com".to_owned()),
    ])
    .await;
    cookie_changes_need_the_apps_own_origin(app).await;
    pg.drop_now().await;
}
