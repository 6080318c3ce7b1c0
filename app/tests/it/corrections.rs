//! Correcting a parcel before it is received (`PATCH /api/v1/parcels/{id}`),
//! on both stores: the fields sent change, the price is quoted again and
//! the shipping payment follows it, the history names every change, and
//! only the parcel's own counter may do it, only while it is registered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::accounts::{locs, patch_json};
use crate::common::{Reply, TestApp, parcel_body};
use crate::workflow::{Staff, history_events, ok, parcel, register, staff};

/// PATCHes parcel `id` as `who` with `fields` at its current version.
async fn correct(app: &TestApp, st: &Staff, id: i64, who: &str, fields: Value) -> Reply {
    let version = parcel(app, st, id).await["version"].clone();
    let mut body = json!({"version": version});
    if let (Some(b), Some(f)) = (body.as_object_mut(), fields.as_object()) {
        b.extend(f.clone());
    }
    patch_json(app, &format!("/api/v1/parcels/{id}"), Some(who), &body).await
}

/// The parcel's payments, as its origin's operator sees them.
async fn payments(app: &TestApp, st: &Staff, id: i64) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/parcels/{id}/payments"), Some(&st.op_bog))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().as_array().unwrap().clone()
}

/// What the counter charges today for `body`: the quote of a fresh
/// registration.
async fn price_of(app: &TestApp, st: &Staff, body: Value) -> Value {
    let (id, _) = register(app, st, body).await;
    parcel(app, st, id).await["quoted_amount"].clone()
}

async fn the_counter_corrects_a_parcel_before_it_is_received(app: TestApp, branches: Vec<i64>) {
    let st = staff(&app, &branches).await;
    let (id, _) = register(&app, &st, parcel_body(&branches)).await;
    let before = parcel(&app, &st, id).await;
    let old_price = before["quoted_amount"].clone();

    // Heavier, home delivery with cash to collect: every field sent
    // changes, the price is what a registration would charge for it.
    let fields = json!({
        "weight_grams": 4200,
        "service": "home_delivery",
        "delivery_address": "Calle 10 # 5-20, Medellín",
        "dimensions_mm": [300, 200, 100],
        "declared_value": 5_000_000,
        "cod_amount": 2_000_000
    });
    let r = correct(&app, &st, id, &st.op_bog, fields.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let after = r.json();
    for (k, v) in fields.as_object().unwrap() {
        // a parcel names its weight `weight`
        let field = if k == "weight_grams" { "weight" } else { k };
        assert_eq!(&after[field], v, "{k}");
    }
    assert_eq!(after["version"], before["version"].as_i64().unwrap() + 1);
    assert_eq!(after["status"], "REGISTERED");
    let mut same = parcel_body(&branches);
    for (k, v) in fields.as_object().unwrap() {
        if k != "dimensions_mm" {
            same[k] = v.clone();
        }
    }
    let new_price = price_of(&app, &st, same).await;
    assert_eq!(after["quoted_amount"], new_price);
    assert_ne!(new_price, old_price, "the test changes the price");
    assert_eq!(
        after,
        parcel(&app, &st, id).await,
        "the answer is the parcel as saved"
    );

    // The history says who changed what, old and new.
    let last = after["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "correct");
    assert_eq!(last["branch_id"], json!(st.bog));
    let said = last["reason"].as_str().unwrap();
    for field in [
        "weight_grams: 1500 → 4200",
        "service: branch_pickup → home_delivery",
        "delivery_address",
        "dimensions_mm",
        "declared_value",
        "cod_amount",
        "quoted_amount",
    ] {
        assert!(said.contains(field), "{field} missing from {said:?}");
    }

    // The shipping payment follows the price: the old one voided with the
    // reason, one for the new price standing.
    let paid = payments(&app, &st, id).await;
    assert_eq!(paid.len(), 2, "{paid:?}");
    assert_eq!(paid[0]["amount"], old_price);
    assert!(
        paid[0]["void_reason"]
            .as_str()
            .is_some_and(|r| r.contains("corrected")),
        "{paid:?}"
    );
    assert_eq!(
        (paid[1]["kind"].clone(), paid[1]["amount"].clone()),
        (json!("shipping"), new_price.clone())
    );
    assert!(paid[1]["voided_at_ms"].is_null(), "{paid:?}");

    // Sending what it already is changes nothing, not even the version.
    let now = parcel(&app, &st, id).await;
    let r = correct(&app, &st, id, &st.op_bog, json!({"weight_grams": 4200})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(parcel(&app, &st, id).await, now);

    // A correction made on an old version is refused and changes nothing.
    let stale = json!({"version": before["version"], "weight_grams": 900});
    let r = patch_json(
        &app,
        &format!("/api/v1/parcels/{id}"),
        Some(&st.op_bog),
        &stale,
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(parcel(&app, &st, id).await, now);

    // Bad values: every field named at once, nothing changed.
    let r = correct(
        &app,
        &st,
        id,
        &st.op_bog,
        json!({"weight_grams": 0, "zone": " ", "dimensions_mm": [1, -1, 1], "declared_value": -1}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let got = locs(&r);
    for want in ["weight_grams", "zone", "dimensions_mm", "declared_value"] {
        assert!(got.contains(&format!("body.{want}")), "{want}: {got:?}");
    }
    for (fields, field) in [
        (json!({"delivery_address": ""}), "delivery_address"),
        (json!({"package_type": "pallet"}), "package_type"),
        (
            json!({"destination_branch_id": 999_999}),
            "destination_branch_id",
        ),
        (json!({"tracking_code": "PQ00000000CO"}), "tracking_code"),
        (json!({"weight_grams": "heavy"}), "weight_grams"),
    ] {
        let r = correct(&app, &st, id, &st.op_bog, fields.clone()).await;
        assert_eq!(r.status, 422, "{fields}: {}", r.body);
        assert!(
            locs(&r).contains(&format!("body.{field}")),
            "{fields}: {}",
            r.body
        );
    }
    assert_eq!(parcel(&app, &st, id).await, now);

    // Another recipient: the parcel is found by their name, no longer by
    // the old one's.
    let r = correct(
        &app,
        &st,
        id,
        &st.op_bog,
        json!({"recipient": {"phone": "+573005550000", "name": "María Ruiz"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(r.json()["recipient_id"], before["recipient_id"]);
    let said = r.json()["history"].as_array().unwrap().last().unwrap()["reason"].clone();
    assert_eq!(
        said,
        "recipient: +573002220000 Luis Pérez → +573005550000 María Ruiz"
    );
    let found = |q: &'static str| {
        let app = &app;
        let admin = st.admin.clone();
        async move {
            let r = app
                .get(&format!("/api/v1/parcels?q={q}"), Some(&admin))
                .await;
            r.json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == json!(id))
        }
    };
    assert!(found("maria%20ruiz").await);
    assert!(!found("luis%20perez").await);

    // Back to a branch pickup: the address nobody will go to is dropped.
    let r = correct(
        &app,
        &st,
        id,
        &st.op_bog,
        json!({"service": "branch_pickup"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["delivery_address"], "");

    // Once received it is too late: 409, nothing changed.
    ok(&app, &st, id, &st.op_bog, "receive", json!({})).await;
    let received = parcel(&app, &st, id).await;
    let r = correct(&app, &st, id, &st.op_bog, json!({"weight_grams": 900})).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(parcel(&app, &st, id).await, received);
    app.stop().await;
}

async fn only_the_parcels_own_counter_corrects_it(app: TestApp, branches: Vec<i64>) {
    let st = staff(&app, &branches).await;
    let (id, _) = register(&app, &st, parcel_body(&branches)).await;
    let before = parcel(&app, &st, id).await;

    // The destination's operator, other branches' staff and couriers: 403,
    // nothing changed.
    for who in [&st.op_med, &st.op_cal, &st.sup_cal, &st.courier_med] {
        let r = correct(&app, &st, id, who, json!({"weight_grams": 2500})).await;
        assert_eq!(r.status, 403, "{}", r.body);
    }
    assert_eq!(parcel(&app, &st, id).await, before);

    // The destination's supervisor may correct it, but not send it away
    // from their branch.
    let r = correct(&app, &st, id, &st.sup_med, json!({"weight_grams": 2500})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = correct(
        &app,
        &st,
        id,
        &st.sup_med,
        json!({"destination_branch_id": st.cal}),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        parcel(&app, &st, id).await["destination_branch_id"],
        json!(st.med)
    );

    // The origin's operator sends it to Cali instead: Cali's staff see it
    // and list it now, Medellín's no longer do.
    let r = correct(
        &app,
        &st,
        id,
        &st.op_bog,
        json!({"destination_branch_id": st.cal}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let path = format!("/api/v1/parcels/{id}");
    assert_eq!(app.get(&path, Some(&st.op_cal)).await.status, 200);
    assert_eq!(app.get(&path, Some(&st.op_med)).await.status, 403);
    let listed = |who: String| {
        let app = &app;
        async move {
            let r = app.get("/api/v1/parcels", Some(&who)).await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["id"] == json!(id))
                .map(|p| p["destination_branch_id"].clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(st.op_cal.clone()).await, vec![json!(st.cal)]);
    assert!(listed(st.op_med.clone()).await.is_empty());

    // An admin corrects anything still registered.
    let r = correct(&app, &st, id, &st.admin, json!({"declared_value": 1})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        history_events(&parcel(&app, &st, id).await),
        ["register", "correct", "correct", "correct"]
    );
    app.stop().await;
}

crate::on_both_stores!(the_counter_corrects_a_parcel_before_it_is_received);
crate::on_both_stores!(only_the_parcels_own_counter_corrects_it);
