//! The web UI in a real browser: each scenario of `app/tests/browser/` runs
//! in Debian's Chromium, driven by Playwright, against an app started here.
//! `scripts/test` installs the browser and the Node modules and says where
//! (`CHROMIUM_BIN`, `BROWSER_TEST_MODULES`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{PASSWORD, TestApp, app_with_staff};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_with_the_keyboard_see_the_day_and_sign_out() {
    let (app, _) = app_with_staff().await;
    scenario(&app, "sign_in", &["operator@example.com", PASSWORD]).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parcel_list_narrows_as_one_types_and_leads_to_the_parcel() {
    let (app, branches) = app_with_staff().await;
    let codes: Vec<String> = crate::common::registered_parcels(&app, &branches, 2)
        .await
        .into_iter()
        .map(|(_, code)| code)
        .collect();
    scenario(
        &app,
        "parcels",
        &["operator@example.com", PASSWORD, &codes[0], &codes[1]],
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_tracks_a_parcel_on_a_phone_without_signing_in() {
    let (app, branches) = app_with_staff().await;
    let (_, code) = crate::common::registered_parcels(&app, &branches, 1)
        .await
        .remove(0);
    scenario(&app, "track", &[&code]).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_follows_a_report_to_its_download_and_switches_language() {
    let (app, branches) = app_with_staff().await;
    crate::common::registered_parcels(&app, &branches, 2).await;
    scenario(&app, "admin", &["admin@example.com", PASSWORD]).await;
    app.stop().await;
}
