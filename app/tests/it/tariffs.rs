//! The price list, on both stores: every signed-in user reads the current
//! and past lines, filtered and paged; an admin ends a line (never edits
//! it): from then on no quote finds it, and a parcel quoted on it keeps its
//! amount.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::accounts::{CLERK, locs, staff_app};
use crate::common::{TestApp, parcel_body, token};

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

fn line(package_type: &str, zone: &str, base: i64) -> Value {
    json!({"package_type": package_type, "zone": zone, "min_grams": 0, "max_grams": 30_000,
           "base_price": base, "per_kg_price": 0, "storage_grace_hours": 24,
           "storage_fee_per_day": 0, "cod_fee": 0, "valid_from_ms": 0})
}

async fn an_ended_tariff_is_no_longer_quoted_and_parcels_keep_their_amount(
    app: TestApp,
    branches: Vec<i64>,
) {
    let admin = token(&app, "admin@example.com").await;
    let op = token(&app, CLERK).await;
    let courier = token(&app, "courier@example.com").await;
    let quote = json!({"package_type": "box", "zone": "national", "weight_grams": 1500});

    // everyone signed in reads prices
    assert_eq!(app.get("/api/v1/tariffs", None).await.status, 401);
    let r = app.get("/api/v1/tariffs", Some(&courier)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let demo = ids(&r.json());
    assert_eq!(demo.len(), 1, "{}", r.body);
    let demo = demo[0];

    let registered = app
        .post_json("/api/v1/parcels", Some(&op), &parcel_body(&branches))
        .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let parcel = registered.json();
    assert_eq!(parcel["tariff_id"], demo);
    let amount = parcel["quoted_amount"].clone();
    let r = app
        .post_json("/api/v1/tariffs/quote", Some(&op), &quote)
        .await;
    assert_eq!(
        (r.status, r.json()["tariff_id"].clone()),
        (200, json!(demo))
    );

    let end = format!("/api/v1/tariffs/{demo}/end");
    let r = app.post_json(&end, Some(&op), &json!({})).await;
    assert_eq!(r.status, 403, "admins end tariffs: {}", r.body);
    let r = app
        .post_json(&end, Some(&admin), &json!({"valid_to_ms": 0}))
        .await;
    assert_eq!(locs(&r), ["body.valid_to_ms"], "not before it starts");
    let r = app
        .post_json(&end, Some(&admin), &json!({"valid_to_ms": 1_000}))
        .await;
    assert_eq!(locs(&r), ["body.valid_to_ms"], "not in the past");
    let r = app
        .post_json("/api/v1/tariffs/999999/end", Some(&admin), &json!({}))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = app
        .post_json("/api/v1/tariffs/quote", Some(&op), &quote)
        .await;
    assert_eq!(r.status, 200, "still valid after the refusals");

    // no body: it ends now
    let r = app
        .request(
            "POST",
            &end,
            &[("Authorization", &format!("Bearer {admin}"))],
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ended = r.json();
    assert!(ended["valid_to_ms"].as_i64().is_some(), "{ended}");
    assert_eq!(ended["base_price"], json!(800_000), "nothing else changed");
    let r = app.post_json(&end, Some(&admin), &json!({})).await;
    assert_eq!(r.status, 409, "already ended: {}", r.body);

    let r = app
        .post_json("/api/v1/tariffs/quote", Some(&op), &quote)
        .await;
    assert_eq!(locs(&r), ["body.package_type"], "no tariff any more");
    let again = app
        .get(&format!("/api/v1/parcels/{}", parcel["id"]), Some(&op))
        .await
        .json();
    assert_eq!(
        (again["tariff_id"].clone(), again["quoted_amount"].clone()),
        (json!(demo), amount),
        "the parcel keeps its snapshot"
    );

    // a new line takes over; the ended one stays in the list as past
    let r = app
        .post_json(
            "/api/v1/tariffs",
            Some(&admin),
            &line("box", "national", 900_000),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let new = r.json()["id"].as_i64().unwrap();
    let r = app
        .post_json("/api/v1/tariffs/quote", Some(&op), &quote)
        .await;
    assert_eq!(r.json()["tariff_id"], new);
    let current = app
        .get("/api/v1/tariffs?current=true", Some(&op))
        .await
        .json();
    assert_eq!(ids(&current), [new]);
    let past = app
        .get("/api/v1/tariffs?current=false", Some(&op))
        .await
        .json();
    assert_eq!(ids(&past), [demo]);
    let all = app
        .get("/api/v1/tariffs?zone=national", Some(&op))
        .await
        .json();
    assert_eq!(
        (ids(&all), all["total"].clone()),
        (vec![new, demo], json!(2))
    );
    app.stop().await;
}

async fn the_price_list_is_filtered_and_paged(app: TestApp) {
    let admin = token(&app, "admin@example.com").await;
    for (kind, zone) in [
        ("envelope", "local"),
        ("envelope", "national"),
        ("box", "local"),
    ] {
        let r = app
            .post_json("/api/v1/tariffs", Some(&admin), &line(kind, zone, 100))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let get = |q: &str| {
        let app = &app;
        let admin = admin.clone();
        let q = q.to_owned();
        async move { app.get(&format!("/api/v1/tariffs?{q}"), Some(&admin)).await }
    };
    let kinds = |page: &Value| -> Vec<(String, String)> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["package_type"].as_str().unwrap().to_owned(),
                    t["zone"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let envelopes = get("package_type=envelope").await.json();
    assert_eq!(
        kinds(&envelopes),
        [
            ("envelope".to_owned(), "local".to_owned()),
            ("envelope".to_owned(), "national".to_owned())
        ]
    );
    let local = get("zone=local&current=true").await.json();
    assert_eq!(local["total"], 2, "{local}");
    let page = get("page=2&page_size=3").await.json();
    assert_eq!((page["total"].clone(), ids(&page).len()), (json!(4), 1));
    assert_eq!(
        locs(&get("page_size=0&current=maybe").await),
        ["query.current"],
        "a bad flag"
    );
    assert_eq!(locs(&get("page_size=201").await), ["query.page_size"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_tariff_is_no_longer_quoted_and_parcels_keep_their_amount_on_sqlite() {
    let (app, branches) = staff_app(None).await;
    an_ended_tariff_is_no_longer_quoted_and_parcels_keep_their_amount(app, branches).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_tariff_is_no_longer_quoted_and_parcels_keep_their_amount_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, branches) = staff_app(Some(&pg.url)).await;
    an_ended_tariff_is_no_longer_quoted_and_parcels_keep_their_amount(app, branches).await;
    pg.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_price_list_is_filtered_and_paged_on_sqlite() {
    let (app, _) = staff_app(None).await;
    the_price_list_is_filtered_and_paged(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_price_list_is_filtered_and_paged_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, _) = staff_app(Some(&pg.url)).await;
    the_price_list_is_filtered_and_paged(app).await;
    pg.drop_now().await;
}
