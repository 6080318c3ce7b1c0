//! Reports through the API: asked for, built by the in-process worker,
//! followed to the end and downloaded; the PDF's text lists the parcels.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use paqueteria_testkit::eventually;

use crate::common::{TestApp, app_with_staff, parcel_body, token};
use serde_json::json;

/// Polls the report until it is done (fails on `failed` or after 30 s).
async fn wait_done(app: &TestApp, id: i64, token: &str) -> serde_json::Value {
    eventually(
        Duration::from_secs(30),
        "the report to be done",
        || async move {
            let r = app
                .get(&format!("/api/v1/reports/{id}"), Some(token))
                .await
                .json();
            assert!(r["state"] != "failed", "{r}");
            (r["state"] == "done").then_some(r)
        },
    )
    .await
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn pdf_text(pdf: &[u8]) -> String {
    let mut child = Command::new("pdftotext")
        .args(["-layout", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pdftotext (scripts/test installs poppler-utils)");
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_report_is_built_and_downloaded() {
    let (app, branches) = app_with_staff().await;
    let op = token(&app, "operator@example.com").await;
    let admin = token(&app, "admin@example.com").await;
    let mut codes = Vec::new();
    for _ in 0..3 {
        let r = app
            .post_json("/api/v1/parcels", Some(&op), &parcel_body(&branches))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        codes.push(r.json()["tracking_code"].as_str().unwrap().to_owned());
    }
    let r = app
        .post_json(
            "/api/v1/reports",
            Some(&admin),
            &json!({"kind": "pdf", "branch_id": branches[1]}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let done = wait_done(&app, id, &admin).await;
    assert_eq!(done["progress"], 100);
    assert_eq!(done["file_key"], format!("reports/{id}.pdf"));

    let (status, head, body) = app
        .get_bytes(&format!("/api/v1/reports/{id}/download"), &admin)
        .await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(header(&head, "content-type"), Some("application/pdf"));
    assert_eq!(
        header(&head, "content-disposition"),
        Some(format!("attachment; filename=\"reporte-{id}.pdf\"").as_str())
    );
    assert_eq!(
        header(&head, "content-length"),
        Some(body.len().to_string().as_str())
    );
    assert!(body.starts_with(b"%PDF"));
    let text = pdf_text(&body);
    for code in &codes {
        assert!(text.contains(code.as_str()), "{code} missing in\n{text}");
    }
    assert!(text.contains("Total: 3 envíos"), "{text}");
    assert!(text.contains("Sede Medellín Norte"), "{text}");
    assert!(text.contains("Página 1 de 1"), "{text}");

    // The requester's email (kept in the outbox: no SMTP server is set)
    // carries the download link.
    let link = format!("/api/v1/reports/{id}/download");
    eventually(
        Duration::from_secs(30),
        "the report email in the outbox",
        || async {
            let outbox = app
                .get("/api/v1/outbox?channel=email", Some(&admin))
                .await
                .json();
            outbox.as_array().unwrap().iter().any(|m| {
                m["recipient"] == "admin@example.com"
                    && m["text_body"].as_str().unwrap_or("").contains(&link)
            })
        },
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_downloads_as_excel_and_unfinished_or_missing_reports_do_not() {
    let (app, branches) = app_with_staff().await;
    let op = token(&app, "operator@example.com").await;
    let admin = token(&app, "admin@example.com").await;
    let r = app
        .post_json("/api/v1/parcels", Some(&op), &parcel_body(&branches))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .post_json("/api/v1/reports", Some(&admin), &json!({"kind": "xlsx"}))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    wait_done(&app, id, &admin).await;
    let (status, head, body) = app
        .get_bytes(&format!("/api/v1/reports/{id}/download"), &admin)
        .await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    assert!(
        head.contains(&format!("filename=\"reporte-{id}.xlsx\"")),
        "{head}"
    );
    assert!(body.starts_with(b"PK\x03\x04"), "an xlsx is a zip");

    // A report no job has finished: 409.
    let pending = app
        .store
        .create_report("pdf", &json!({}), None)
        .await
        .unwrap();
    let (status, _, body) = app
        .get_bytes(&format!("/api/v1/reports/{}/download", pending.id), &admin)
        .await;
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    // Unknown: 404. Done, but its file deleted by hand: 404 too.
    let (status, _, _) = app
        .get_bytes("/api/v1/reports/999999/download", &admin)
        .await;
    assert_eq!(status, 404);
    std::fs::remove_file(
        app.data_dir
            .join("files")
            .join(format!("reports/{id}.xlsx")),
    )
    .unwrap();
    let (status, _, _) = app
        .get_bytes(&format!("/api/v1/reports/{id}/download"), &admin)
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

/// With the job system down, asking for a report answers 503 with a
/// Retry-After and leaves nothing behind (no report waiting "pending" for a
/// job that was never queued).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_asked_for_while_the_job_system_is_down_is_a_503_and_leaves_nothing() {
    let (app, _) =
        crate::common::app_with_staff_and(&[("REDIS_URL", "redis://127.0.0.1:1/0".to_owned())])
            .await;
    let admin = token(&app, "admin@example.com").await;
    let r = app
        .post_json("/api/v1/reports", Some(&admin), &json!({"kind": "pdf"}))
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after").as_deref(), Some("5"));
    assert!(r.json()["detail"].as_str().unwrap().contains("unavailable"));
    assert!(
        matches!(
            app.store.report(1).await,
            Err(paqueteria_core::store::StoreError::NotFound(_))
        ),
        "the report row is gone"
    );
    app.stop().await;
}
