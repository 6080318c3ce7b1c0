//! The report chain through the real runtime, on the embedded stack and on
//! the production one (PostgreSQL and Redis): the files are checked the
//! way a user would check them (pdftotext, pdfinfo and pdftoppm from
//! poppler-utils; calamine for the workbook), the report row and the
//! requester's email are read back, and when a step fails for good the
//! chain is compensated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{Env, eventually, register, setup, walk};
use async_trait::async_trait;
use calamine::{Data, Reader, Xlsx};
use paqueteria_core::domain::{Money, ParcelEvent};
use paqueteria_core::files::{
    Download, ObjectInfo, ObjectStore, SharedStorage, StorageError, StorageResult,
};
use paqueteria_core::jobs::{GenerateReportPdf, GenerateReportXlsx};
use paqueteria_core::store::{Notification, Parcel, Report, Store};
use paqueteria_worker::report::pdf::page_count;
use paqueteria_worker::report::{self, Format, Heading};
use serde_json::json;

const QUEUES: &[&str] = &["reports", "default"];

use paqueteria_testkit::supervisor as requester;

async fn parcels(s: &Store, n: u32) -> Vec<Parcel> {
    let (a, b) = setup(s).await;
    let mut out = Vec::new();
    for i in 0..n {
        out.push(register(s, a, b, i, false).await);
    }
    out
}

async fn finished(env: &Env, id: i64) -> Report {
    eventually(Duration::from_secs(60), "the report to finish", || async {
        let r = env.store().report(id).await.unwrap();
        r.state == "done" || r.state == "failed"
    })
    .await;
    env.store().report(id).await.unwrap()
}

/// Asks for a report the way the app does: the row, then its job.
/// The report's notifications, once there is one.
async fn told(s: &Store, report_id: i64) -> Vec<Notification> {
    eventually(
        Duration::from_secs(10),
        "the requester to be told",
        || async {
            let notes = s.report_notifications(report_id).await.unwrap();
            (!notes.is_empty()).then_some(notes)
        },
    )
    .await
}

/// Waits until an email to `to` whose text holds `needle` is in the outbox.
async fn emailed(env: &Env, to: &str, needle: &str) {
    eventually(
        Duration::from_secs(20),
        "the email in the outbox",
        || async {
            env.store()
                .outbox_messages(Some("email"), 10, 0)
                .await
                .unwrap()
                .iter()
                .any(|m| m.recipient == to && m.text_body.contains(needle))
        },
    )
    .await;
}

async fn request(env: &Env, kind: &str, filters: serde_json::Value, by: Option<i64>) -> Report {
    let r = env.store().create_report(kind, &filters, by).await.unwrap();
    let client = &env.services.client;
    let job = if kind == "pdf" {
        client.enqueue(&GenerateReportPdf { report_id: r.id }).await
    } else {
        client
            .enqueue(&GenerateReportXlsx { report_id: r.id })
            .await
    };
    env.store()
        .set_report_job(r.id, job.unwrap().id.as_str())
        .await
        .unwrap();
    r
}

fn stored(env: &Env, key: &str) -> PathBuf {
    env.dir.path().join("files").join(key)
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (scripts/test installs poppler-utils)"));
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn pdf_text(path: &Path) -> String {
    run("pdftotext", &["-layout", path.to_str().unwrap(), "-"])
}

fn pdf_page_text(path: &Path, page: usize) -> String {
    let n = page.to_string();
    run(
        "pdftotext",
        &["-layout", "-f", &n, "-l", &n, path.to_str().unwrap(), "-"],
    )
}

fn pdf_info(path: &Path, field: &str) -> String {
    run("pdfinfo", &[path.to_str().unwrap()])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

/// Renders page 1 at 40 dpi as a PNG and as a greyscale map; returns the
/// PNG's width and height and the share of dark pixels.
fn render_page_one(path: &Path) -> (u32, u32, f64) {
    let out = tempfile::tempdir().unwrap();
    let prefix = out.path().join("page");
    let (pdf, prefix) = (path.to_str().unwrap(), prefix.to_str().unwrap());
    let first = ["-r", "40", "-f", "1", "-l", "1", "-singlefile"];
    run(
        "pdftoppm",
        &[&["-png"], &first[..], &[pdf, prefix]].concat(),
    );
    let png = std::fs::read(format!("{prefix}.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    let (w, h) = (be(16), be(20));
    run(
        "pdftoppm",
        &[&["-gray"], &first[..], &[pdf, prefix]].concat(),
    );
    let pgm = std::fs::read(format!("{prefix}.pgm")).unwrap();
    // Binary PGM: "P5\n<w> <h>\n255\n" then one byte a pixel.
    let pixels = &pgm[pgm.len() - (w * h) as usize..];
    let dark = pixels.iter().filter(|&&p| p < 128).count();
    (w, h, dark as f64 / pixels.len() as f64)
}

async fn a_pdf_report_lists_every_parcel_with_totals_and_page_numbers(production: bool) {
    let env = Env::start(production, &[], QUEUES).await;
    let s = env.store();
    let user = requester(s).await;
    let all = parcels(s, 130).await;
    let r = request(&env, "pdf", json!({}), Some(user)).await;
    let r = finished(&env, r.id).await;
    assert_eq!((r.state.as_str(), r.progress), ("done", 100), "{r:?}");
    assert_eq!(r.file_key, Some(format!("reports/{}.pdf", r.id)));
    let path = stored(&env, r.file_key.as_deref().unwrap());
    let size = std::fs::metadata(&path).unwrap().len() as i64;
    assert_eq!(s.report_size(r.id).await.unwrap(), Some(size));
    assert!(
        !stored(&env, &format!("tmp/reports/{}.pdf", r.id)).exists(),
        "the temp file was moved, not copied"
    );

    let text = pdf_text(&path);
    assert!(text.contains(&format!("Reporte de envíos #{}", r.id)));
    assert!(text.contains("Todas las fechas"), "{text}");
    for p in &all {
        assert!(
            text.contains(p.tracking_code.as_str()),
            "{} missing",
            p.tracking_code
        );
    }
    let total: i64 = all.iter().map(|p| p.quoted_amount.minor()).sum();
    let totals = format!("Total: 130 envíos · 195,0 kg · {}", Money(total));
    assert!(text.contains(&totals), "no {totals:?} in\n{text}");

    // 130 rows take five pages, each numbered out of five.
    let pages = page_count(130);
    assert_eq!(pages, 5);
    assert_eq!(pdf_info(&path, "Pages"), pages.to_string());
    assert_eq!(
        pdf_info(&path, "Title"),
        format!("Reporte de envíos #{}", r.id)
    );
    for n in 1..=pages {
        let page = pdf_page_text(&path, n);
        assert!(
            page.contains(&format!("Página {n} de {pages}")),
            "page {n}:\n{page}"
        );
        // Column titles on every page.
        assert!(page.contains("Código") && page.contains("Valor"), "{page}");
    }
    // Rows appear in order and each once; the totals only on the last page.
    let positions: Vec<usize> = all
        .iter()
        .map(|p| text.find(p.tracking_code.as_str()).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    assert!(pdf_page_text(&path, pages).contains(&totals));
    assert!(!pdf_page_text(&path, 1).contains("Total:"));

    let (w, h, dark) = render_page_one(&path);
    assert!(w > h, "landscape: {w}x{h}");
    assert!((0.005..0.5).contains(&dark), "{dark} of page 1 is ink");

    // The requester is told, once, with a download link (just after the
    // report is marked done).
    let notes = told(s, r.id).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    let url = format!("/api/v1/reports/{}/download", r.id);
    assert_eq!(
        (notes[0].template.as_str(), notes[0].recipient.as_str()),
        ("report_ready", "jefa@example.com")
    );
    assert!(
        notes[0].context["download_url"]
            .as_str()
            .unwrap()
            .ends_with(&url)
    );
    emailed(&env, "jefa@example.com", &url).await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_report_lists_every_parcel_with_totals_and_page_numbers_embedded() {
    a_pdf_report_lists_every_parcel_with_totals_and_page_numbers(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_report_lists_every_parcel_with_totals_and_page_numbers_on_postgres_and_redis() {
    a_pdf_report_lists_every_parcel_with_totals_and_page_numbers(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_a_report_reports_progress_page_by_page() {
    let env = Env::start(false, &[], &[]).await;
    let s = env.store();
    let all = parcels(s, 2_500).await;
    for format in [Format::Pdf, Format::Xlsx] {
        let heading = Heading {
            title: "Reporte de envíos #1".to_owned(),
            filters: "Todas las fechas".to_owned(),
            generated_at_ms: env.clock.now_ms(),
            tz: chrono_tz::America::Bogota,
        };
        let path = env.dir.path().join(format!("r.{}", format.ext()));
        let mut heard = Vec::new();
        let summary = report::write(s, &json!({}), heading, format, &path, |n| {
            heard.push(n);
            async {}
        })
        .await
        .unwrap();
        assert_eq!(summary.rows, 2_500);
        if format == Format::Xlsx {
            assert_eq!(heard, vec![1_000, 2_000, 2_500]);
        } else {
            // After each full page (29 rows on the first, 33 after), then
            // all of them once the document is closed.
            assert_eq!(summary.pages, page_count(2_500));
            assert_eq!(heard.len(), summary.pages, "{heard:?}");
            assert_eq!(heard[..3], [29, 62, 95]);
            assert!(heard.windows(2).all(|w| w[0] < w[1]), "{heard:?}");
            assert_eq!(heard.last(), Some(&all.len()));
        }
    }
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_holds_only_the_parcels_its_filters_select() {
    let env = Env::start(false, &[], QUEUES).await;
    let s = env.store();
    let (bog, med) = setup(s).await;
    let early = register(s, bog, med, 1, false).await;
    env.clock.advance(Duration::from_secs(2 * 24 * 3600));
    let from = env.clock.now_ms();
    let waiting = register(s, bog, med, 2, false).await;
    let received = walk(
        s,
        register(s, bog, med, 3, false).await,
        &[ParcelEvent::Receive],
    )
    .await;
    let back = register(s, med, bog, 4, false).await;

    let filters = json!({"from_ms": from, "to_ms": null, "branch_id": med, "status": "REGISTERED"});
    let r = request(&env, "pdf", filters, None).await;
    let r = finished(&env, r.id).await;
    assert_eq!(r.state, "done", "{r:?}");
    let text = pdf_text(&stored(&env, r.file_key.as_deref().unwrap()));
    let has = |p: &Parcel| text.contains(p.tracking_code.as_str());
    assert!(has(&waiting) && has(&back), "{text}");
    assert!(!has(&early) && !has(&received), "{text}");
    assert!(text.contains("Total: 2 envíos"), "{text}");
    assert!(
        text.contains("Sede Medellín Norte") && text.contains("Estado Registrado"),
        "the heading names the filters:\n{text}"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_excel_report_has_typed_cells_and_the_same_totals() {
    let env = Env::start(false, &[], QUEUES).await;
    let s = env.store();
    let user = requester(s).await;
    let all = parcels(s, 25).await;
    let r = request(&env, "xlsx", json!({}), Some(user)).await;
    let r = finished(&env, r.id).await;
    assert_eq!((r.state.as_str(), r.progress), ("done", 100), "{r:?}");
    assert_eq!(r.file_key, Some(format!("reports/{}.xlsx", r.id)));
    let file = stored(&env, r.file_key.as_deref().unwrap());
    let mut book: Xlsx<_> = calamine::open_workbook(&file).unwrap();
    let sheet = book.worksheet_range("Envíos").unwrap();
    let rows: Vec<_> = sheet.rows().collect();
    let header = rows
        .iter()
        .position(|r| r[0] == Data::String("Código".into()))
        .unwrap();
    let body = &rows[header + 1..header + 1 + all.len()];
    for (row, p) in body.iter().zip(&all) {
        assert_eq!(row[0], Data::String(p.tracking_code.as_str().to_owned()));
        let Data::DateTime(d) = &row[1] else {
            panic!("date cell {:?}", row[1]);
        };
        assert!(d.is_datetime());
        assert_eq!(row[2], Data::String("Ana Gómez".into()));
        assert_eq!(row[4], Data::String("Bogotá Centro".into()));
        assert_eq!(row[6], Data::String("Registrado".into()));
        assert_eq!(row[7], Data::Float(1.5));
        assert_eq!(row[8], Data::Float(p.quoted_amount.minor() as f64 / 100.0));
    }
    let totals = &rows[header + 1 + all.len()];
    assert_eq!(totals[0], Data::String("Total".into()));
    assert_eq!(totals[2], Data::Float(25.0));
    assert_eq!(totals[7], Data::Float(37.5));
    let sum: i64 = all.iter().map(|p| p.quoted_amount.minor()).sum();
    assert_eq!(totals[8], Data::Float(sum as f64 / 100.0));
    // The totals are live formulas over the rows.
    let formulas = book.worksheet_formula("Envíos").unwrap();
    let at = |col: u32| {
        formulas
            .get_value((header as u32 + 1 + all.len() as u32, col))
            .cloned()
    };
    assert_eq!(at(8), Some("SUM(I6:I30)".to_owned()));
    assert_eq!(at(2), Some("COUNTA(A6:A30)".to_owned()));
    // The requester is told just after the report is marked done.
    let notes = told(s, r.id).await;
    assert_eq!(notes[0].template, "report_ready");
    env.finish().await;
}

/// Which storage call is refused for good.
#[derive(Clone, Copy, Debug)]
enum Refuse {
    Upload,
    Move,
}

/// The local storage with one call refused for good.
#[derive(Debug)]
struct Faulty(SharedStorage, Refuse);

#[async_trait]
impl ObjectStore for Faulty {
    fn describe(&self) -> String {
        self.0.describe()
    }
    async fn put_bytes(&self, key: &str, bytes: Vec<u8>, ct: &str) -> StorageResult<()> {
        self.0.put_bytes(key, bytes, ct).await
    }
    async fn put_file(&self, key: &str, path: &Path, ct: &str) -> StorageResult<()> {
        if let Refuse::Upload = self.1 {
            // A partial upload is left behind, as a failed transfer can.
            self.0
                .put_bytes(key, b"%PDF-1.4 partial".to_vec(), ct)
                .await?;
            return Err(StorageError::Permanent("quota exceeded".to_owned()));
        }
        self.0.put_file(key, path, ct).await
    }
    async fn get(&self, key: &str) -> StorageResult<Vec<u8>> {
        self.0.get(key).await
    }
    async fn head(&self, key: &str) -> StorageResult<Option<ObjectInfo>> {
        self.0.head(key).await
    }
    async fn rename(&self, from: &str, to: &str) -> StorageResult<()> {
        if let Refuse::Move = self.1 {
            return Err(StorageError::Permanent(
                "bucket policy denies the write".to_owned(),
            ));
        }
        self.0.rename(from, to).await
    }
    async fn delete(&self, key: &str) -> StorageResult<bool> {
        self.0.delete(key).await
    }
    async fn list(&self, p: &str, a: Option<&str>, l: usize) -> StorageResult<Vec<ObjectInfo>> {
        self.0.list(p, a, l).await
    }
    async fn download(&self, k: &str, f: &str, t: Duration) -> StorageResult<Download> {
        self.0.download(k, f, t).await
    }
}

/// A report whose storage refuses `refuse` for good ends failed with
/// `reason`, with no file left and the requester told.
async fn compensated(refuse: Refuse, kind: &str, reason: &str) {
    let env = Env::start_with(false, &[], QUEUES, |inner| Arc::new(Faulty(inner, refuse))).await;
    let s = env.store();
    let user = requester(s).await;
    parcels(s, 5).await;
    let r = request(&env, kind, json!({}), Some(user)).await;
    let r = finished(&env, r.id).await;
    assert_eq!(r.state, "failed", "{r:?}");
    assert!(r.error.as_deref().unwrap().contains(reason), "{r:?}");
    assert!(r.file_key.is_none());
    let storage = &env.services.storage;
    assert_eq!(storage.list("tmp/", None, 10).await.unwrap(), vec![]);
    assert_eq!(storage.list("reports/", None, 10).await.unwrap(), vec![]);
    // The report is marked failed, then the requester is told: wait for
    // the second step rather than read between the two.
    let notes = told(s, r.id).await;
    assert_eq!(
        notes
            .iter()
            .map(|n| (n.template.as_str(), n.recipient.as_str()))
            .collect::<Vec<_>>(),
        vec![("report_failed", "jefa@example.com")]
    );
    emailed(&env, "jefa@example.com", reason).await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_storing_fails_for_good_the_partial_file_goes_and_the_requester_is_told() {
    compensated(Refuse::Move, "pdf", "bucket policy denies the write").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_upload_fails_for_good_the_partial_upload_goes_and_the_requester_is_told() {
    compensated(Refuse::Upload, "xlsx", "quota exceeded").await;
}
