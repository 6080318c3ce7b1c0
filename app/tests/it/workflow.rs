//! The parcel workflow at the counter, on both stores: a delivery needs the
//! pickup PIN (five wrong ones lock the parcel until a supervisor sends a
//! new one), staff act only at the branch where a step happens, and see
//! and list only their branches' parcels.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use paqueteria_core::domain::Role;
use serde_json::{Value, json};

use crate::common::{Reply, TestApp, parcel_body, staff_at, token};

/// The staff of three branches (`bog` is the origin of the test parcels,
/// `med` their destination, `cal` a branch with nothing to do with them).
pub struct Staff {
    pub bog: i64,
    pub med: i64,
    pub cal: i64,
    pub admin: String,
    /// Operator at `bog`.
    pub op_bog: String,
    pub op_med: String,
    pub op_cal: String,
    /// Courier at `med`.
    pub courier_med: String,
    pub courier_cal: String,
    pub sup_med: String,
    pub sup_cal: String,
}

pub async fn staff(app: &TestApp, branches: &[i64]) -> Staff {
    let (bog, med) = (branches[0], branches[1]);
    let cal = app
        .store
        .create_branch(&paqueteria_testkit::branch("CAL-01", "Cali Sur", "Cali"))
        .await
        .unwrap()
        .id;
    Staff {
        bog,
        med,
        cal,
        admin: token(app, "admin@example.com").await,
        op_bog: token(app, "operator@example.com").await,
        op_med: staff_at(app, "op-med@example.com", Role::Operator, Some(med)).await,
        op_cal: staff_at(app, "op-cal@example.com", Role::Operator, Some(cal)).await,
        courier_med: token(app, "courier@example.com").await,
        courier_cal: staff_at(app, "courier-cal@example.com", Role::Courier, Some(cal)).await,
        sup_med: staff_at(app, "sup-med@example.com", Role::Supervisor, Some(med)).await,
        sup_cal: staff_at(app, "sup-cal@example.com", Role::Supervisor, Some(cal)).await,
    }
}

/// A parcel registered at `bog` by its operator: its id and pickup PIN.
pub async fn register(app: &TestApp, st: &Staff, body: Value) -> (i64, String) {
    let r = app
        .post_json("/api/v1/parcels", Some(&st.op_bog), &body)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let j = r.json();
    let pin = j["pickup_pin"].as_str().unwrap().to_owned();
    assert_eq!(pin.len(), 6, "a six-digit PIN: {pin}");
    (j["id"].as_i64().unwrap(), pin)
}

/// The parcel as an admin sees it.
pub async fn parcel(app: &TestApp, st: &Staff, id: i64) -> Value {
    let r = app
        .get(&format!("/api/v1/parcels/{id}"), Some(&st.admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Applies `event` (with `extra` fields such as `pin`) at the parcel's
/// current version, as `who`.
async fn step(app: &TestApp, st: &Staff, id: i64, who: &str, event: &str, extra: Value) -> Reply {
    let version = parcel(app, st, id).await["version"].clone();
    let mut body = json!({"event": event, "version": version});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    app.post_json(
        &format!("/api/v1/parcels/{id}/transition"),
        Some(who),
        &body,
    )
    .await
}

/// `step` that must succeed.
pub async fn ok(app: &TestApp, st: &Staff, id: i64, who: &str, event: &str, extra: Value) {
    let r = step(app, st, id, who, event, extra).await;
    assert_eq!(r.status, 200, "{event}: {}", r.body);
}

/// A PIN that is not `pin`.
fn wrong(pin: &str) -> String {
    let last = pin.chars().last().and_then(|c| c.to_digit(10)).unwrap();
    format!("{}{}", &pin[..5], (last + 1) % 10)
}

pub fn history_events(p: &Value) -> Vec<String> {
    p["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap().to_owned())
        .collect()
}

/// Registers a branch-pickup parcel and brings it to `med`.
async fn waiting_at_med(app: &TestApp, st: &Staff, branches: &[i64]) -> (i64, String) {
    let (id, pin) = register(app, st, parcel_body(branches)).await;
    ok(app, st, id, &st.op_bog, "receive", json!({})).await;
    ok(app, st, id, &st.op_bog, "dispatch", json!({})).await;
    ok(app, st, id, &st.op_med, "arrive", json!({})).await;
    (id, pin)
}

async fn a_parcel_reaches_its_recipient_only_with_its_pin(app: TestApp, branches: Vec<i64>) {
    let st = staff(&app, &branches).await;
    let (id, pin) = waiting_at_med(&app, &st, &branches).await;
    let before = parcel(&app, &st, id).await;

    // No PIN, or a document where only the PIN is accepted: 422 naming it.
    for extra in [
        json!({}),
        json!({"pin": "  "}),
        json!({"document": "1020304"}),
    ] {
        let r = step(&app, &st, id, &st.op_med, "deliver", extra.clone()).await;
        assert_eq!(r.status, 422, "{extra}: {}", r.body);
        assert_eq!(r.json()["detail"][0]["loc"], json!(["body", "pin"]));
        assert_eq!(r.json()["detail"][0]["type"], "missing", "{}", r.body);
    }
    // A wrong one: 422, counted in the history, the parcel unchanged.
    let r = step(
        &app,
        &st,
        id,
        &st.op_med,
        "deliver",
        json!({"pin": wrong(&pin)}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["detail"][0]["loc"], json!(["body", "pin"]));
    assert!(
        r.json()["detail"][0]["msg"].as_str().unwrap().contains('4'),
        "says how many tries are left: {}",
        r.body
    );
    let after = parcel(&app, &st, id).await;
    assert_eq!(after["status"], "AT_DESTINATION");
    assert_eq!(after["version"], before["version"]);
    let refused = after["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(refused["event"], "pin_refused");
    assert_eq!(refused["branch_id"], st.med);
    assert_eq!(refused["actor_name"], "op-med@example.com");

    // The right PIN hands it over, written at the branch where it happened.
    ok(&app, &st, id, &st.op_med, "deliver", json!({"pin": pin})).await;
    let done = parcel(&app, &st, id).await;
    assert_eq!(done["status"], "DELIVERED");
    assert_eq!(
        history_events(&done),
        [
            "register",
            "receive",
            "dispatch",
            "arrive",
            "pin_refused",
            "deliver"
        ]
    );
    let branches_of: Vec<Value> = done["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["branch_id"].clone())
        .collect();
    assert_eq!(
        branches_of,
        [st.bog, st.bog, st.bog, st.med, st.med, st.med].map(Value::from)
    );
    app.stop().await;
}

async fn five_wrong_pins_lock_the_parcel_until_a_supervisor_sends_a_new_one(
    app: TestApp,
    branches: Vec<i64>,
) {
    let st = staff(&app, &branches).await;
    let (id, old_pin) = waiting_at_med(&app, &st, &branches).await;
    for n in 1..=5 {
        let r = step(
            &app,
            &st,
            id,
            &st.op_med,
            "deliver",
            json!({"pin": wrong(&old_pin)}),
        )
        .await;
        assert_eq!(r.status, 422, "wrong PIN {n}: {}", r.body);
    }
    // Locked: even the right PIN waits, and the answer says how long.
    let r = step(
        &app,
        &st,
        id,
        &st.op_med,
        "deliver",
        json!({"pin": old_pin}),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&wait), "Retry-After {wait}");
    let p = parcel(&app, &st, id).await;
    assert_eq!(p["status"], "AT_DESTINATION");
    let refusals = history_events(&p)
        .iter()
        .filter(|e| *e == "pin_refused")
        .count();
    assert_eq!(refusals, 5);

    // Only a supervisor of the parcel's branches (or an admin) sends a new one.
    let reissue = |who: String| {
        let app = &app;
        async move {
            app.post_json(
                &format!("/api/v1/parcels/{id}/pin"),
                Some(&who),
                &json!(null),
            )
            .await
        }
    };
    assert_eq!(reissue(st.op_med.clone()).await.status, 403);
    assert_eq!(reissue(st.sup_cal.clone()).await.status, 403);
    let r = reissue(st.sup_med.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sent_to = r.json()["sent_to"].as_str().unwrap().to_owned();
    assert!(sent_to.ends_with("0000"), "{sent_to}");
    assert!(
        !r.body.contains("+573002220000"),
        "the phone is masked: {}",
        r.body
    );
    let notification = r.json()["notification_id"].clone();

    // The SMS is in the outbox; staff see it with the PIN masked.
    let sms_of = |who: String| {
        let app = &app;
        let notification = notification.clone();
        async move {
            let r = app
                .get(&format!("/api/v1/parcels/{id}/notifications"), Some(&who))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["id"] == notification)
                .map(|n| n["body"].as_str().unwrap().to_owned())
                .unwrap()
        }
    };
    let masked = sms_of(st.sup_med.clone()).await;
    let tail = masked.split(" es ").nth(1).unwrap();
    assert!(!tail.contains(|c: char| c.is_ascii_digit()), "{masked}");
    let full = sms_of(st.admin.clone()).await;
    let new_pin: String = full
        .split(" es ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(new_pin.len(), 6, "{full}");

    // The lock is lifted; the old PIN no longer works, the new one does.
    let r = step(
        &app,
        &st,
        id,
        &st.op_med,
        "deliver",
        json!({"pin": old_pin}),
    )
    .await;
    if new_pin != old_pin {
        assert_eq!(r.status, 422, "the old PIN: {}", r.body);
    }
    ok(
        &app,
        &st,
        id,
        &st.op_med,
        "deliver",
        json!({"pin": new_pin}),
    )
    .await;
    assert_eq!(reissue(st.sup_med.clone()).await.status, 409, "DELIVERED");

    // The admin finds the reissue in the audit log.
    let r = app
        .get("/api/v1/audit?action=pin_reissued", Some(&st.admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["items"][0]["action"], "pin_reissued", "{}", r.body);
    app.stop().await;
}

/// A step of the walk: the event, its extra fields, who is refused (and
/// why), and who does it.
type Step<'a> = (&'a str, Value, Vec<(&'a str, &'a String)>, &'a String);

async fn staff_act_only_at_the_branch_where_the_step_happens(app: TestApp, branches: Vec<i64>) {
    let st = staff(&app, &branches).await;
    let mut body = parcel_body(&branches);
    body["service"] = json!("home_delivery");
    body["delivery_address"] = json!("Calle 10 # 20-30");
    let (id, pin) = register(&app, &st, body).await;
    let pin_of = json!({"pin": pin});
    // Each step: who is refused (and why), then who does it.
    let table: Vec<Step> = vec![
        (
            "receive",
            json!({}),
            vec![
                ("an operator of the destination", &st.op_med),
                ("an operator of another branch", &st.op_cal),
                ("a supervisor of another branch", &st.sup_cal),
            ],
            &st.op_bog,
        ),
        (
            "dispatch",
            json!({}),
            vec![
                ("an operator of the destination", &st.op_med),
                ("a supervisor of another branch", &st.sup_cal),
            ],
            // a supervisor of either end may act on the parcel
            &st.sup_med,
        ),
        (
            "arrive",
            json!({}),
            vec![
                ("an operator of the origin", &st.op_bog),
                ("an operator of another branch", &st.op_cal),
            ],
            &st.op_med,
        ),
        (
            "out_for_delivery",
            json!({}),
            vec![
                ("a courier of another branch", &st.courier_cal),
                ("an operator of the origin", &st.op_bog),
            ],
            &st.courier_med,
        ),
        (
            "deliver",
            pin_of.clone(),
            vec![
                ("a courier of another branch, with the PIN", &st.courier_cal),
                ("a supervisor of another branch, with the PIN", &st.sup_cal),
            ],
            &st.courier_med,
        ),
    ];
    for (event, extra, refused, doer) in &table {
        let before = parcel(&app, &st, id).await;
        for (who, t) in refused {
            let r = step(&app, &st, id, t, event, extra.clone()).await;
            assert_eq!(r.status, 403, "{event} by {who}: {}", r.body);
        }
        let after = parcel(&app, &st, id).await;
        assert_eq!(after, before, "{event}: refused steps change nothing");
        ok(&app, &st, id, doer, event, extra.clone()).await;
    }
    let done = parcel(&app, &st, id).await;
    assert_eq!(done["status"], "DELIVERED");
    let lines: Vec<(String, Value)> = done["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["event"].as_str().unwrap().to_owned(),
                h["branch_id"].clone(),
            )
        })
        .collect();
    let expected: Vec<(String, Value)> = [
        ("register", st.bog),
        ("receive", st.bog),
        ("dispatch", st.med), // the supervisor's own branch
        ("arrive", st.med),
        ("out_for_delivery", st.med),
        ("deliver", st.med),
    ]
    .iter()
    .map(|(e, b)| ((*e).to_owned(), Value::from(*b)))
    .collect();
    assert_eq!(lines, expected);

    // An admin acts anywhere; the history names the branch of the step.
    let (other, _) = register(&app, &st, parcel_body(&branches)).await;
    ok(&app, &st, other, &st.admin, "receive", json!({})).await;
    let p = parcel(&app, &st, other).await;
    assert_eq!(p["history"][1]["branch_id"], st.bog);
    assert_eq!(p["history"][1]["actor_name"], "admin@example.com");
    app.stop().await;
}

async fn staff_see_and_list_their_branches_parcels(app: TestApp, branches: Vec<i64>) {
    let st = staff(&app, &branches).await;
    let (mine, _) = register(&app, &st, parcel_body(&branches)).await;
    // A parcel from Cali to Medellín, which Bogotá has nothing to do with.
    let r = app
        .post_json(
            "/api/v1/parcels",
            Some(&st.op_cal),
            &parcel_body(&[st.cal, st.med]),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let theirs = r.json()["id"].as_i64().unwrap();

    let ids = |who: String, query: &'static str| {
        let app = &app;
        async move {
            let r = app
                .get(&format!("/api/v1/parcels{query}"), Some(&who))
                .await;
            assert_eq!(r.status, 200, "{query}: {}", r.body);
            let mut ids: Vec<i64> = r.json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_i64().unwrap())
                .collect();
            ids.sort_unstable();
            ids
        }
    };
    assert_eq!(
        ids(st.op_bog.clone(), "").await,
        [mine],
        "own branch by default"
    );
    assert_eq!(ids(st.op_med.clone(), "").await, [mine, theirs]);
    assert_eq!(ids(st.admin.clone(), "").await, [mine, theirs]);
    let cal_list = format!("?branch_id={}", st.cal);
    let r = app
        .get(&format!("/api/v1/parcels{cal_list}"), Some(&st.op_bog))
        .await;
    assert_eq!(r.status, 403, "another branch's list: {}", r.body);
    let r = app
        .get(&format!("/api/v1/parcels{cal_list}"), Some(&st.admin))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["total"], 1);

    for path in ["", "/notifications", "/payments", "/attachments"] {
        let r = app
            .get(&format!("/api/v1/parcels/{theirs}{path}"), Some(&st.op_bog))
            .await;
        assert_eq!(
            r.status, 403,
            "{path} of another branch's parcel: {}",
            r.body
        );
        let r = app
            .get(&format!("/api/v1/parcels/{theirs}{path}"), Some(&st.op_med))
            .await;
        assert_eq!(r.status, 200, "{path} at the destination: {}", r.body);
    }
    // Payments are counter business: not a courier's.
    let r = app
        .get(
            &format!("/api/v1/parcels/{mine}/payments"),
            Some(&st.courier_med),
        )
        .await;
    assert_eq!(r.status, 403);
    app.stop().await;
}

/// With `HOME_DELIVERY_PROOF=pin_or_document` a courier may take the
/// recipient's identity document at the door instead of the PIN; a branch
/// pickup still needs the PIN.
async fn a_home_delivery_may_take_the_recipients_document(app: TestApp, branches: Vec<i64>) {
    let st = staff(&app, &branches).await;
    let mut body = parcel_body(&branches);
    body["service"] = json!("home_delivery");
    body["delivery_address"] = json!("Calle 10 # 20-30");
    body["recipient"]["document"] = json!("1.020.304.050");
    let (id, _) = register(&app, &st, body).await;
    ok(&app, &st, id, &st.op_bog, "receive", json!({})).await;
    ok(&app, &st, id, &st.op_bog, "dispatch", json!({})).await;
    ok(&app, &st, id, &st.op_med, "arrive", json!({})).await;
    ok(
        &app,
        &st,
        id,
        &st.courier_med,
        "out_for_delivery",
        json!({}),
    )
    .await;
    let r = step(&app, &st, id, &st.courier_med, "deliver", json!({})).await;
    assert_eq!(r.status, 422);
    assert!(
        r.json()["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("document"),
        "says the document is accepted: {}",
        r.body
    );
    let r = step(
        &app,
        &st,
        id,
        &st.courier_med,
        "deliver",
        json!({"document": "99999999"}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    ok(
        &app,
        &st,
        id,
        &st.courier_med,
        "deliver",
        json!({"document": "1020304050"}),
    )
    .await;

    let (pickup, _) = waiting_at_med(&app, &st, &branches).await;
    let r = step(
        &app,
        &st,
        pickup,
        &st.op_med,
        "deliver",
        json!({"document": "1020304050"}),
    )
    .await;
    assert_eq!(r.status, 422, "a branch pickup needs the PIN: {}", r.body);
    app.stop().await;
}

async fn a_supervisor_voids_a_payment_with_a_reason(app: TestApp, branches: Vec<i64>) {
    let st = staff(&app, &branches).await;
    let (id, _) = register(&app, &st, parcel_body(&branches)).await;
    let r = app
        .get(&format!("/api/v1/parcels/{id}/payments"), Some(&st.op_bog))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let payment = r.json()[0].clone();
    assert_eq!(payment["kind"], "shipping");
    assert_eq!(payment["voided_at_ms"], Value::Null);
    let void = |who: String, body: Value| {
        let app = &app;
        let pid = payment["id"].clone();
        async move {
            app.post_json(&format!("/api/v1/payments/{pid}/void"), Some(&who), &body)
                .await
        }
    };
    let reason = json!({"reason": "cobrado dos veces"});
    assert_eq!(void(st.op_bog.clone(), reason.clone()).await.status, 403);
    assert_eq!(void(st.sup_cal.clone(), reason.clone()).await.status, 403);
    for bad in [
        json!({}),
        json!({"reason": "   "}),
        json!({"reason": "x".repeat(501)}),
    ] {
        let r = void(st.sup_med.clone(), bad.clone()).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
        assert_eq!(
            r.json()["detail"][0]["loc"],
            json!(["body", "reason"]),
            "{}",
            r.body
        );
    }
    let r = void(st.sup_med.clone(), reason.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["void_reason"], "cobrado dos veces");
    assert!(r.json()["voided_at_ms"].is_i64());
    assert!(r.json()["voided_by"].is_i64());
    let r = void(st.sup_med.clone(), reason).await;
    assert_eq!(r.status, 409, "voided already: {}", r.body);

    let p = parcel(&app, &st, id).await;
    let last = p["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["event"].clone(), last["reason"].clone()),
        (json!("payment_voided"), json!("cobrado dos veces"))
    );
    let r = app
        .get("/api/v1/audit?action=payment_voided", Some(&st.admin))
        .await;
    assert_eq!(
        r.json()["items"][0]["detail"],
        "cobrado dos veces",
        "{}",
        r.body
    );
    app.stop().await;
}

/// Runs the scenario `$name(app, branches)` as two tests, `$name::on_sqlite`
/// and `$name::on_postgres`, with the extra settings given.
#[macro_export]
macro_rules! on_both_stores {
    ($name:ident $(, $var:expr)*) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let (app, branches) = $crate::common::app_with_staff_and(&[$($var),*]).await;
                super::$name(app, branches).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let pg = paqueteria_testkit::PgDatabase::create().await;
                let vars = [("DATABASE_URL", pg.url.clone()) $(, $var)*];
                let (app, branches) = $crate::common::app_with_staff_and(&vars).await;
                super::$name(app, branches).await;
                pg.drop_now().await;
            }
        }
    };
}

on_both_stores!(a_parcel_reaches_its_recipient_only_with_its_pin);
on_both_stores!(five_wrong_pins_lock_the_parcel_until_a_supervisor_sends_a_new_one);
on_both_stores!(staff_act_only_at_the_branch_where_the_step_happens);
on_both_stores!(staff_see_and_list_their_branches_parcels);
on_both_stores!(a_supervisor_voids_a_payment_with_a_reason);
on_both_stores!(
    a_home_delivery_may_take_the_recipients_document,
    ("HOME_DELIVERY_PROOF", "pin_or_document".to_owned())
);
