//! The web UI in a real browser: each scenario of `app/tests/browser/` runs
//! in Debian's Chromium, driven by Playwright, against an app started here.
//! `scripts/test` installs the browser and the Node modules and says where
//! (`CHROMIUM_BIN`, `BROWSER_TEST_MODULES`).
//!
//! Every scenario runs on both stacks: the embedded app (SQLite, jobs in
//! process) and the production topology (PostgreSQL, Redis and a separate
//! worker process; see `stack`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{PASSWORD, TestApp};

/// Runs the scenario `name.mjs` with `args` after the app's base URL;
/// fails with its output unless it passes.
async fn scenario(app: &TestApp, name: &str, args: &[&str]) {
    for var in ["CHROMIUM_BIN", "BROWSER_TEST_MODULES"] {
        assert!(
            std::env::var_os(var).is_some(),
            "{var} is unset: run the tests with scripts/test, which installs Chromium and Playwright"
        );
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/");
    let out = tokio::process::Command::new("node")
        .arg(format!("{script}{name}.mjs"))
        .arg(format!("http://{}", app.addr))
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "{name}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the scenario `$name(&app, &branches)` as two tests: `$name::embedded`
/// and `$name::on_postgres_redis_and_a_worker`.
macro_rules! on_both_stacks {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let (app, branches) = crate::common::app_with_staff().await;
                super::$name(&app, &branches).await;
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres_redis_and_a_worker() {
                let stack = crate::stack::Stack::start().await;
                super::$name(&stack.app, &stack.branches).await;
                stack.stop().await;
            }
        }
    };
}

async fn staff_sign_in_with_the_keyboard_see_the_day_and_sign_out(app: &TestApp, _: &[i64]) {
    scenario(app, "sign_in", &["operator@example.com", PASSWORD]).await;
}
on_both_stacks!(staff_sign_in_with_the_keyboard_see_the_day_and_sign_out);

async fn the_parcel_list_narrows_as_one_types_and_leads_to_the_parcel(
    app: &TestApp,
    branches: &[i64],
) {
    let codes: Vec<String> = crate::common::registered_parcels(app, branches, 2)
        .await
        .into_iter()
        .map(|(_, code)| code)
        .collect();
    scenario(
        app,
        "parcels",
        &["operator@example.com", PASSWORD, &codes[0], &codes[1]],
    )
    .await;
}
on_both_stacks!(the_parcel_list_narrows_as_one_types_and_leads_to_the_parcel);

async fn a_customer_tracks_a_parcel_on_a_phone_without_signing_in(app: &TestApp, branches: &[i64]) {
    let (_, code) = crate::common::registered_parcels(app, branches, 1)
        .await
        .remove(0);
    scenario(app, "track", &[&code]).await;
}
on_both_stacks!(a_customer_tracks_a_parcel_on_a_phone_without_signing_in);

async fn the_counter_registers_receives_and_delivers_a_parcel(app: &TestApp, branches: &[i64]) {
    // The sender is a known customer (the phone lookup fills them in).
    crate::common::registered_parcels(app, branches, 1).await;
    crate::common::staff_at(
        app,
        "op-med@example.com",
        paqueteria_core::domain::Role::Operator,
        Some(branches[1]),
    )
    .await;
    scenario(app, "counter", &[PASSWORD, "Medellín Norte"]).await;
}
on_both_stacks!(the_counter_registers_receives_and_delivers_a_parcel);

async fn a_courier_works_their_day_on_a_phone(app: &TestApp, branches: &[i64]) {
    let admin = crate::common::token(app, "admin@example.com").await;
    let mut parcels = Vec::new();
    for _ in 0..2 {
        let mut body = crate::common::parcel_body(branches);
        body["service"] = "home_delivery".into();
        body["delivery_address"] = "Carrera 7 # 12-30, apto 401".into();
        let r = app.post_json("/api/v1/parcels", Some(&admin), &body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let j = r.json();
        let id = j["id"].as_i64().unwrap();
        for (v, event) in [(1, "receive"), (2, "dispatch"), (3, "arrive")] {
            let r = app
                .post_json(
                    &format!("/api/v1/parcels/{id}/transition"),
                    Some(&admin),
                    &serde_json::json!({"event": event, "version": v}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        parcels.push((
            j["tracking_code"].as_str().unwrap().to_owned(),
            j["pickup_pin"].as_str().unwrap().to_owned(),
        ));
    }
    scenario(
        app,
        "courier",
        &[
            "courier@example.com",
            PASSWORD,
            &parcels[0].0,
            &parcels[0].1,
            &parcels[1].0,
        ],
    )
    .await;
}
on_both_stacks!(a_courier_works_their_day_on_a_phone);

async fn an_admin_follows_a_report_to_its_download_and_switches_language(
    app: &TestApp,
    branches: &[i64],
) {
    crate::common::registered_parcels(app, branches, 2).await;
    scenario(app, "admin", &["admin@example.com", PASSWORD]).await;
}
on_both_stacks!(an_admin_follows_a_report_to_its_download_and_switches_language);

async fn the_jobs_console_retries_a_dead_job_and_holds_a_paused_queue(
    app: &TestApp,
    branches: &[i64],
) {
    use paqueteria_jobs::Job;
    crate::common::staff_at(
        app,
        "sup@example.com",
        paqueteria_core::domain::Role::Supervisor,
        Some(branches[0]),
    )
    .await;
    // A report job whose report does not exist yet dies; the report is
    // then asked for (its job is the dead one, same id), so a retry runs.
    let broker = app.broker().await;
    let job = paqueteria_core::jobs::GenerateReportXlsx { report_id: 1 }
        .to_new_job()
        .unwrap();
    let dead = broker.enqueue(job).await.unwrap().id;
    let ended =
        paqueteria_testkit::job_ended(&broker, &dead, std::time::Duration::from_secs(30)).await;
    assert_eq!(
        ended.state,
        paqueteria_jobs::broker::JobState::Dead,
        "{ended:?}"
    );
    let admin = crate::common::token(app, "admin@example.com").await;
    let r = app
        .post_json(
            "/api/v1/reports",
            Some(&admin),
            &serde_json::json!({"kind": "xlsx"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    scenario(app, "console", &[PASSWORD, dead.as_str()]).await;
}
on_both_stacks!(the_jobs_console_retries_a_dead_job_and_holds_a_paused_queue);
