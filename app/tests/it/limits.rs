//! Text past its bound is refused before the store sees it, every field
//! named, on both stores: a name of a million characters, or of thousands
//! of words (which the name search would index in pairs), must not hold the
//! store's write lock while other requests wait.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;

use crate::common::{TestApp, app_with_staff_and, parcel_body, token};

async fn long_names_are_refused_at_once_naming_the_field(app: TestApp, branches: Vec<i64>) {
    let op = token(&app, "operator@example.com").await;
    let million = "x".repeat(1_000_000);
    let words: Vec<String> = (0..3_000).map(|i| format!("w{i}")).collect();
    let thirteen = "a b c d e f g h i j k l m";
    let cases = [
        ("sender", million.as_str(), "at most 120 characters"),
        ("recipient", &words.join(" "), "at most 120 characters"),
        ("recipient", thirteen, "at most 12 words"),
    ];
    // The long names go in while other registrations go on: every one of
    // those succeeds (before, a name of thousands of words held the
    // store's write lock for seconds and the others failed with 500
    // "database is locked").
    let refusals = async {
        for (who, name, says) in &cases {
            let mut body = parcel_body(&branches);
            body[*who]["name"] = json!(name);
            let r = app.post_json("/api/v1/parcels", Some(&op), &body).await;
            assert_eq!(
                r.status,
                422,
                "{}",
                r.body.chars().take(300).collect::<String>()
            );
            let detail = r.json()["detail"].clone();
            assert_eq!(detail[0]["loc"], json!(["body", who, "name"]), "{detail}");
            assert!(
                detail[0]["msg"].as_str().unwrap().contains(says),
                "{detail}"
            );
        }
    };
    let others = async {
        let mut statuses = Vec::new();
        for _ in 0..10 {
            let r = app
                .post_json("/api/v1/parcels", Some(&op), &parcel_body(&branches))
                .await;
            statuses.push(r.status);
        }
        statuses
    };
    let ((), statuses) = tokio::join!(refusals, others);
    assert_eq!(statuses, vec![201; 10], "the other registrations went on");
    // Refused by the request's own checks: the store has only the others.
    let list = app.get("/api/v1/parcels", Some(&op)).await;
    assert_eq!(list.json()["total"], json!(10), "{}", list.body);

    // Every field past its bound is listed, not only the first.
    let mut body = parcel_body(&branches);
    body["sender"]["name"] = json!("y".repeat(121));
    body["recipient"]["address"] = json!("z".repeat(301));
    body["zone"] = json!("q".repeat(41));
    body["weight_grams"] = json!(0);
    let r = app.post_json("/api/v1/parcels", Some(&op), &body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let locs: Vec<serde_json::Value> = r.json()["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["loc"].clone())
        .collect();
    for want in [
        json!(["body", "weight_grams"]),
        json!(["body", "sender", "name"]),
        json!(["body", "recipient", "address"]),
        json!(["body", "zone"]),
    ] {
        assert!(locs.contains(&want), "{want} missing from {locs:?}");
    }

    // Negative sizes and amounts are refused the same way.
    let mut body = parcel_body(&branches);
    body["dimensions_mm"] = json!([300, -1, 100]);
    body["declared_value"] = json!(-5);
    let r = app.post_json("/api/v1/parcels", Some(&op), &body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let detail = r.json()["detail"].to_string();
    assert!(
        detail.contains("dimensions_mm") && detail.contains("declared_value"),
        "{detail}"
    );

    // A tariff with negative prices, free storage past a year and a
    // validity that ends before it starts: every field named, none created.
    let admin = token(&app, "admin@example.com").await;
    let tariff = json!({
        "package_type": "sobre", "zone": "local", "min_grams": 0, "max_grams": 1000,
        "base_price": -100, "per_kg_price": -10, "storage_grace_hours": 9_000_000_000_000_i64,
        "storage_fee_per_day": 0, "cod_fee": -1, "valid_from_ms": 1000, "valid_to_ms": 10
    });
    let r = app
        .post_json("/api/v1/tariffs", Some(&admin), &tariff)
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let detail = r.json()["detail"].to_string();
    for field in [
        "base_price",
        "per_kg_price",
        "cod_fee",
        "storage_grace_hours",
        "valid_to_ms",
    ] {
        assert!(detail.contains(field), "{field} missing from {detail}");
    }
    let quote = app
        .post_json(
            "/api/v1/tariffs/quote",
            Some(&op),
            &json!({"package_type": "sobre", "zone": "local", "weight_grams": 100}),
        )
        .await;
    assert_ne!(
        quote.status, 200,
        "no such tariff was created: {}",
        quote.body
    );

    // Nothing was held: a valid registration goes through at once.
    let r = app
        .post_json("/api/v1/parcels", Some(&op), &parcel_body(&branches))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_names_are_refused_at_once_on_sqlite() {
    let (app, branches) = app_with_staff_and(&[]).await;
    long_names_are_refused_at_once_naming_the_field(app, branches).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_names_are_refused_at_once_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, branches) = app_with_staff_and(&[("DATABASE_URL", pg.url.clone())]).await;
    long_names_are_refused_at_once_naming_the_field(app, branches).await;
    pg.drop_now().await;
}

/// The app's resident memory, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A form POST over plain HTTP/1.0; the status.
async fn post_form(port: u16, path: &str, form: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.0\r\nHost: test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        form.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(form.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// 1,000 sign-ins with different 100 KB usernames (an unauthenticated
/// flood) leave the app's memory where it was: each is refused for its
/// length before the throttle keeps anything of it, and the throttle keeps
/// a hash per account, not the username.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_long_usernames_leaves_the_apps_memory_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut app = std::process::Command::new(env!("CARGO_BIN_EXE_app"))
        .env("DATA_DIR", dir.path())
        .env("APP_ADDR", format!("127.0.0.1:{port}"))
        .env("APP_ADMIN_EMAIL", "admin@example.com")
        .env("APP_ADMIN_PASSWORD", "a long admin password")
        .env("RUST_LOG", "warn")
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    paqueteria_testkit::eventually(Duration::from_secs(30), "the app to answer", || async {
        paqueteria_testkit::http_get(("127.0.0.1", port), "/health")
            .await
            .is_some_and(|(status, _)| status == 200)
    })
    .await;
    // Warm up: the first requests allocate what every request reuses.
    for i in 0..50 {
        let form = format!("username=warm{i}%40example.com&password=x");
        post_form(port, "/api/v1/auth/token", &form).await;
    }
    let before = rss_kib(app.id());
    for i in 0..1_000 {
        let name = format!("{i}{}", "u".repeat(100_000));
        let status = post_form(
            port,
            "/api/v1/auth/token",
            &format!("username={name}&password=x"),
        )
        .await;
        assert_eq!(status, 422, "a 100 KB username is refused for its length");
    }
    let after = rss_kib(app.id());
    let _ = app.kill();
    let _ = app.wait();
    assert!(
        after <= before + 8 * 1024,
        "1,000 long usernames grew the app from {before} KiB to {after} KiB"
    );
}
