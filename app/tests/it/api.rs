//! The REST API as a client uses it: sign-in, roles, FastAPI-style 422s,
//! registering and moving a parcel, the optimistic lock, public tracking.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::{PASSWORD, TestApp, app_with_staff, parcel_body, token};
use paqueteria_core::domain::Role;
use paqueteria_core::store::NewUser;
use paqueteria_testkit::eventually;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_flow_gives_a_bearer_token_and_wrong_passwords_get_401_then_429() {
    let (app, _) = app_with_staff().await;
    let r = app.login("admin@example.com", PASSWORD).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["token_type"], "bearer");
    let bad = app.login("operator@example.com", "wrong password!").await;
    assert_eq!(bad.status, 401);
    let mut last = 0;
    for _ in 0..12 {
        last = app
            .login("operator@example.com", "wrong password!")
            .await
            .status;
    }
    assert_eq!(last, 429, "repeated failures are rate-limited per user");
    app.stop().await;
}

/// Who `Authorization: {scheme} {token}` is, as the status of
/// `/api/v1/users/me`.
async fn me_status(app: &TestApp, scheme: &str, token: &str) -> u16 {
    let header = format!("{scheme} {token}");
    app.request(
        "GET",
        "/api/v1/users/me",
        &[("Authorization", header.as_str())],
        "",
    )
    .await
    .status
}

/// The scheme of `Authorization: Bearer` is case-insensitive for sign-out
/// as for every other route: a lowercase `bearer` sign-out ends the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_with_a_lowercase_bearer_scheme_ends_the_session() {
    let (app, _) = app_with_staff().await;
    let t = token(&app, "operator@example.com").await;
    assert_eq!(me_status(&app, "bearer", &t).await, 200);
    let header = format!("bearer {t}");
    let out = app
        .request(
            "POST",
            "/api/v1/auth/logout",
            &[("Authorization", header.as_str())],
            "",
        )
        .await;
    assert_eq!(out.status, 204);
    assert_eq!(
        me_status(&app, "Bearer", &t).await,
        401,
        "the token no longer works"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_parcel_needs_a_token_and_a_counter_role() {
    let (app, branches) = app_with_staff().await;
    let body = parcel_body(&branches);
    assert_eq!(
        app.post_json("/api/v1/parcels", None, &body).await.status,
        401
    );
    assert_eq!(
        app.post_json("/api/v1/parcels", Some("not-a-token"), &body)
            .await
            .status,
        401
    );
    let courier = token(&app, "courier@example.com").await;
    assert_eq!(
        app.post_json("/api/v1/parcels", Some(&courier), &body)
            .await
            .status,
        403
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_422_naming_the_field() {
    let (app, branches) = app_with_staff().await;
    let op = token(&app, "operator@example.com").await;
    let mut body = parcel_body(&branches);
    body["sender"]["phone"] = json!("3001110000");
    let r = app.post_json("/api/v1/parcels", Some(&op), &body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["detail"][0]["loc"],
        json!(["body", "sender", "phone"])
    );

    let mut body = parcel_body(&branches);
    body["weight_grams"] = json!(0);
    let r = app.post_json("/api/v1/parcels", Some(&op), &body).await;
    assert_eq!(
        (r.status, r.json()["detail"][0]["loc"].clone()),
        (422, json!(["body", "weight_grams"]))
    );

    let mut body = parcel_body(&branches);
    body.as_object_mut().unwrap().remove("zone");
    let r = app.post_json("/api/v1/parcels", Some(&op), &body).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["detail"][0]["type"], "missing");
    assert_eq!(r.json()["detail"][0]["loc"], json!(["body", "zone"]));

    let mut body = parcel_body(&branches);
    body["package_type"] = json!("pallet");
    let r = app.post_json("/api/v1/parcels", Some(&op), &body).await;
    assert_eq!(
        (r.status, r.json()["detail"][0]["loc"].clone()),
        (422, json!(["body", "package_type"]))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parcel_is_registered_moved_and_tracked_publicly_without_personal_data() {
    let (app, branches) = app_with_staff().await;
    let op = token(&app, "operator@example.com").await;
    let r = app
        .post_json("/api/v1/parcels", Some(&op), &parcel_body(&branches))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json();
    let id = created["id"].as_i64().unwrap();
    let code = created["tracking_code"].as_str().unwrap().to_owned();
    assert_eq!(
        created["quoted_amount"], 1_200_000,
        "$ 8.000 + 2 kg x $ 2.000, in centavos"
    );
    assert_eq!(created["pickup_pin"].as_str().map(str::len), Some(6));

    let path = format!("/api/v1/parcels/{id}/transition");
    let r = app
        .post_json(&path, Some(&op), &json!({"event": "receive", "version": 1}))
        .await;
    assert_eq!(
        (
            r.status,
            r.json()["status"].clone(),
            r.json()["version"].clone()
        ),
        (200, json!("RECEIVED"), json!(2))
    );

    let stale = app
        .post_json(
            &path,
            Some(&op),
            &json!({"event": "dispatch", "version": 1}),
        )
        .await;
    assert_eq!(
        stale.status, 409,
        "a stale version is a conflict: {}",
        stale.body
    );
    let courier = token(&app, "courier@example.com").await;
    let r = app
        .post_json(
            &path,
            Some(&courier),
            &json!({"event": "dispatch", "version": 2}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app
        .post_json(
            &path,
            Some(&op),
            &json!({"event": "cancel", "reason": " ", "version": 2}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = app
        .post_json(&path, Some(&op), &json!({"event": "deliver", "version": 2}))
        .await;
    assert_eq!(r.status, 409, "not from RECEIVED: {}", r.body);

    let got = app.get(&format!("/api/v1/parcels/{id}"), Some(&op)).await;
    assert_eq!(got.json()["history"].as_array().map(Vec::len), Some(2));
    assert!(
        got.json().get("pickup_pin").is_none(),
        "the PIN is shown only once"
    );

    let public = app
        .get(&format!("/api/v1/track/{}", code.to_lowercase()), None)
        .await;
    assert_eq!(public.status, 200);
    assert_eq!(public.json()["status"], "RECEIVED");
    for secret in ["Ana", "Luis", "+57300", "ana@example.com"] {
        assert!(
            !public.body.contains(secret),
            "public tracking leaks {secret}: {}",
            public.body
        );
    }
    assert_eq!(app.get("/api/v1/track/PQ12", None).await.status, 422);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branches_tariffs_and_quotes_follow_the_roles() {
    let (app, _) = app_with_staff().await;
    let admin = token(&app, "admin@example.com").await;
    let courier = token(&app, "courier@example.com").await;
    let branch = json!({"code": "cal-01", "name": "Cali Sur", "city": "Cali"});
    assert_eq!(
        app.post_json("/api/v1/branches", Some(&courier), &branch)
            .await
            .status,
        403
    );
    let r = app
        .post_json("/api/v1/branches", Some(&admin), &branch)
        .await;
    assert_eq!((r.status, r.json()["code"].clone()), (201, json!("CAL-01")));
    assert_eq!(
        app.post_json("/api/v1/branches", Some(&admin), &branch)
            .await
            .status,
        409,
        "codes are unique"
    );
    let all = app.get("/api/v1/branches", Some(&courier)).await;
    assert_eq!(all.json().as_array().map(Vec::len), Some(3));
    let q = app
        .post_json("/api/v1/tariffs/quote", Some(&courier), &json!({"package_type": "box", "zone": "national", "weight_grams": 1500, "cod_amount": 100}))
        .await;
    assert_eq!(q.status, 200, "{}", q.body);
    assert_eq!(
        q.json()["amount"],
        1_500_000,
        "$ 8.000 + 2 kg x $ 2.000 + $ 3.000 COD fee"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_enqueues_its_sms_and_the_job_is_visible_by_id() {
    let (app, branches) = app_with_staff().await;
    let op = token(&app, "operator@example.com").await;
    let admin = token(&app, "admin@example.com").await;
    let created = app
        .post_json("/api/v1/parcels", Some(&op), &parcel_body(&branches))
        .await
        .json();
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/parcels/{id}/transition");
    assert_eq!(
        app.post_json(&path, Some(&op), &json!({"event": "receive", "version": 1}))
            .await
            .status,
        200
    );
    let notes = app.store.notifications(id).await.unwrap();
    assert_eq!(notes.len(), 1);
    let job = format!("/api/v1/jobs/sms.send:{}", notes[0].id);
    // The outbox relay enqueues it right after the commit.
    let found = eventually(Duration::from_secs(10), "the SMS job to appear", || async {
        let r = app.get(&job, Some(&op)).await;
        (r.status == 200).then(|| r.json())
    })
    .await;
    assert_eq!(found["queue"], "sms");
    assert_eq!(found["name"], "sms.send");
    // Its payload names the customer: only admins see it.
    assert_eq!(found["payload"], "", "{found}");
    assert!(found["state"].is_string() && found["enqueued_at_ms"].is_i64());
    let as_admin = app.get(&job, Some(&admin)).await.json();
    assert!(
        as_admin["payload"]
            .as_str()
            .unwrap()
            .contains("+573002220000"),
        "{as_admin}"
    );
    assert_eq!(
        app.get("/api/v1/jobs/sms.send:999999", Some(&op))
            .await
            .status,
        404
    );
    assert_eq!(
        app.get("/api/v1/jobs/dead", Some(&op)).await.status,
        403,
        "the dead set is for admins"
    );
    assert_eq!(app.get("/api/v1/jobs/dead", Some(&admin)).await.status, 200);
    let queues = app.get("/api/v1/jobs/queues", Some(&op)).await;
    assert!(
        queues
            .json()
            .as_array()
            .is_some_and(|q| q.iter().any(|s| s["queue"] == "sms"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parcel_list_searches_and_rejects_bad_query_parameters() {
    let (app, branches) = app_with_staff().await;
    let op = token(&app, "operator@example.com").await;
    for _ in 0..3 {
        assert_eq!(
            app.post_json("/api/v1/parcels", Some(&op), &parcel_body(&branches))
                .await
                .status,
            201
        );
    }
    let r = app
        .get("/api/v1/parcels?q=luis&page_size=2", Some(&op))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.json()["total"].clone(),
            r.json()["items"].as_array().map(Vec::len)
        ),
        (json!(3), Some(2))
    );
    let r = app
        .get("/api/v1/parcels?status=NOT_A_STATUS", Some(&op))
        .await;
    assert_eq!(
        (r.status, r.json()["detail"][0]["loc"].clone()),
        (422, json!(["query", "status"]))
    );
    let r = app.get("/api/v1/parcels?page_size=0", Some(&op)).await;
    assert_eq!(r.status, 422);
    assert_eq!(app.get("/api/v1/parcels", None).await.status, 401);
    app.stop().await;
}

/// Every role against every route: 401 without a token, 403 for a role the
/// route does not admit, and anything else (the route's own answer) for one
/// it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_exactly_the_routes_it_may_use() {
    let (app, branches) = app_with_staff().await;
    app.store
        .create_user(&NewUser {
            email: "supervisor@example.com".to_owned(),
            name: "Sup".to_owned(),
            password: PASSWORD.to_owned(),
            role: Role::Supervisor,
            branch_id: Some(branches[1]),
        })
        .await
        .unwrap();
    let op = token(&app, "operator@example.com").await;
    let parcel_id = app
        .post_json("/api/v1/parcels", Some(&op), &parcel_body(&branches))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    use Role::*;
    const ALL: &[Role] = &[Admin, Supervisor, Operator, Courier];
    const STAFF: &[Role] = &[Admin, Supervisor, Operator];
    let parcel_path = format!("/api/v1/parcels/{parcel_id}");
    let table: Vec<(&str, String, serde_json::Value, &[Role])> = vec![
        ("GET", "/api/v1/branches".into(), json!(null), ALL),
        (
            "POST",
            "/api/v1/branches".into(),
            json!({"code": "X", "name": "X", "city": "X"}),
            &[Admin],
        ),
        (
            "POST",
            "/api/v1/tariffs/quote".into(),
            json!({"package_type": "box", "zone": "national", "weight_grams": 10}),
            ALL,
        ),
        (
            "POST",
            "/api/v1/tariffs".into(),
            json!({}),
            &[Admin, Supervisor],
        ),
        ("GET", "/api/v1/parcels".into(), json!(null), ALL),
        (
            "POST",
            "/api/v1/parcels".into(),
            parcel_body(&branches),
            STAFF,
        ),
        ("GET", parcel_path.clone(), json!(null), ALL),
        (
            "POST",
            format!("{parcel_path}/transition"),
            json!({"event": "arrive", "version": 1}),
            ALL,
        ),
        (
            "GET",
            "/api/v1/customers?phone=%2B573001110000".into(),
            json!(null),
            STAFF,
        ),
        (
            "POST",
            "/api/v1/customers".into(),
            json!({"phone": "+573005550000", "name": "Eva"}),
            STAFF,
        ),
        ("GET", "/api/v1/users".into(), json!(null), &[Admin]),
        ("POST", "/api/v1/users".into(), json!({}), &[Admin]),
        ("GET", "/api/v1/users/me".into(), json!(null), ALL),
        ("GET", "/api/v1/jobs/queues".into(), json!(null), ALL),
        ("GET", "/api/v1/jobs/dead".into(), json!(null), &[Admin]),
        (
            "GET",
            "/api/v1/jobs".into(),
            json!(null),
            &[Admin, Supervisor],
        ),
        (
            "POST",
            "/api/v1/jobs/queues/role-check/pause".into(),
            json!(null),
            &[Admin],
        ),
        (
            "POST",
            "/api/v1/jobs/queues/role-check/resume".into(),
            json!(null),
            &[Admin],
        ),
        (
            "POST",
            "/api/v1/jobs/no-such-job/run-now".into(),
            json!(null),
            &[Admin],
        ),
        (
            "POST",
            "/api/v1/jobs/no-such-job/cancel".into(),
            json!(null),
            &[Admin],
        ),
        ("POST", "/api/v1/jobs/bulk".into(), json!({}), &[Admin]),
        ("GET", "/api/v1/jobs/no-such-job".into(), json!(null), ALL),
        (
            "POST",
            "/api/v1/jobs/dead/no-such-job/retry".into(),
            json!(null),
            &[Admin],
        ),
        (
            "POST",
            "/api/v1/reports".into(),
            json!({"kind": "xlsx"}),
            &[Admin, Supervisor],
        ),
        (
            "GET",
            // (no such report: 404 for the roles let in)
            "/api/v1/reports/999999".into(),
            json!(null),
            &[Admin, Supervisor],
        ),
        (
            "GET",
            "/api/v1/reports".into(),
            json!(null),
            &[Admin, Supervisor],
        ),
        (
            "GET",
            "/api/v1/outbox".into(),
            json!(null),
            &[Admin, Supervisor],
        ),
        ("GET", "/api/v1/dashboard".into(), json!(null), STAFF),
        // (a JSON body is not a multipart form: 422 for those let in)
        ("POST", format!("{parcel_path}/attachments"), json!({}), ALL),
        (
            "GET",
            format!("{parcel_path}/attachments"),
            json!(null),
            ALL,
        ),
        (
            "GET",
            "/api/v1/attachments/1/download".into(),
            json!(null),
            ALL,
        ),
        (
            "GET",
            "/api/v1/attachments/1/thumbnail".into(),
            json!(null),
            ALL,
        ),
        (
            "GET",
            "/api/v1/reports/999999/download".into(),
            json!(null),
            &[Admin, Supervisor],
        ),
    ];
    let mut tokens = Vec::new();
    for (role, email) in [
        (Admin, "admin@example.com"),
        (Supervisor, "supervisor@example.com"),
        (Operator, "operator@example.com"),
        (Courier, "courier@example.com"),
    ] {
        tokens.push((role, token(&app, email).await));
    }
    for (method, path, body, allowed) in &table {
        let call = |t: Option<String>| {
            let (method, path, body) = (*method, path.clone(), body.clone());
            let app = &app;
            async move {
                match method {
                    "GET" => app.get(&path, t.as_deref()).await.status,
                    _ => app.post_json(&path, t.as_deref(), &body).await.status,
                }
            }
        };
        assert_eq!(call(None).await, 401, "{method} {path} without a token");
        for (role, t) in &tokens {
            let status = call(Some(t.clone())).await;
            if allowed.contains(role) {
                assert!(
                    status != 401 && status != 403,
                    "{method} {path} as {role:?} gave {status}"
                );
            } else {
                assert_eq!(status, 403, "{method} {path} as {role:?}");
            }
        }
    }
    assert_eq!(
        app.get("/api/v1/track/PQ000000000CO", None).await.status,
        422,
        "public, but validated"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_signs_in_with_an_http_only_cookie_and_signs_out() {
    let (app, _) = app_with_staff().await;
    let form = format!("username=operator@example.com&password={PASSWORD}");
    let r = app
        .request(
            "POST",
            "/api/v1/auth/session",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("X-Forwarded-Proto", "https"),
            ],
            &form,
        )
        .await;
    assert_eq!(r.status, 204);
    let raw = app
        .request(
            "POST",
            "/api/v1/auth/session",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form,
        )
        .await;
    assert_eq!(raw.status, 204);
    // The cookie is read back from a fresh sign-in's Set-Cookie header.
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(
        format!(
            "POST /api/v1/auth/session HTTP/1.0\r\nHost: t\r\nX-Forwarded-Proto: https\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = String::new();
    s.read_to_string(&mut head).await.unwrap();
    let cookie_line = head
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie:"))
        .unwrap()
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie_line.contains(attr), "{cookie_line} lacks {attr}");
    }
    let pair = cookie_line
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let me = app
        .request("GET", "/api/v1/users/me", &[("Cookie", pair.as_str())], "")
        .await;
    assert_eq!(
        (me.status, me.json()["email"].clone()),
        (200, json!("operator@example.com"))
    );
    let out = app
        .request(
            "POST",
            "/api/v1/auth/logout",
            // as a browser sends it from the app's own page
            &[("Cookie", pair.as_str()), ("Sec-Fetch-Site", "same-origin")],
            "",
        )
        .await;
    assert_eq!(out.status, 204);
    let after = app
        .request("GET", "/api/v1/users/me", &[("Cookie", pair.as_str())], "")
        .await;
    assert_eq!(after.status, 401, "the session ended");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_request_enqueues_its_job_and_its_state_is_readable() {
    let (app, _) = app_with_staff().await;
    let admin = token(&app, "admin@example.com").await;
    let op = token(&app, "operator@example.com").await;
    let body = json!({"kind": "pdf", "from_ms": 0, "to_ms": 1_000});
    assert_eq!(
        app.post_json("/api/v1/reports", Some(&op), &body)
            .await
            .status,
        403
    );
    let r = app.post_json("/api/v1/reports", Some(&admin), &body).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let report = r.json();
    let id = report["id"].as_i64().unwrap();
    assert_eq!(report["job_id"], format!("report.pdf:{id}"));
    let job = app
        .get(&format!("/api/v1/jobs/report.pdf:{id}"), Some(&admin))
        .await;
    assert_eq!(
        (job.status, job.json()["queue"].clone()),
        (200, json!("reports"))
    );
    let got = app
        .get(&format!("/api/v1/reports/{id}"), Some(&admin))
        .await;
    assert_eq!(
        (got.status, got.json()["kind"].clone()),
        (200, json!("pdf"))
    );
    let bad = app
        .post_json("/api/v1/reports", Some(&admin), &json!({"kind": "docx"}))
        .await;
    assert_eq!(
        (bad.status, bad.json()["detail"][0]["loc"].clone()),
        (422, json!(["body", "kind"]))
    );
    let bad = app
        .post_json(
            "/api/v1/reports",
            Some(&admin),
            &json!({"kind": "pdf", "from_ms": 5, "to_ms": 1}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.json()["detail"][0]["loc"].clone()),
        (422, json!(["body", "to_ms"]))
    );
    app.stop().await;
}
