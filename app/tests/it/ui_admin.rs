//! The admin, reports and profile pages over HTTP, as a browser uses
//! them: each page for the roles the API lets use it (403 for the others,
//! the sign-in without a session), forms refused without their CSRF token,
//! 422 naming the field of a bad form, tariffs, branches and users created
//! from the pages, a report asked for, followed and downloaded, and the
//! language a user chooses on their profile.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use paqueteria_core::domain::Role;
use paqueteria_testkit::eventually;

use crate::common::{
    PASSWORD, TestApp, app_with_staff, app_with_staff_and, registered_parcels, staff_at,
};
use crate::ui::{Jar, get, post_form, signed_in, token_of};

/// A supervisor at `branch`, signed in to the pages.
async fn supervisor(app: &TestApp, email: &str, branch: i64) -> Jar {
    staff_at(app, email, Role::Supervisor, Some(branch)).await;
    signed_in(app, email).await
}

/// The CSRF token of the page at `path`.
async fn token_at(app: &TestApp, jar: &mut Jar, path: &str) -> String {
    let page = get(app, jar, path, &[]).await;
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    token_of(&page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_page_is_for_the_roles_the_api_allows_and_behind_the_sign_in() {
    let (app, branches) = app_with_staff().await;
    let mut admin = signed_in(&app, "admin@example.com").await;
    let mut operator = signed_in(&app, "operator@example.com").await;
    let mut courier = signed_in(&app, "courier@example.com").await;
    let mut sup = supervisor(&app, "sup@example.com", branches[0]).await;
    for (path, title) in [
        ("/customers", "Clientes"),
        ("/tariffs", "Tarifas"),
        ("/branches", "Sucursales"),
        ("/users", "Usuarios"),
        ("/reports", "Reportes"),
        ("/profile", "Mi perfil"),
    ] {
        let r = get(&app, &mut admin, path, &[]).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(
            r.body.contains(&format!("<h1>{title}</h1>")),
            "{path}: {}",
            r.body
        );
        // The menu links every page an admin may use.
        assert!(r.body.contains(&format!("href=\"{path}\"")), "{path}");
        // Without a session: to the sign-in, and back here after it.
        let r = app.request("GET", path, &[], "").await;
        assert_eq!(r.status, 303, "{path}: {}", r.head);
        assert!(
            r.header("location").unwrap().starts_with("/login?next=%2F"),
            "{path}: {}",
            r.head
        );
    }
    // Counter staff find customers, read prices and branches; not users
    // nor reports.
    for (path, status) in [
        ("/customers", 200),
        ("/tariffs", 200),
        ("/branches", 200),
        ("/profile", 200),
        ("/users", 403),
        ("/reports", 403),
        ("/users/1", 403),
    ] {
        let r = get(&app, &mut operator, path, &[]).await;
        assert_eq!(r.status, status, "operator {path}: {}", r.body);
    }
    let r = get(&app, &mut operator, "/users", &[]).await;
    assert!(r.body.contains("No tiene permiso"), "{}", r.body);
    let home = get(&app, &mut operator, "/", &[]).await;
    assert!(!home.body.contains("href=\"/users\""), "{}", home.body);
    assert!(!home.body.contains("href=\"/reports\""), "{}", home.body);
    assert!(home.body.contains("href=\"/customers\""), "{}", home.body);
    // Couriers do not see the customer list.
    for (path, status) in [
        ("/customers", 403),
        ("/customers/1", 403),
        ("/tariffs", 200),
        ("/profile", 200),
        ("/reports", 403),
    ] {
        let r = get(&app, &mut courier, path, &[]).await;
        assert_eq!(r.status, status, "courier {path}: {}", r.body);
    }
    // Supervisors ask for reports and add tariff lines; users are admins'.
    for (path, status) in [("/reports", 200), ("/tariffs", 200), ("/users", 403)] {
        let r = get(&app, &mut sup, path, &[]).await;
        assert_eq!(r.status, status, "supervisor {path}: {}", r.body);
    }
    let tariffs = get(&app, &mut sup, "/tariffs", &[]).await;
    assert!(tariffs.body.contains("id=\"tariff-form\""));
    assert!(!tariffs.body.contains("/end\""), "only admins end a line");
    let tariffs = get(&app, &mut operator, "/tariffs", &[]).await;
    assert!(!tariffs.body.contains("id=\"tariff-form\""));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let (app, _) = app_with_staff().await;
    let mut admin = signed_in(&app, "admin@example.com").await;
    let branches_before = app.store.branches().await.unwrap().len();
    let users_before = app.store.users().await.unwrap().len();
    for (path, fields) in [
        (
            "/branches",
            vec![
                ("code", "CAL-01"),
                ("name", "Cali Centro"),
                ("city", "Cali"),
            ],
        ),
        (
            "/users",
            vec![
                ("email", "new@example.com"),
                ("name", "New"),
                ("password", PASSWORD),
                ("role", "admin"),
            ],
        ),
        ("/profile/language", vec![("language", "en")]),
        ("/reports", vec![("kind", "pdf")]),
        ("/tariffs/1/end", vec![]),
    ] {
        for bad in ["", "bm90IHRoZSB0b2tlbg=="] {
            let mut fields = fields.clone();
            fields.push(("authenticity_token", bad));
            let r = post_form(&app, &mut admin, path, &fields).await;
            assert_eq!(r.status, 403, "{path}: {}", r.body);
        }
    }
    assert_eq!(app.store.branches().await.unwrap().len(), branches_before);
    assert_eq!(app.store.users().await.unwrap().len(), users_before);
    let admin_id = app.store.users().await.unwrap()[0].id;
    assert_eq!(app.store.user_language(admin_id).await.unwrap(), None);
    assert_eq!(app.store.reports_page(None, 1, 10).await.unwrap().1, 0);
    let page = get(&app, &mut admin, "/tariffs?current=no", &[]).await;
    assert!(page.body.contains("0 líneas de tarifa"), "{}", page.body);
    app.stop().await;
}

/// A form's path, its fields and the field it gets wrong.
type BadForm = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    &'static str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_form_is_answered_422_with_the_message_next_to_its_field() {
    let (app, _) = app_with_staff().await;
    let mut admin = signed_in(&app, "admin@example.com").await;
    let token = token_at(&app, &mut admin, "/branches").await;
    let cases: Vec<BadForm> = vec![
        (
            "/branches",
            vec![("code", "CAL-01"), ("name", " "), ("city", "Cali")],
            "name",
        ),
        (
            "/branches",
            vec![
                ("code", "CAL-01"),
                ("name", "Cali"),
                ("city", "Cali"),
                ("phone", "12"),
            ],
            "phone",
        ),
        (
            "/users",
            vec![
                ("email", "short@example.com"),
                ("name", "Short"),
                ("password", "short"),
                ("role", "admin"),
            ],
            "password",
        ),
        (
            "/users",
            vec![
                ("email", "nobranch@example.com"),
                ("name", "No Branch"),
                ("password", PASSWORD),
                ("role", "operator"),
                ("branch_id", ""),
            ],
            "branch_id",
        ),
        (
            "/tariffs",
            vec![
                ("package_type", "box"),
                ("zone", "local"),
                ("min_grams", "0"),
                ("max_grams", "1000"),
                ("base_price", "doce mil"),
                ("per_kg_price", "1.000"),
                ("storage_grace_hours", "72"),
                ("storage_fee_per_day", "2.000"),
                ("cod_fee", "0"),
            ],
            "base_price",
        ),
        ("/reports", vec![("kind", "pdf"), ("from", "ayer")], "from"),
        (
            "/reports",
            vec![
                ("kind", "pdf"),
                ("from", "2026-12-02"),
                ("to", "2026-11-30"),
            ],
            "to",
        ),
        ("/profile/language", vec![("language", "fr")], "language"),
    ];
    for (path, mut fields, field) in cases {
        fields.push(("authenticity_token", &token));
        let r = post_form(&app, &mut admin, path, &fields).await;
        assert_eq!(r.status, 422, "{path} {field}: {}", r.body);
        assert!(
            r.body.contains(&format!("id=\"{field}-error\"")),
            "{path} {field}: {}",
            r.body
        );
        assert!(r.body.contains("aria-invalid=\"true\""), "{path}");
        // The form comes back, with what was typed but a password.
        assert!(!r.body.contains("value=\"short\""), "{path}");
    }
    assert_eq!(app.store.branches().await.unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_a_branch_a_tariff_and_a_user_from_the_pages() {
    let (app, _) = app_with_staff().await;
    let mut admin = signed_in(&app, "admin@example.com").await;
    let token = token_at(&app, &mut admin, "/branches").await;

    let r = post_form(
        &app,
        &mut admin,
        "/branches",
        &[
            ("code", "cal-01"),
            ("name", "Cali Centro"),
            ("city", "Cali"),
            ("address", "Calle 10 # 5-20"),
            ("phone", "+57 602 555 0100"),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let cali = app
        .store
        .branches()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.code == "CAL-01")
        .expect("the branch, its code in capitals");
    let page = get(&app, &mut admin, "/branches", &[]).await;
    assert!(page.body.contains("Cali Centro"), "{}", page.body);
    // The same code again: 409, next to the code.
    let r = post_form(
        &app,
        &mut admin,
        "/branches",
        &[
            ("code", "CAL-01"),
            ("name", "Otra"),
            ("city", "Cali"),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("id=\"code-error\""), "{}", r.body);

    let r = post_form(
        &app,
        &mut admin,
        "/tariffs",
        &[
            ("package_type", "sobre"),
            ("zone", "local"),
            ("min_grams", "0"),
            ("max_grams", "500"),
            ("base_price", "12.500"),
            ("per_kg_price", "$ 1.000"),
            ("storage_grace_hours", "48"),
            ("storage_fee_per_day", "2000"),
            ("cod_fee", "3.000"),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = get(&app, &mut admin, "/tariffs", &[]).await;
    assert!(
        page.body.contains("<td>sobre</td>") && page.body.contains("$ 12.500"),
        "{}",
        page.body
    );
    let line = page
        .body
        .split("action=\"/tariffs/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    // A supervisor may add lines but not end them; an admin ends one.
    let mut sup = supervisor(&app, "sup@example.com", cali.id).await;
    let sup_token = token_at(&app, &mut sup, "/tariffs").await;
    let r = post_form(
        &app,
        &mut sup,
        &format!("/tariffs/{line}/end"),
        &[("authenticity_token", &sup_token)],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = post_form(
        &app,
        &mut admin,
        &format!("/tariffs/{line}/end"),
        &[("authenticity_token", &token)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let ended = app.store.tariff(line.parse().unwrap()).await.unwrap();
    assert!(ended.valid_to_ms.is_some());

    let r = post_form(
        &app,
        &mut admin,
        "/users",
        &[
            ("email", "Nueva@Example.com"),
            ("name", "Nueva Operadora"),
            ("password", PASSWORD),
            ("role", "operator"),
            ("branch_id", &cali.id.to_string()),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let created = app
        .store
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == "nueva@example.com")
        .unwrap();
    assert_eq!(
        (created.role, created.branch_id),
        (Role::Operator, Some(cali.id))
    );
    let page = get(&app, &mut admin, "/users", &[]).await;
    assert!(page.body.contains("nueva@example.com"), "{}", page.body);
    signed_in(&app, "nueva@example.com").await;

    // Made a supervisor, then barred from signing in.
    let path = format!("/users/{}", created.id);
    let page = get(&app, &mut admin, &path, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let r = post_form(
        &app,
        &mut admin,
        &path,
        &[
            ("name", "Nueva Supervisora"),
            ("role", "supervisor"),
            ("branch_id", &cali.id.to_string()),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let changed = app.store.user(created.id).await.unwrap();
    assert_eq!(
        (changed.role, changed.active, changed.name.as_str()),
        (Role::Supervisor, false, "Nueva Supervisora")
    );
    // A password reset that the policy refuses, then one it takes.
    let reset = format!("{path}/password");
    let r = post_form(
        &app,
        &mut admin,
        &reset,
        &[("new_password", "123"), ("authenticity_token", &token)],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"new_password-error\""), "{}", r.body);
    let r = post_form(
        &app,
        &mut admin,
        &reset,
        &[
            ("new_password", "otra clave muy larga"),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_found_by_name_or_phone_and_edited() {
    let (app, branches) = app_with_staff().await;
    registered_parcels(&app, &branches, 1).await;
    let mut op = signed_in(&app, "operator@example.com").await;
    let page = get(&app, &mut op, "/customers?q=gomez", &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Ana Gómez"), "{}", page.body);
    assert!(!page.body.contains("Luis Pérez"), "{}", page.body);
    let page = get(&app, &mut op, "/customers?q=3002220000", &[]).await;
    assert!(page.body.contains("Luis Pérez"), "{}", page.body);
    let id = page
        .body
        .split("href=\"/customers/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let path = format!("/customers/{id}");
    let token = token_at(&app, &mut op, &path).await;
    let r = post_form(
        &app,
        &mut op,
        &path,
        &[("name", ""), ("email", ""), ("authenticity_token", &token)],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"name-error\""), "{}", r.body);
    let r = post_form(
        &app,
        &mut op,
        &path,
        &[
            ("name", "Luis Alberto Pérez"),
            ("email", "luis@example.com"),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let c = app.store.customer(id.parse().unwrap()).await.unwrap();
    assert_eq!(c.name, "Luis Alberto Pérez");
    assert_eq!(c.email.as_deref(), Some("luis@example.com"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_asked_for_followed_and_downloaded_from_its_page() {
    let (app, branches) = app_with_staff().await;
    report_asked_for_followed_and_downloaded(app, branches).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_asked_for_followed_and_downloaded_from_its_page_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, branches) = app_with_staff_and(&[("DATABASE_URL", pg.url.clone())]).await;
    report_asked_for_followed_and_downloaded(app, branches).await;
    pg.drop_now().await;
}

async fn report_asked_for_followed_and_downloaded(app: TestApp, branches: Vec<i64>) {
    registered_parcels(&app, &branches, 2).await;
    let mut sup = supervisor(&app, "sup@example.com", branches[0]).await;
    let token = token_at(&app, &mut sup, "/reports").await;
    let r = post_form(
        &app,
        &mut sup,
        "/reports",
        &[
            ("kind", "pdf"),
            ("from", "2020-01-01"),
            ("to", ""),
            ("branch_id", &branches[0].to_string()),
            ("status", ""),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location").as_deref(), Some("/reports"));
    let (reports, _) = app.store.reports_page(None, 1, 10).await.unwrap();
    let id = reports[0].id;
    assert_eq!(reports[0].filters["branch_id"], branches[0]);
    let page = get(&app, &mut sup, "/reports", &[]).await;
    assert!(
        page.body.contains(&format!("id=\"report-{id}\"")),
        "{}",
        page.body
    );
    // What it covers, in words.
    assert!(
        page.body
            .contains("<td>Desde el 1 ene 2020 · Bogotá Centro</td>"),
        "{}",
        page.body
    );

    // The progress part polls until the report is done, then links the
    // file and polls no more.
    let cookie = sup.header();
    let progress = format!("/reports/{id}/progress");
    let part = eventually(Duration::from_secs(30), "the report to be done", || {
        let (app, cookie, progress) = (&app, &cookie, &progress);
        async move {
            let r = app
                .request(
                    "GET",
                    progress,
                    &[("Cookie", cookie), ("HX-Request", "true")],
                    "",
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert!(!r.body.contains("<html"), "a fragment: {}", r.body);
            assert!(!r.body.contains("class=\"error\""), "{}", r.body);
            if r.body.contains("hx-trigger=\"every 1s\"") {
                None
            } else {
                Some(r.body)
            }
        }
    })
    .await;
    let link = format!("href=\"/reports/{id}/download\"");
    assert!(part.contains(&link), "{part}");
    let page = get(&app, &mut sup, "/reports", &[]).await;
    assert!(page.body.contains(&link), "{}", page.body);

    let r = app
        .request(
            "GET",
            &format!("/reports/{id}/download"),
            &[("Cookie", cookie.as_str())],
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.header("content-type").as_deref(), Some("application/pdf"));
    assert!(r.body.starts_with("%PDF"), "a PDF");

    // Another supervisor may not follow or download it; an admin may.
    let mut other = supervisor(&app, "other@example.com", branches[1]).await;
    for path in [progress.clone(), format!("/reports/{id}/download")] {
        let r = get(&app, &mut other, &path, &[]).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
    }
    let mut admin = signed_in(&app, "admin@example.com").await;
    let r = get(&app, &mut admin, &progress, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A report that failed says so and polls no more either.
    let sup_id = app
        .store
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == "sup@example.com")
        .unwrap()
        .id;
    let failed = app
        .store
        .create_report("xlsx", &serde_json::json!({}), Some(sup_id))
        .await
        .unwrap();
    app.store.fail_report(failed.id, "disk full").await.unwrap();
    let r = get(
        &app,
        &mut sup,
        &format!("/reports/{}/progress", failed.id),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Falló") && r.body.contains("disk full"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("hx-trigger"), "{}", r.body);
    assert!(!r.body.contains("/download"), "{}", r.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_chosen_on_the_profile_is_the_pages_language() {
    let (app, _) = app_with_staff().await;
    language_chosen_on_the_profile(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_chosen_on_the_profile_is_the_pages_language_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, _) = app_with_staff_and(&[("DATABASE_URL", pg.url.clone())]).await;
    language_chosen_on_the_profile(app).await;
    pg.drop_now().await;
}

async fn language_chosen_on_the_profile(app: TestApp) {
    let mut op = signed_in(&app, "operator@example.com").await;
    let english = [("Accept-Language", "en-US,en;q=0.9")];
    // Nothing chosen: the browser's language, else Spanish.
    let page = get(&app, &mut op, "/profile", &english).await;
    assert!(page.body.contains("<html lang=\"en\">"), "{}", page.body);
    assert!(page.body.contains("My profile"), "{}", page.body);
    let page = get(&app, &mut op, "/profile", &[]).await;
    assert!(page.body.contains("<html lang=\"es\">"), "{}", page.body);
    assert!(page.body.contains("Operador"), "{}", page.body);
    let token = token_of(&page);

    // Spanish chosen: Spanish whatever the browser says.
    let r = post_form(
        &app,
        &mut op,
        "/profile/language",
        &[("language", "es"), ("authenticity_token", &token)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    for path in ["/profile?saved=language", "/", "/parcels"] {
        let page = get(&app, &mut op, path, &english).await;
        assert!(
            page.body.contains("<html lang=\"es\">"),
            "{path}: {}",
            page.body
        );
    }
    let page = get(&app, &mut op, "/profile?saved=language", &english).await;
    assert!(page.body.contains("Idioma guardado."), "{}", page.body);

    // English chosen; then back to the browser's.
    for (choice, lang) in [("en", "en"), ("", "es")] {
        let r = post_form(
            &app,
            &mut op,
            "/profile/language",
            &[("language", choice), ("authenticity_token", &token)],
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let page = get(&app, &mut op, "/", &[]).await;
        assert!(
            page.body.contains(&format!("<html lang=\"{lang}\">")),
            "{choice}: {}",
            page.body
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_changes_ones_own_password_on_the_profile() {
    let (app, _) = app_with_staff().await;
    let mut op = signed_in(&app, "operator@example.com").await;
    let token = token_at(&app, &mut op, "/profile").await;
    for (current, new, again, field) in [
        (
            "not the password",
            "una clave nueva larga",
            "una clave nueva larga",
            "current_password",
        ),
        (PASSWORD, "corta", "corta", "new_password"),
        (
            PASSWORD,
            "una clave nueva larga",
            "otra clave",
            "new_password_again",
        ),
    ] {
        let r = post_form(
            &app,
            &mut op,
            "/profile/password",
            &[
                ("current_password", current),
                ("new_password", new),
                ("new_password_again", again),
                ("authenticity_token", &token),
            ],
        )
        .await;
        assert_eq!(r.status, 422, "{field}: {}", r.body);
        assert!(
            r.body.contains(&format!("id=\"{field}-error\"")),
            "{field}: {}",
            r.body
        );
        // In the reader's language, not the API's English.
        let said = match field {
            "current_password" => "No es su contraseña actual.",
            "new_password" => "Debe tener al menos 10 caracteres.",
            _ => "Las dos contraseñas no coinciden.",
        };
        assert!(r.body.contains(said), "{field}: {}", r.body);
    }
    let r = post_form(
        &app,
        &mut op,
        "/profile/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "una clave nueva larga"),
            ("new_password_again", "una clave nueva larga"),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // This session goes on; the new password signs in.
    let page = get(&app, &mut op, "/profile?saved=password", &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Contraseña cambiada"), "{}", page.body);
    assert_eq!(
        app.login("operator@example.com", "una clave nueva larga")
            .await
            .status,
        200
    );
    app.stop().await;
}
