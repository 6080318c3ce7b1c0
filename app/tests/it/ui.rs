//! The web UI over HTTP, as a browser uses it: pages behind the sign-in
//! redirect to it, the sign-in form needs its CSRF token and signs in with
//! the API's rules, pages speak the reader's language, and the embedded
//! files are served at hashed URLs. (The browser tests drive the same
//! pages in Chromium.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{PASSWORD, Reply, TestApp, app_with_staff};

/// A browser's cookies for one app: name → value, from `Set-Cookie`.
/// (These helpers are shared with `ui_admin`.)
#[derive(Default)]
pub(crate) struct Jar(pub(crate) Vec<(String, String)>);

impl Jar {
    pub(crate) fn take(&mut self, r: &Reply) {
        for line in r.head.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if !k.trim().eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = v.trim().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.0.retain(|(n, _)| n != name);
            let expired = v.to_ascii_lowercase().contains("max-age=0");
            if !value.is_empty() && !expired {
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    pub(crate) fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
}

/// A GET with the jar's cookies (and `extra` headers); keeps what it sets.
pub(crate) async fn get(app: &TestApp, jar: &mut Jar, path: &str, extra: &[(&str, &str)]) -> Reply {
    let cookie = jar.header();
    let mut headers = vec![("Cookie", cookie.as_str())];
    headers.extend_from_slice(extra);
    let r = app.request("GET", path, &headers, "").await;
    jar.take(&r);
    r
}

/// A form POST from the app's own page (as a browser sends it).
pub(crate) async fn post_form(
    app: &TestApp,
    jar: &mut Jar,
    path: &str,
    fields: &[(&str, &str)],
) -> Reply {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let cookie = jar.header();
    let r = app
        .request(
            "POST",
            path,
            &[
                ("Cookie", cookie.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Sec-Fetch-Site", "same-origin"),
            ],
            &body,
        )
        .await;
    jar.take(&r);
    r
}

/// The CSRF token a page's forms carry.
pub(crate) fn token_of(page: &Reply) -> String {
    let at = page
        .body
        .find("name=\"authenticity_token\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &page.body[at + "name=\"authenticity_token\" value=\"".len()..];
    let token = rest.split('"').next().unwrap();
    // askama escapes `/`, `+` and `=` of the base64 token as HTML entities
    token
        .replace("&#x2f;", "/")
        .replace("&#43;", "+")
        .replace("&#61;", "=")
        .replace("&#x2b;", "+")
        .replace("&#x3d;", "=")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_behind_the_sign_in_send_the_browser_to_it_and_back() {
    let (app, _) = app_with_staff().await;
    let mut jar = Jar::default();
    let r = get(&app, &mut jar, "/", &[]).await;
    assert_eq!(r.status, 303, "{}", r.head);
    assert_eq!(r.header("location").as_deref(), Some("/login"));
    let r = get(&app, &mut jar, "/home/figures?x=1", &[]).await;
    assert_eq!(r.status, 303, "{}", r.head);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/login?next=%2Fhome%2Ffigures%3Fx%3D1")
    );
    // A made-up session is no session.
    jar.0.push(("paq_session".to_owned(), "forged".to_owned()));
    let r = get(&app, &mut jar, "/", &[]).await;
    assert_eq!(r.status, 303, "{}", r.head);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_page_speaks_the_readers_language_under_a_strict_policy() {
    let (app, _) = app_with_staff().await;
    let mut jar = Jar::default();
    let r = get(&app, &mut jar, "/login", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<html lang=\"es\">"), "{}", r.body);
    assert!(r.body.contains("Entrar a Paquetería"), "{}", r.body);
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
    assert!(jar.has("paq_csrf"), "the form's token cookie is set");

    let r = get(
        &app,
        &mut jar,
        "/login",
        &[("Accept-Language", "en-US,en;q=0.9")],
    )
    .await;
    assert!(r.body.contains("<html lang=\"en\">"), "{}", r.body);
    assert!(r.body.contains("Sign in to Paquetería"), "{}", r.body);

    // Every file the page names is served from the app, for a year.
    for name in ["htmx.min", "pico.min", "app"] {
        let at = r.body.find(&format!("/static/{name}.")).unwrap();
        let url = r.body[at..].split('"').next().unwrap();
        let file = app.request("GET", url, &[], "").await;
        assert_eq!(file.status, 200, "{url}");
        assert!(
            file.header("cache-control").unwrap().contains("immutable"),
            "{url}"
        );
        assert!(file.body.len() > 100, "{url}");
    }
    assert_eq!(
        app.request("GET", "/static/htmx.min.000000000000.js", &[], "")
            .await
            .status,
        404
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_with_the_form_see_the_day_and_sign_out() {
    let (app, _) = app_with_staff().await;
    let mut jar = Jar::default();
    let page = get(&app, &mut jar, "/login?next=/home/figures", &[]).await;
    let token = token_of(&page);
    assert!(
        page.body.contains("value=\"/home/figures\""),
        "{}",
        page.body
    );

    // Without the token (or with another) nothing happens: 403, no session.
    for bad in ["", "bm90IHRoZSB0b2tlbg=="] {
        let r = post_form(
            &app,
            &mut jar,
            "/login",
            &[
                ("email", "operator@example.com"),
                ("password", PASSWORD),
                ("authenticity_token", bad),
            ],
        )
        .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(!jar.has("paq_session"));
    }
    // A wrong password: the form again, with the message and the email.
    let r = post_form(
        &app,
        &mut jar,
        "/login",
        &[
            ("email", "operator@example.com"),
            ("password", "not the password"),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.body.contains("Correo o contraseña incorrectos"),
        "{}",
        r.body
    );
    assert!(r.body.contains("value=\"operator@example.com\""));
    assert!(!jar.has("paq_session"));

    // The right one: the session cookie, and on to where the browser was
    // going; a `next` off this site is ignored.
    let r = post_form(
        &app,
        &mut jar,
        "/login",
        &[
            ("email", "operator@example.com"),
            ("password", PASSWORD),
            ("next", "//evil.example/x"),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location").as_deref(), Some("/"));
    let cookie = r
        .head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: paq_session=")
        })
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    // The home page: the day's figures and who is signed in.
    let home = get(&app, &mut jar, "/", &[]).await;
    assert_eq!(home.status, 200, "{}", home.body);
    for text in [
        "Resumen del día",
        "Recibidos hoy",
        "Registrado",
        "operator@example.com",
    ] {
        assert!(home.body.contains(text), "{text} missing: {}", home.body);
    }
    let figures = get(&app, &mut jar, "/home/figures", &[]).await;
    assert_eq!(figures.status, 200);
    assert!(
        !figures.body.contains("<html"),
        "a fragment: {}",
        figures.body
    );

    // Signing out needs the token too; then the pages are closed again.
    let token = token_of(&home);
    let r = post_form(&app, &mut jar, "/logout", &[("authenticity_token", "")]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(get(&app, &mut jar, "/", &[]).await.status, 200);
    let r = post_form(&app, &mut jar, "/logout", &[("authenticity_token", &token)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location").as_deref(), Some("/login?out=1"));
    assert!(!jar.has("paq_session"));
    let page = get(&app, &mut jar, "/login?out=1", &[]).await;
    assert!(page.body.contains("Salió de su sesión"), "{}", page.body);
    assert_eq!(get(&app, &mut jar, "/", &[]).await.status, 303);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_courier_does_not_see_the_business_figures() {
    let (app, _) = app_with_staff().await;
    let mut jar = signed_in(&app, "courier@example.com").await;
    let home = get(&app, &mut jar, "/", &[]).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("Mensajero"), "{}", home.body);
    assert!(!home.body.contains("Recibidos hoy"), "{}", home.body);
    assert_eq!(get(&app, &mut jar, "/home/figures", &[]).await.status, 403);
    app.stop().await;
}

/// A browser signed in through the form as `email`.
pub(crate) async fn signed_in(app: &TestApp, email: &str) -> Jar {
    let mut jar = Jar::default();
    let token = token_of(&get(app, &mut jar, "/login", &[]).await);
    let r = post_form(
        app,
        &mut jar,
        "/login",
        &[
            ("email", email),
            ("password", PASSWORD),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    jar
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parcel_list_searches_filters_and_leads_to_each_parcel() {
    let (app, branches) = crate::common::app_with_staff().await;
    let (ids, codes): (Vec<i64>, Vec<String>) =
        crate::common::registered_parcels(&app, &branches, 3)
            .await
            .into_iter()
            .unzip();
    let mut jar = signed_in(&app, "operator@example.com").await;

    // The whole list: every parcel, by code, with its route and status.
    let page = get(&app, &mut jar, "/parcels", &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for code in &codes {
        assert!(page.body.contains(code.as_str()), "{code}: {}", page.body);
    }
    for text in [
        "3 envíos",
        "Bogotá Centro → Medellín Norte",
        "Registrado",
        "Recoger en sucursal",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }

    // As one types (htmx): the results alone, only the parcel searched for.
    let q = format!("/parcels?q={}&status=&branch_id=", codes[1]);
    let part = get(&app, &mut jar, &q, &[("HX-Request", "true")]).await;
    assert_eq!(part.status, 200, "{}", part.body);
    assert!(!part.body.contains("<html"), "{}", part.body);
    assert!(part.body.contains(codes[1].as_str()), "{}", part.body);
    assert!(!part.body.contains(codes[0].as_str()), "{}", part.body);
    assert!(part.body.contains(">1 envío<"), "{}", part.body);

    // A status filter with no parcel says so.
    let none = get(&app, &mut jar, "/parcels?status=DELIVERED", &[]).await;
    assert!(none.body.contains("Ningún envío coincide"), "{}", none.body);

    // Another branch's list is refused, as in the API.
    let other = get(
        &app,
        &mut jar,
        &format!("/parcels?branch_id={}", branches[1]),
        &[],
    )
    .await;
    assert_eq!(other.status, 403, "{}", other.body);

    // Each row leads to the parcel and its history.
    assert!(page.body.contains(&format!("href=\"/parcels/{}\"", ids[0])));
    let one = get(&app, &mut jar, &format!("/parcels/{}", ids[0]), &[]).await;
    assert_eq!(one.status, 200, "{}", one.body);
    for text in [
        format!("Envío {}", codes[0]),
        "Registro".to_owned(),
        "Historial".to_owned(),
    ] {
        assert!(one.body.contains(&text), "{text}: {}", one.body);
    }
    assert_eq!(
        get(&app, &mut jar, "/parcels/999999", &[]).await.status,
        404
    );

    // Staff of a branch the parcel does not touch may not see it.
    let cal = app
        .store
        .create_branch(&paqueteria_testkit::branch("CAL-01", "Cali Sur", "Cali"))
        .await
        .unwrap()
        .id;
    crate::common::staff_at(
        &app,
        "op-cal@example.com",
        paqueteria_core::domain::Role::Operator,
        Some(cal),
    )
    .await;
    let mut cali = signed_in(&app, "op-cal@example.com").await;
    let r = get(&app, &mut cali, &format!("/parcels/{}", ids[0]), &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let list = get(&app, &mut cali, "/parcels", &[]).await;
    assert!(!list.body.contains(codes[0].as_str()), "{}", list.body);

    // Without a session: to the sign-in, and back here after it.
    let mut nobody = Jar::default();
    let r = get(&app, &mut nobody, "/parcels?q=ana", &[]).await;
    assert_eq!(
        r.header("location").as_deref(),
        Some("/login?next=%2Fparcels%3Fq%3Dana")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_tracks_a_parcel_by_its_code_and_sees_nothing_personal() {
    let (app, branches) = app_with_staff().await;
    let (id, code) = crate::common::registered_parcels(&app, &branches, 1)
        .await
        .remove(0);
    receive(&app, id).await;

    // No sign-in: the status and its steps, with times and branches.
    let mut nobody = Jar::default();
    let page = get(&app, &mut nobody, &format!("/track/{code}"), &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        code.as_str(),
        "Recibido",
        "Registrado",
        "Bogotá Centro",
        "Recoger en sucursal",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    // Nothing personal: no names, phones, emails or who handled it.
    for secret in [
        "Ana",
        "Gómez",
        "Luis",
        "+57300",
        "ana@example.com",
        "operator@example.com",
    ] {
        assert!(!page.body.contains(secret), "{secret} shown: {}", page.body);
    }
    // The form leads there, whatever the case typed.
    let r = get(
        &app,
        &mut nobody,
        &format!("/track?code=%20{}", code.to_lowercase()),
        &[],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.head);
    assert_eq!(r.header("location"), Some(format!("/track/{code}")));
    assert_eq!(get(&app, &mut nobody, "/track", &[]).await.status, 200);
    // A code that cannot be one, and one that is no parcel's: said plainly.
    let bad = get(&app, &mut nobody, "/track/hola", &[]).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("no es un código de guía"), "{}", bad.body);
    let unknown = paqueteria_core::domain::TrackingCode::new("PQ", 1, "CO").unwrap();
    assert_ne!(unknown.as_str(), code);
    let none = get(
        &app,
        &mut nobody,
        &format!("/track/{}", unknown.as_str()),
        &[],
    )
    .await;
    assert_eq!(none.status, 404, "{}", none.body);
    assert!(
        none.body.contains("No encontramos ningún envío"),
        "{}",
        none.body
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parcels_page_lists_its_messages_and_masks_a_pin_for_staff() {
    let (app, branches) = app_with_staff().await;
    let (id, _) = crate::common::registered_parcels(&app, &branches, 1)
        .await
        .remove(0);
    let mut jar = signed_in(&app, "operator@example.com").await;
    let path = format!("/parcels/{id}");
    let page = get(&app, &mut jar, &path, &[]).await;
    assert!(
        page.body.contains("Aún no se ha enviado ningún mensaje"),
        "{}",
        page.body
    );

    // Received: the recipient's SMS is listed with its state.
    receive(&app, id).await;
    let page = get(&app, &mut jar, &path, &[]).await;
    for text in ["Mensajes", "SMS", "+573002220000", "fue recibido"] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    // The in-process worker is sending it meanwhile: any state on its way.
    assert!(
        ["<td>En cola</td>", "<td>Enviando</td>", "<td>Enviado</td>"]
            .iter()
            .any(|state| page.body.contains(state)),
        "{}",
        page.body
    );

    // A PIN sent again: its digits are for admins only, here as in the API.
    crate::common::staff_at(
        &app,
        "sup@example.com",
        paqueteria_core::domain::Role::Supervisor,
        Some(branches[0]),
    )
    .await;
    let sup = crate::common::token(&app, "sup@example.com").await;
    let r = app
        .post_json(
            &format!("/api/v1/parcels/{id}/pin"),
            Some(&sup),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let pin_sms = app
        .store
        .notifications(id)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.template == paqueteria_core::store::PIN_TEMPLATE)
        .unwrap();
    let pin: String = pin_sms
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned();
    let page = get(&app, &mut jar, &path, &[]).await;
    assert!(!page.body.contains(&pin), "the PIN shown to an operator");
    let mut admin = signed_in(&app, "admin@example.com").await;
    let page = get(&app, &mut admin, &path, &[]).await;
    assert!(page.body.contains(&pin), "{}", page.body);
    app.stop().await;
}

/// The origin's operator receives parcel `id` (at version 1).
async fn receive(app: &TestApp, id: i64) {
    let op = crate::common::token(app, "operator@example.com").await;
    let r = app
        .post_json(
            &format!("/api/v1/parcels/{id}/transition"),
            Some(&op),
            &serde_json::json!({"event": "receive", "version": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Every page and form of the UI behind the sign-in (the public tracking
/// pages are not): `(method, path)`.
pub(crate) const SIGNED_IN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/home/figures"),
    ("GET", "/parcels"),
    ("GET", "/parcels/new"),
    ("POST", "/parcels/new"),
    (
        "GET",
        "/parcels/new/customer?party=sender&sender_phone=3001110000",
    ),
    (
        "GET",
        "/parcels/new/quote?package_type=box&zone=national&weight_grams=1",
    ),
    ("GET", "/parcels/1/registered"),
    ("GET", "/parcels/1"),
    ("POST", "/parcels/1/events"),
    ("GET", "/parcels/1/label.pdf"),
    ("GET", "/parcels/1/attachments"),
    ("POST", "/parcels/1/attachments"),
    ("GET", "/courier"),
    ("GET", "/profile"),
    ("POST", "/profile/password"),
    ("POST", "/profile/language"),
    ("GET", "/reports"),
    ("POST", "/reports"),
    ("GET", "/reports/1/progress"),
    ("GET", "/reports/1/download"),
    ("GET", "/customers"),
    ("GET", "/customers/1"),
    ("POST", "/customers/1"),
    ("GET", "/tariffs"),
    ("POST", "/tariffs"),
    ("POST", "/tariffs/1/end"),
    ("GET", "/branches"),
    ("POST", "/branches"),
    ("GET", "/users"),
    ("POST", "/users"),
    ("GET", "/users/1"),
    ("POST", "/users/1"),
    ("POST", "/users/1/password"),
    ("GET", "/console"),
    ("GET", "/console/overview"),
    ("GET", "/console/jobs/sms.send:1"),
    ("GET", "/console/audit"),
    ("GET", "/console/schedule"),
    ("POST", "/console/schedule/cleanup-tmp/run-now"),
    ("POST", "/console/purge"),
    ("POST", "/console/jobs/sms.send:1/duplicate"),
    ("GET", "/console/jobs?state=dead"),
    ("GET", "/console/jobs/export.json"),
    ("GET", "/console/jobs/export.csv"),
    ("POST", "/console/jobs/bulk"),
    ("POST", "/console/jobs/sms.send:1/retry"),
    ("POST", "/console/queues/reports/pause"),
    ("GET", "/console/messages"),
    ("POST", "/console/messages/1/resend"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_form_without_a_session_goes_to_the_sign_in_and_changes_nothing() {
    let (app, branches) = app_with_staff().await;
    let (id, _) = crate::common::registered_parcels(&app, &branches, 1).await[0].clone();
    assert_eq!(id, 1);
    for (method, path) in SIGNED_IN_ROUTES {
        let r = app
            .request(
                method,
                path,
                &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Sec-Fetch-Site", "same-origin"),
                ],
                "event=receive&version=1",
            )
            .await;
        assert_eq!(r.status, 303, "{method} {path}: {}", r.head);
        let to = r.header("location").unwrap_or_default();
        assert!(to.starts_with("/login"), "{method} {path} → {to}");
    }
    let p = app.store.parcel(id).await.unwrap();
    assert_eq!(p.status, paqueteria_core::domain::ParcelStatus::Registered);
    app.stop().await;
}
