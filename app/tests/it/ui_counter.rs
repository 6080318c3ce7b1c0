//! The counter's pages over HTTP, as a browser uses them: registering a
//! parcel (mistakes named by field, the code and PIN shown once, the
//! label), the parcel's actions through its whole life (a wrong PIN, a
//! stale page), the courier's day, and an upload from the parcel's page.
//! On both stores.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use paqueteria_core::domain::ParcelStatus;
use paqueteria_core::store::ParcelFilter;

use crate::common::TestApp;
use crate::ui::{Jar, get, post_form, signed_in, token_of};

/// The parcels in the store.
async fn parcel_count(app: &TestApp) -> i64 {
    app.store
        .list_parcels(&ParcelFilter {
            status: None,
            branch_id: None,
            q: None,
            page: 1,
            page_size: 1,
        })
        .await
        .unwrap()
        .total
}

/// A registration form as the counter fills it, with `token`.
fn counter_form<'a>(token: &'a str, destination: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("authenticity_token", token),
        ("sender_phone", "300 111 0000"),
        ("sender_name", "Ana Gómez"),
        ("sender_email", "ana@example.com"),
        ("recipient_phone", "+57 300 222 0000"),
        ("recipient_name", "Luis Pérez"),
        ("destination_branch_id", destination),
        ("service", "branch_pickup"),
        ("package_type", "box"),
        ("zone", "national"),
        ("weight_grams", "1.500"),
        ("declared_value", "50.000"),
        ("cod_amount", ""),
    ]
}

/// The text between `start` and the next `end` after it in `body`.
fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let at = body
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {body}"))
        + start.len();
    let rest = &body[at..];
    &rest[..rest.find(end).unwrap()]
}

/// An action's form posted from the parcel's page.
async fn act(
    app: &TestApp,
    jar: &mut Jar,
    id: i64,
    fields: &[(&str, &str)],
) -> crate::common::Reply {
    let page = get(app, jar, &format!("/parcels/{id}"), &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = token_of(&page);
    // The version the page was read at; a page that offers no action has
    // none, and the form is forged from the store's.
    let version = match page.body.find("name=\"version\" value=\"") {
        Some(_) => between(&page.body, "name=\"version\" value=\"", "\"").to_owned(),
        None => app.store.parcel(id).await.unwrap().version.to_string(),
    };
    let mut all = vec![
        ("authenticity_token", token.as_str()),
        ("version", version.as_str()),
    ];
    all.extend_from_slice(fields);
    post_form(app, jar, &format!("/parcels/{id}/events"), &all).await
}

/// The status of parcel `id` in the store.
async fn status_of(app: &TestApp, id: i64) -> ParcelStatus {
    app.store.parcel(id).await.unwrap().status
}

async fn a_parcel_is_registered_at_the_counter_and_delivered_with_its_pin(
    app: TestApp,
    branches: Vec<i64>,
) {
    let destination = branches[1].to_string();
    let mut op = signed_in(&app, "operator@example.com").await;
    let form = get(&app, &mut op, "/parcels/new", &[]).await;
    assert_eq!(form.status, 200, "{}", form.body);
    // The operator's own branch is the origin; they do not choose it.
    assert!(form.body.contains("Bogotá Centro"), "{}", form.body);
    let token = token_of(&form);

    // A form with mistakes: each named next to its field, nothing stored.
    let before = parcel_count(&app).await;
    let r = post_form(
        &app,
        &mut op,
        "/parcels/new",
        &[
            ("authenticity_token", token.as_str()),
            ("sender_phone", "12"),
            ("recipient_phone", "300 222 0000"),
            ("service", "home_delivery"),
            ("weight_grams", "mucho"),
            ("cod_amount", "12,5"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    for field in [
        "sender_phone",
        "sender_name",
        "recipient_name",
        "destination_branch_id",
        "package_type",
        "zone",
        "weight_grams",
        "cod_amount",
        "delivery_address",
    ] {
        assert!(
            r.body.contains(&format!("id=\"{field}-error\"")),
            "{field} is named: {}",
            r.body
        );
    }
    assert!(r.body.contains("aria-invalid=\"true\""));
    // What was typed stays in the form.
    assert!(r.body.contains("value=\"300 222 0000\""), "{}", r.body);
    assert_eq!(parcel_count(&app).await, before);

    // Without the CSRF token: refused, nothing stored.
    let mut no_token = counter_form("", &destination);
    no_token.remove(0);
    let r = post_form(&app, &mut op, "/parcels/new", &no_token).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(parcel_count(&app).await, before);

    // The quote before saving: 8.000 + 2 kg × 2.000.
    let q = get(
        &app,
        &mut op,
        "/parcels/new/quote?package_type=box&zone=national&weight_grams=1500",
        &[("HX-Request", "true")],
    )
    .await;
    assert!(q.body.contains("$ 12.000"), "{}", q.body);

    // Saved, then on to the page that shows the code and the PIN, once:
    // a reload shows the code without the PIN, and registers nothing.
    let r = post_form(
        &app,
        &mut op,
        "/parcels/new",
        &counter_form(&token, &destination),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let shown = r.header("location").unwrap();
    let id: i64 = shown
        .strip_prefix("/parcels/")
        .and_then(|rest| rest.strip_suffix("/registered"))
        .unwrap()
        .parse()
        .unwrap();
    let r = get(&app, &mut op, &shown, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let code = between(&r.body, "id=\"tracking-code\" class=\"figure\">", "<").to_owned();
    let pin = between(&r.body, "id=\"pickup-pin\" class=\"figure\">", "<").to_owned();
    assert_eq!(pin.len(), 6, "{pin}");
    assert!(pin.chars().all(|c| c.is_ascii_digit()), "{pin}");
    assert!(r.body.contains(&format!("/parcels/{id}/label.pdf")));
    assert_eq!(parcel_count(&app).await, before + 1);
    let again = get(&app, &mut op, &shown, &[]).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.contains(&code), "{}", again.body);
    assert!(
        !again.body.contains(&pin),
        "the PIN is shown once: {}",
        again.body
    );
    assert!(again.body.contains("id=\"pin-shown\""), "{}", again.body);
    assert_eq!(parcel_count(&app).await, before + 1);
    let parcel = app.store.parcel(id).await.unwrap();
    assert_eq!(parcel.tracking_code.as_str(), code);
    assert_eq!(parcel.weight.0, 1500);
    assert_eq!(parcel.declared_value.0, 5_000_000);
    // The phones as the counter typed them, in E.164.
    let sender = app.store.customer(parcel.sender_id).await.unwrap();
    assert_eq!(sender.phone.as_str(), "+573001110000");

    // The label: a PDF with the code on it.
    let cookie = op.header();
    let (status, head, pdf) = {
        let r = app
            .request_bytes(
                "GET",
                &format!("/parcels/{id}/label.pdf"),
                &[("Cookie", cookie.as_str())],
                b"",
            )
            .await;
        (r.status, r.head.clone(), r.body.clone())
    };
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("application/pdf"),
        "{head}"
    );
    assert!(pdf.starts_with("%PDF-"), "{pdf:.40}");
    assert!(
        pdf.contains(&format!("({code}) Tj")),
        "the code is printed on the label"
    );

    // The phone lookup fills a known customer.
    let r = get(
        &app,
        &mut op,
        "/parcels/new/customer?party=sender&sender_phone=3001110000",
        &[("HX-Request", "true")],
    )
    .await;
    assert!(r.body.contains("value=\"Ana Gómez\""), "{}", r.body);
    assert!(r.body.contains("value=\"ana@example.com\""), "{}", r.body);

    // Its life, through the page's actions.
    let r = act(&app, &mut op, id, &[("event", "receive")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("location").as_deref(),
        Some(format!("/parcels/{id}?done=receive").as_str())
    );
    let r = act(&app, &mut op, id, &[("event", "dispatch")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    // The origin's operator is offered nothing at the destination.
    let page = get(&app, &mut op, &format!("/parcels/{id}"), &[]).await;
    assert!(!page.body.contains("value=\"arrive\""), "{}", page.body);
    // … and the server refuses it even so.
    let r = act(&app, &mut op, id, &[("event", "arrive")]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(status_of(&app, id).await, ParcelStatus::InTransit);

    crate::common::staff_at(
        &app,
        "op-med@example.com",
        paqueteria_core::domain::Role::Operator,
        Some(branches[1]),
    )
    .await;
    let mut med = signed_in(&app, "op-med@example.com").await;
    let r = act(&app, &mut med, id, &[("event", "arrive")]).await;
    assert_eq!(r.status, 303, "{}", r.body);

    // A stale page: the version it was read at is gone.
    let page = get(&app, &mut med, &format!("/parcels/{id}"), &[]).await;
    let token = token_of(&page);
    let r = post_form(
        &app,
        &mut med,
        &format!("/parcels/{id}/events"),
        &[
            ("authenticity_token", token.as_str()),
            ("version", "1"),
            ("event", "deliver"),
            ("pin", pin.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("Otra persona cambió este envío"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("En destino"),
        "the fresh parcel: {}",
        r.body
    );
    assert_eq!(status_of(&app, id).await, ParcelStatus::AtDestination);

    // A wrong PIN is named at the PIN; the right one delivers.
    let wrong = if pin == "000000" { "111111" } else { "000000" };
    let r = act(&app, &mut med, id, &[("event", "deliver"), ("pin", wrong)]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("El PIN no es correcto"), "{}", r.body);
    assert_eq!(status_of(&app, id).await, ParcelStatus::AtDestination);
    let r = act(
        &app,
        &mut med,
        id,
        &[("event", "deliver"), ("pin", pin.as_str())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(status_of(&app, id).await, ParcelStatus::Delivered);
    let page = get(&app, &mut med, &format!("/parcels/{id}?done=deliver"), &[]).await;
    assert!(page.body.contains("Envío entregado."), "{}", page.body);
    assert!(!page.body.contains("name=\"event\""), "nothing left to do");
    app.stop().await;
}

crate::on_both_stores!(a_parcel_is_registered_at_the_counter_and_delivered_with_its_pin);

async fn a_courier_takes_out_delivers_and_reports_a_failed_attempt(
    app: TestApp,
    branches: Vec<i64>,
) {
    let admin = crate::common::token(&app, "admin@example.com").await;
    let mut pins = Vec::new();
    for _ in 0..2 {
        let mut body = crate::common::parcel_body(&branches);
        body["service"] = "home_delivery".into();
        body["delivery_address"] = "Calle 10 # 43-12".into();
        body["cod_amount"] = 2_500_000.into();
        let r = app.post_json("/api/v1/parcels", Some(&admin), &body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let j = r.json();
        let id = j["id"].as_i64().unwrap();
        pins.push((id, j["pickup_pin"].as_str().unwrap().to_owned()));
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
    }
    // Only couriers have a day.
    let mut op = signed_in(&app, "operator@example.com").await;
    assert_eq!(get(&app, &mut op, "/courier", &[]).await.status, 403);

    let mut courier = signed_in(&app, "courier@example.com").await;
    let day = get(&app, &mut courier, "/courier", &[]).await;
    assert_eq!(day.status, 200, "{}", day.body);
    assert!(day.body.contains("Calle 10 # 43-12"), "{}", day.body);
    let token = token_of(&day);
    for (id, _) in &pins {
        let p = app.store.parcel(*id).await.unwrap();
        let r = post_form(
            &app,
            &mut courier,
            &format!("/parcels/{id}/events"),
            &[
                ("authenticity_token", token.as_str()),
                ("version", &p.version.to_string()),
                ("event", "out_for_delivery"),
                ("back", "courier"),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(
            r.header("location").as_deref(),
            Some("/courier?done=out_for_delivery")
        );
    }
    // Both on the round, with the cash to collect (25.000 + 3.000 fee is
    // the shipping; the recipient pays the cash on delivery).
    let day = get(&app, &mut courier, "/courier", &[]).await;
    assert!(day.body.contains("En mi ruta (2)"), "{}", day.body);
    assert!(day.body.contains("$ 25.000"), "{}", day.body);
    let (first, pin) = &pins[0];
    let (second, _) = &pins[1];
    let version = |id: i64| {
        let app = &app;
        async move { app.store.parcel(id).await.unwrap().version.to_string() }
    };
    let r = post_form(
        &app,
        &mut courier,
        &format!("/parcels/{first}/events"),
        &[
            ("authenticity_token", token.as_str()),
            ("version", &version(*first).await),
            ("event", "deliver"),
            ("pin", pin.as_str()),
            ("back", "courier"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // A failed attempt needs its reason.
    let r = post_form(
        &app,
        &mut courier,
        &format!("/parcels/{second}/events"),
        &[
            ("authenticity_token", token.as_str()),
            ("version", &version(*second).await),
            ("event", "fail_attempt"),
            ("reason", " "),
            ("back", "courier"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("Escriba el motivo"), "{}", r.body);
    let r = post_form(
        &app,
        &mut courier,
        &format!("/parcels/{second}/events"),
        &[
            ("authenticity_token", token.as_str()),
            ("version", &version(*second).await),
            ("event", "fail_attempt"),
            ("reason", "Nadie en casa"),
            ("back", "courier"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(status_of(&app, *first).await, ParcelStatus::Delivered);
    assert_eq!(status_of(&app, *second).await, ParcelStatus::AtDestination);
    let day = get(&app, &mut courier, "/courier?done=fail_attempt", &[]).await;
    assert!(day.body.contains("En mi ruta (0)"), "{}", day.body);
    assert!(
        day.body.contains("Para salir a reparto (1)"),
        "{}",
        day.body
    );
    assert!(
        day.body.contains("Intento fallido registrado."),
        "{}",
        day.body
    );
    app.stop().await;
}

crate::on_both_stores!(a_courier_takes_out_delivers_and_reports_a_failed_attempt);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counter_pages_refuse_roles_and_requests_they_must() {
    let (app, branches) = crate::common::app_with_staff().await;
    // Without a session: to the sign-in page.
    let mut nobody = Jar::default();
    for path in [
        "/parcels/new",
        "/courier",
        "/parcels/1",
        "/parcels/1/label.pdf",
    ] {
        let r = get(&app, &mut nobody, path, &[]).await;
        assert_eq!(r.status, 303, "{path}");
        assert!(
            r.header("location").unwrap().starts_with("/login"),
            "{path}"
        );
    }
    // A courier may not register, even by posting the form.
    let mut courier = signed_in(&app, "courier@example.com").await;
    let r = get(&app, &mut courier, "/parcels/new", &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("No tiene permiso"), "{}", r.body);
    let token = token_of(&get(&app, &mut courier, "/courier", &[]).await);
    let dest = branches[1].to_string();
    let before = parcel_count(&app).await;
    let r = post_form(
        &app,
        &mut courier,
        "/parcels/new",
        &counter_form(&token, &dest),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(parcel_count(&app).await, before);

    // An action without its token changes nothing.
    let (id, _) = crate::common::registered_parcels(&app, &branches, 1).await[0].clone();
    let mut op = signed_in(&app, "operator@example.com").await;
    let r = post_form(
        &app,
        &mut op,
        &format!("/parcels/{id}/events"),
        &[("version", "1"), ("event", "receive")],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(status_of(&app, id).await, ParcelStatus::Registered);

    // An upload from the page: with the token in its header it is taken
    // (202, the attachment pending); without, refused.
    let page = get(&app, &mut op, &format!("/parcels/{id}"), &[]).await;
    let token = token_of(&page);
    assert!(page.body.contains("id=\"upload\""), "{}", page.body);
    let png = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(64, 48, image::Rgb([200, 30, 30]))
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    };
    let boundary = "XyZboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"caja.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let cookie = op.header();
    let path = format!("/parcels/{id}/attachments");
    let refused = app
        .request_bytes(
            "POST",
            &path,
            &[
                ("Cookie", cookie.as_str()),
                ("Content-Type", content_type.as_str()),
                ("Sec-Fetch-Site", "same-origin"),
            ],
            &body,
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        app.store
            .parcel_attachments_page(id, 1, 10)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    let taken = app
        .request_bytes(
            "POST",
            &path,
            &[
                ("Cookie", cookie.as_str()),
                ("Content-Type", content_type.as_str()),
                ("Sec-Fetch-Site", "same-origin"),
                ("X-CSRF-Token", token.as_str()),
            ],
            &body,
        )
        .await;
    assert_eq!(taken.status, 202, "{}", taken.body);
    assert_eq!(taken.json()["attachment"]["filename"], "caja.png");
    // The attachments part lists it.
    let part = get(&app, &mut op, &path, &[("HX-Request", "true")]).await;
    assert_eq!(part.status, 200, "{}", part.body);
    assert!(part.body.contains("caja.png"), "{}", part.body);
    app.stop().await;
}

async fn the_home_page_charts_the_last_fourteen_days(app: TestApp, branches: Vec<i64>) {
    let ids: Vec<i64> = crate::common::registered_parcels(&app, &branches, 3)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let admin = crate::common::token(&app, "admin@example.com").await;
    for id in &ids[..2] {
        let r = app
            .post_json(
                &format!("/api/v1/parcels/{id}/transition"),
                Some(&admin),
                &serde_json::json!({"event": "receive", "version": 1}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let mut op = signed_in(&app, "operator@example.com").await;
    let home = get(&app, &mut op, "/", &[]).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("<svg id=\"chart\""), "{}", home.body);
    // Fourteen days (and the page's own title), today with its two
    // receptions.
    assert_eq!(home.body.matches("<title>").count(), 14 + 1);
    assert!(
        home.body.contains(": 2 recibidos, 0 entregados</title>"),
        "{}",
        home.body
    );
    assert!(home.body.contains("2 recibidos y 0 entregados en 14 días"));
    // Parcels per destination branch and status.
    assert!(home.body.contains("id=\"by-branch\""), "{}", home.body);
    app.stop().await;
}

crate::on_both_stores!(the_home_page_charts_the_last_fourteen_days);
