//! Customers at the counter, on both stores: found by name words (accents
//! and case ignored) or the end of a phone, a page at a time; corrected
//! within the bounds of a registration; and a customer renamed is what
//! their parcels are found by from then on (the old name finds nothing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::accounts::{CLERK, locs, patch_json, staff_app};
use crate::common::{TestApp, parcel_body, token};

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn customers_are_found_by_name_words_or_phone(app: TestApp, branches: Vec<i64>) {
    let op = token(&app, CLERK).await;
    let courier = token(&app, "courier@example.com").await;
    let mut body = parcel_body(&branches);
    body["recipient"] = json!({"phone": "+573002220000", "name": "Carolina Díaz Muñoz"});
    let r = app.post_json("/api/v1/parcels", Some(&op), &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let find = |q: &str| {
        let (app, op) = (&app, op.clone());
        let q = q.to_owned();
        async move {
            let r = app.get(&format!("/api/v1/customers?{q}"), Some(&op)).await;
            assert_eq!(r.status, 200, "{q}: {}", r.body);
            r.json()
        }
    };
    let ana = vec!["Ana Gómez".to_owned()];
    let carolina = vec!["Carolina Díaz Muñoz".to_owned()];
    assert_eq!(names(&find("q=gomez").await), ana);
    assert_eq!(names(&find("q=GÓM").await), ana, "the start of a word");
    assert_eq!(names(&find("q=munoz%20car").await), carolina, "any order");
    assert_eq!(
        names(&find("q=diaz%20ana").await),
        Vec::<String>::new(),
        "every word"
    );
    assert_eq!(
        names(&find("q=omez").await),
        Vec::<String>::new(),
        "not mid-word"
    );
    assert_eq!(
        names(&find("q=300%20111%200000").await),
        ana,
        "a phone's end"
    );
    assert_eq!(names(&find("q=%2B573002220000").await), carolina);
    assert_eq!(names(&find("phone=%2B573001110000").await), ana);
    let all = find("page_size=1").await;
    assert_eq!(
        (names(&all), all["total"].clone()),
        (ana, json!(2)),
        "by name"
    );
    let second = find("page=2&page_size=1").await;
    assert_eq!(names(&second), carolina);
    let past = find("page=3&page_size=1").await;
    assert_eq!((names(&past).len(), past["total"].clone()), (0, json!(2)));

    // capitals with accents, and a hyphen between surnames
    let r = app
        .post_json(
            "/api/v1/customers",
            Some(&op),
            &json!({"phone": "+573003330000", "name": "ÁLVARO Núñez-Ruiz"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let alvaro = vec!["ÁLVARO Núñez-Ruiz".to_owned()];
    assert_eq!(names(&find("q=alvaro%20ruiz").await), alvaro);
    assert_eq!(names(&find("q=NUNEZ").await), alvaro);

    assert_eq!(app.get("/api/v1/customers?q=ana", None).await.status, 401);
    assert_eq!(
        app.get("/api/v1/customers?q=ana", Some(&courier))
            .await
            .status,
        403
    );
    let long = "a".repeat(201);
    let r = app
        .get(
            &format!("/api/v1/customers?q={long}&page_size=0"),
            Some(&op),
        )
        .await;
    assert_eq!(locs(&r), ["query.page_size", "query.q"]);
    app.stop().await;
}

async fn a_renamed_customers_parcels_are_found_by_the_new_name(app: TestApp, branches: Vec<i64>) {
    let op = token(&app, CLERK).await;
    let courier = token(&app, "courier@example.com").await;
    let mut parcels = Vec::new();
    for _ in 0..3 {
        let r = app
            .post_json("/api/v1/parcels", Some(&op), &parcel_body(&branches))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        parcels.push(r.json()["id"].as_i64().unwrap());
    }
    parcels.reverse(); // the list is newest first
    let found = |q: &str| {
        let (app, op) = (&app, op.clone());
        let q = q.to_owned();
        async move {
            let r = app.get(&format!("/api/v1/parcels?q={q}"), Some(&op)).await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("gomez").await, parcels);
    let ana = app
        .get("/api/v1/customers?phone=%2B573001110000", Some(&op))
        .await
        .json()["items"][0]
        .clone();
    let path = format!("/api/v1/customers/{}", ana["id"]);

    // refused: every field past its bound named, nothing changed
    let r = patch_json(
        &app,
        &path,
        Some(&op),
        &json!({"name": "n".repeat(121), "email": format!("{}@x.co", "e".repeat(250)),
                "document": "9".repeat(41), "address": "Calle 1"}),
    )
    .await;
    assert_eq!(locs(&r), ["body.name", "body.email", "body.document"]);
    let r = patch_json(&app, &path, Some(&op), &json!({"phone": "+573009999999"})).await;
    assert_eq!(r.status, 422, "the phone is the key: {}", r.body);
    let r = patch_json(&app, &path, Some(&courier), &json!({"name": "Otra"})).await;
    assert_eq!(r.status, 403);
    let r = patch_json(
        &app,
        "/api/v1/customers/999999",
        Some(&op),
        &json!({"name": "X"}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(found("gomez").await, parcels, "nothing changed");

    let r = patch_json(
        &app,
        &path,
        Some(&op),
        &json!({"name": "Ana Beltrán", "email": null, "document": "CC 52.123.456"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let after = r.json();
    assert_eq!(after["name"], "Ana Beltrán");
    assert_eq!(after["email"], Value::Null, "removed");
    assert_eq!(after["document"], "CC 52.123.456");
    assert_eq!(after["phone"], ana["phone"]);
    assert_eq!(after["address"], ana["address"], "left as it was");

    assert_eq!(found("beltran").await, parcels, "the new name finds them");
    assert_eq!(found("ana%20beltran").await, parcels);
    assert_eq!(
        found("gomez").await,
        Vec::<i64>::new(),
        "the old name does not"
    );
    assert_eq!(found("perez").await, parcels, "the recipient is untouched");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_found_by_name_words_or_phone_on_sqlite() {
    let (app, branches) = staff_app(None).await;
    customers_are_found_by_name_words_or_phone(app, branches).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_found_by_name_words_or_phone_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, branches) = staff_app(Some(&pg.url)).await;
    customers_are_found_by_name_words_or_phone(app, branches).await;
    pg.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_customers_parcels_are_found_by_the_new_name_on_sqlite() {
    let (app, branches) = staff_app(None).await;
    a_renamed_customers_parcels_are_found_by_the_new_name(app, branches).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_customers_parcels_are_found_by_the_new_name_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, branches) = staff_app(Some(&pg.url)).await;
    a_renamed_customers_parcels_are_found_by_the_new_name(app, branches).await;
    pg.drop_now().await;
}
