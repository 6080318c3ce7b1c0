//! Attachments through the API: a photo uploaded as a multipart form is
//! stored and thumbnailed by the in-process worker, then downloaded; bad
//! uploads get 422 or 413 and leave nothing behind. With S3 settings the
//! downloads are presigned links that the S3 server honours.
//!
//! On both stores: a file is served under a safe name with its type's
//! extension and only when its bytes are of that type; a parcel holds at
//! most 20; only staff of the parcel's branches see them; the list is
//! paged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::time::Duration;

use paqueteria_testkit::eventually;

use paqueteria_core::domain::Role;

use crate::common::{TestApp, app_with_staff_and, parcel_body, staff_at, token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BOUNDARY: &str = "paqueteria-test-boundary";

/// A 600×300 PNG.
fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(600, 300, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// One part of a form: name, file name, content type, bytes.
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A multipart body.
fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, ct, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(f) = file {
            disposition.push_str(&format!("; filename=\"{f}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = ct {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Signs in a new member of staff with `role` at `branch`; their token.
/// Tokens of an operator at the origin (`branches[0]`) and a courier at the
/// destination (`branches[1]`), who may both see a parcel between them.
async fn counter_and_courier(app: &TestApp, branches: &[i64]) -> (String, String) {
    (
        staff_at(
            app,
            "counter@example.com",
            Role::Operator,
            Some(branches[0]),
        )
        .await,
        staff_at(app, "driver@example.com", Role::Courier, Some(branches[1])).await,
    )
}

async fn upload(app: &TestApp, parcel: i64, token: &str, body: &[u8]) -> crate::common::Reply {
    let auth = format!("Bearer {token}");
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    app.request_bytes(
        "POST",
        &format!("/api/v1/parcels/{parcel}/attachments"),
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", ct.as_str()),
        ],
        body,
    )
    .await
}

async fn new_parcel(app: &TestApp, branches: &[i64], token: &str) -> i64 {
    let r = app
        .post_json("/api/v1/parcels", Some(token), &parcel_body(branches))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["id"].as_i64().unwrap()
}

/// Polls the parcel's attachments until the first one is `state`.
async fn wait_state(app: &TestApp, parcel: i64, token: &str, state: &str) -> serde_json::Value {
    eventually(
        Duration::from_secs(30),
        &format!("the attachment {state}"),
        || async {
            let list = app
                .get(
                    &format!("/api/v1/parcels/{parcel}/attachments"),
                    Some(token),
                )
                .await
                .json();
            let first = list["items"][0].clone();
            (first["state"] == state).then_some(first)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_is_uploaded_stored_thumbnailed_and_downloaded() {
    let (app, branches) = app_with_staff_and(&[]).await;
    let (op, courier) = counter_and_courier(&app, &branches).await;
    let parcel = new_parcel(&app, &branches, &op).await;
    let original = photo();
    // A courier photographs the package at the door.
    let r = upload(
        &app,
        parcel,
        &courier,
        &form(&[(
            "file",
            Some("entrega puerta.png"),
            Some("image/png"),
            &original,
        )]),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let accepted = r.json();
    let id = accepted["attachment"]["id"].as_i64().unwrap();
    assert_eq!(accepted["attachment"]["state"], "pending");
    assert_eq!(accepted["attachment"]["kind"], "photo");
    assert_eq!(accepted["attachment"]["filename"], "entrega_puerta.png");
    assert_eq!(accepted["attachment"]["size_bytes"], original.len());
    assert_eq!(accepted["job_id"], format!("file.store:{id}"));

    let done = wait_state(&app, parcel, &op, "processed").await;
    assert_eq!(done["id"], id);
    let (status, head, body) = app
        .get_bytes(&format!("/api/v1/attachments/{id}/download"), &op)
        .await;
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("entrega_puerta.png"), "{head}");
    assert_eq!(body, original);
    let (status, _, thumb) = app
        .get_bytes(&format!("/api/v1/attachments/{id}/thumbnail"), &op)
        .await;
    assert_eq!(status, 200);
    let thumb = image::load_from_memory_with_format(&thumb, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 160));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_and_leave_nothing_behind() {
    let (app, branches) = app_with_staff_and(&[("UPLOAD_MAX_BYTES", "100000".to_owned())]).await;
    let (op, _) = counter_and_courier(&app, &branches).await;
    let parcel = new_parcel(&app, &branches, &op).await;
    let loc = |r: &crate::common::Reply| r.json()["detail"][0]["loc"].clone();

    // No file field.
    let r = upload(&app, parcel, &op, &form(&[("kind", None, None, b"photo")])).await;
    assert_eq!(
        (r.status, loc(&r)),
        (422, serde_json::json!(["body", "file"])),
        "{}",
        r.body
    );
    // A type that is not accepted.
    let r = upload(
        &app,
        parcel,
        &op,
        &form(&[("file", Some("notes.txt"), Some("text/plain"), b"hello")]),
    )
    .await;
    assert_eq!(
        (r.status, loc(&r)),
        (422, serde_json::json!(["body", "file"]))
    );
    assert!(r.body.contains("text/plain"), "{}", r.body);
    // A PDF is not a photo.
    let r = upload(
        &app,
        parcel,
        &op,
        &form(&[
            ("kind", None, None, b"photo"),
            ("file", Some("r.pdf"), Some("application/pdf"), b"%PDF-1.7"),
        ]),
    )
    .await;
    assert_eq!(
        (r.status, loc(&r)),
        (422, serde_json::json!(["body", "kind"]))
    );
    // Not a multipart form at all.
    let r = app
        .post_json(
            &format!("/api/v1/parcels/{parcel}/attachments"),
            Some(&op),
            &serde_json::json!({"file": "x"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // Over the limit: 413, whether the form says so up front or not.
    let big = vec![7u8; 150_000];
    let r = upload(
        &app,
        parcel,
        &op,
        &form(&[("file", Some("big.png"), Some("image/png"), &big)]),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.body);
    let just_over = vec![7u8; 100_001];
    let r = upload(
        &app,
        parcel,
        &op,
        &form(&[("file", Some("big.png"), Some("image/png"), &just_over)]),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.body);
    // A parcel that does not exist.
    let r = upload(
        &app,
        parcel + 1_000,
        &op,
        &form(&[("file", Some("a.png"), Some("image/png"), &photo())]),
    )
    .await;
    assert_eq!(r.status, 404);

    // Nothing was recorded and nothing was left in storage.
    let list = app
        .get(&format!("/api/v1/parcels/{parcel}/attachments"), Some(&op))
        .await
        .json();
    assert_eq!(list["items"], serde_json::json!([]), "{list}");
    assert_eq!(list["total"], 0, "{list}");
    let uploads = app.data_dir.join("files").join("uploads");
    let left = std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "files left in {}", uploads.display());
    app.stop().await;
}

/// Fetches a presigned URL as a browser would (the Host header is signed).
async fn fetch(url: &str) -> (u16, String, Vec<u8>) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, buf[split + 4..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_downloads_are_presigned_links_the_server_honours() {
    let mut vars = paqueteria_testkit::s3_vars().await;
    vars.push(("S3_PRESIGN_TTL", "2m".to_owned()));
    let (app, branches) = app_with_staff_and(&vars).await;
    let (op, _) = counter_and_courier(&app, &branches).await;
    let parcel = new_parcel(&app, &branches, &op).await;
    let receipt = b"%PDF-1.7\n% signed receipt\n".to_vec();
    let r = upload(
        &app,
        parcel,
        &op,
        &form(&[(
            "file",
            Some("recibo.pdf"),
            Some("application/pdf"),
            &receipt,
        )]),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["attachment"]["id"].as_i64().unwrap();
    assert_eq!(
        wait_state(&app, parcel, &op, "stored").await["kind"],
        "document"
    );

    let (status, head, _) = app
        .get_bytes(&format!("/api/v1/attachments/{id}/download"), &op)
        .await;
    assert_eq!(status, 307, "{head}");
    let url = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .unwrap()
        .to_owned();
    assert!(url.contains("X-Amz-Expires=120"), "{url}");
    let (status, head, body) = fetch(&url).await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(body, receipt);
    assert!(
        head.to_lowercase().contains("filename=\"recibo.pdf\""),
        "{head}"
    );
    // A tampered link is refused by the server: the signature is checked.
    let (status, _, _) = fetch(&url.replace("X-Amz-Expires=120", "X-Amz-Expires=9999")).await;
    assert_eq!(status, 403);
    app.stop().await;
}

/// A tiny PDF.
const PDF: &[u8] = b"%PDF-1.7\n%%EOF\n";

async fn attachments_are_named_safely_bounded_and_seen_by_their_branches(
    app: TestApp,
    branches: Vec<i64>,
) {
    let (op, courier) = counter_and_courier(&app, &branches).await;
    let admin = token(&app, "admin@example.com").await;
    let third = app
        .store
        .create_branch(&paqueteria_testkit::branch("CAL-01", "Cali Sur", "Cali"))
        .await
        .unwrap()
        .id;
    let stranger = staff_at(&app, "stranger@example.com", Role::Supervisor, Some(third)).await;
    let parcel = new_parcel(&app, &branches, &op).await;
    let loc = |r: &crate::common::Reply| r.json()["detail"][0]["loc"].clone();

    // A PDF called factura.exe is kept and served as factura.pdf.
    let r = upload(
        &app,
        parcel,
        &op,
        &form(&[("file", Some("factura.exe"), Some("application/pdf"), PDF)]),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["attachment"]["filename"], "factura.pdf");
    let id = r.json()["attachment"]["id"].as_i64().unwrap();
    // An executable's type, or bytes that are not what the type says: 422.
    for (name, ty, bytes) in [
        (
            "factura.exe",
            "application/x-msdownload",
            b"MZ\x90\x00".as_slice(),
        ),
        ("foto.png", "image/png", b"MZ\x90\x00 not a png".as_slice()),
        ("doc.pdf", "application/pdf", b"<html><script>".as_slice()),
    ] {
        let r = upload(
            &app,
            parcel,
            &op,
            &form(&[("file", Some(name), Some(ty), bytes)]),
        )
        .await;
        assert_eq!(
            (r.status, loc(&r)),
            (422, serde_json::json!(["body", "file"])),
            "{name}: {}",
            r.body
        );
    }
    wait_state(&app, parcel, &op, "stored").await;
    let (status, head, body) = app
        .get_bytes(&format!("/api/v1/attachments/{id}/download"), &op)
        .await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(body, PDF);
    let head = head.to_lowercase();
    assert!(
        head.contains("content-disposition: attachment; filename=\"factura.pdf\""),
        "{head}"
    );
    assert!(head.contains("content-type: application/pdf"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");

    // Staff of another branch see nothing of it; the parcel's branches and
    // admins do.
    let list = format!("/api/v1/parcels/{parcel}/attachments");
    for path in [
        list.clone(),
        format!("/api/v1/attachments/{id}/download"),
        format!("/api/v1/attachments/{id}/thumbnail"),
    ] {
        let r = app.get(&path, Some(&stranger)).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(r.json()["detail"].is_string(), "{}", r.body);
    }
    let r = upload(
        &app,
        parcel,
        &stranger,
        &form(&[("file", Some("x.pdf"), Some("application/pdf"), PDF)]),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    for who in [&courier, &admin] {
        assert_eq!(app.get(&list, Some(who)).await.status, 200);
    }

    // At most 20 attachments a parcel: the 21st is a 409, nothing kept.
    for i in 1..20 {
        let name = format!("recibo{i}.pdf");
        let r = upload(
            &app,
            parcel,
            &courier,
            &form(&[("file", Some(&name), Some("application/pdf"), PDF)]),
        )
        .await;
        assert_eq!(r.status, 202, "upload {i}: {}", r.body);
    }
    let r = upload(
        &app,
        parcel,
        &op,
        &form(&[(
            "file",
            Some("one-too-many.pdf"),
            Some("application/pdf"),
            PDF,
        )]),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("20"),
        "{}",
        r.body
    );

    // The list comes a page at a time, oldest first.
    let page = app
        .get(&format!("{list}?page_size=8&page=3"), Some(&op))
        .await
        .json();
    assert_eq!(page["total"], 20, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 4, "{page}");
    assert_eq!(page["items"][3]["filename"], "recibo19.pdf", "{page}");
    let first = app.get(&list, Some(&op)).await.json();
    assert_eq!(first["items"][0]["id"], id, "{first}");
    for bad in ["page_size=0", "page_size=101", "page=0"] {
        let r = app.get(&format!("{list}?{bad}"), Some(&op)).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
        assert_eq!(r.json()["detail"][0]["loc"][0], "query", "{}", r.body);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_named_safely_bounded_and_seen_by_their_branches_on_sqlite() {
    let (app, branches) = app_with_staff_and(&[]).await;
    attachments_are_named_safely_bounded_and_seen_by_their_branches(app, branches).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_named_safely_bounded_and_seen_by_their_branches_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, branches) = app_with_staff_and(&[("DATABASE_URL", pg.url.clone())]).await;
    attachments_are_named_safely_bounded_and_seen_by_their_branches(app, branches).await;
    pg.drop_now().await;
}
