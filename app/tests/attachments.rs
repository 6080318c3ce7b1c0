//! Attachments through the API: a photo uploaded as a multipart form is
//! stored and thumbnailed by the in-process worker, then downloaded; bad
//! uploads get 422 or 413 and leave nothing behind. With S3 settings the
//! downloads are presigned links that the S3 server honours.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Cursor;
use std::time::{Duration, Instant};

use common::{TestApp, app_with_staff, app_with_staff_and, parcel_body, token};
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

async fn upload(app: &TestApp, parcel: i64, token: &str, body: &[u8]) -> common::Reply {
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
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = app
            .get(
                &format!("/api/v1/parcels/{parcel}/attachments"),
                Some(token),
            )
            .await
            .json();
        let first = list[0].clone();
        if first["state"] == state {
            return first;
        }
        assert!(Instant::now() < deadline, "attachment still {first}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_is_uploaded_stored_thumbnailed_and_downloaded() {
    let (app, branches) = app_with_staff().await;
    let op = token(&app, "operator@example.com").await;
    let courier = token(&app, "courier@example.com").await;
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
    let op = token(&app, "operator@example.com").await;
    let parcel = new_parcel(&app, &branches, &op).await;
    let loc = |r: &common::Reply| r.json()["detail"][0]["loc"].clone();

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
    assert_eq!(list, serde_json::json!([]));
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
    let endpoint = std::env::var("TEST_S3_ENDPOINT")
        .expect("TEST_S3_ENDPOINT is not set: run scripts/test, which starts SeaweedFS");
    let bucket = format!("paq-test-{}", uuid::Uuid::now_v7().simple());
    let vars = [
        ("S3_BUCKET", bucket),
        ("S3_ENDPOINT", endpoint),
        (
            "S3_ACCESS_KEY_ID",
            std::env::var("TEST_S3_ACCESS_KEY").unwrap(),
        ),
        (
            "S3_SECRET_ACCESS_KEY",
            std::env::var("TEST_S3_SECRET_KEY").unwrap(),
        ),
        ("S3_PRESIGN_TTL", "2m".to_owned()),
    ];
    let map: std::collections::HashMap<&str, String> = vars.iter().cloned().collect();
    let settings =
        paqueteria_core::settings::Settings::from_lookup(|k| map.get(k).cloned()).unwrap();
    let paqueteria_core::settings::FilesSettings::S3(s3) = &settings.transports.files else {
        panic!("S3 settings expected");
    };
    paqueteria_core::storage::s3::S3Storage::connect(s3)
        .await
        .unwrap()
        .ensure_bucket()
        .await
        .unwrap();
    let (app, branches) = app_with_staff_and(&vars).await;
    let op = token(&app, "operator@example.com").await;
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
