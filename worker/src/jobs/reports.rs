//! `report.pdf`, `report.xlsx` and `report.store`: the parcels of a date
//! range, branch and status, rendered, stored, and the requester told.
//!
//! | job | queue | attempts | time limit | idempotency key |
//! |---|---|---|---|---|
//! | `report.pdf`, `report.xlsx` | reports | 3, from 10 s doubling to 5 min | 10 min | the report id |
//! | `report.store` | reports | 4, from 5 s doubling to 2 min | 2 min | the report id |
//!
//! A chain of two jobs, each step enqueuing the next rather than awaiting
//! it:
//! 1. `report.pdf` / `report.xlsx` marks the report running, reads its rows
//!    from the store in keyset pages of 1,000 and hands them over a bounded
//!    channel to the renderer on the blocking pool, which writes a temp
//!    file as it goes (memory stays bounded whatever the size). Progress
//!    (5–90 %) follows the rows drawn, written at most every 5 points. The
//!    file is uploaded to `tmp/reports/<id>.<ext>` (95 %) and
//!    `report.store` is enqueued.
//! 2. `report.store` moves the file to `reports/<id>.<ext>`, marks the
//!    report done with its key and size, and writes a `report_ready` email
//!    to the requester with the download link, relayed to `email.send` at
//!    once.
//!
//! Compensation: when a step fails for good (a permanent error, or any
//! error on its last attempt), the partial files under both keys are
//! deleted, the report is marked failed with the reason, and the requester
//! gets a `report_failed` email. Every step may run again: a done report is
//! not rebuilt, a file already moved is not moved twice, and each email is
//! written once per report (its dedupe key).

use std::sync::Arc;

use paqueteria_core::files::StorageError;
use paqueteria_core::jobs::{GenerateReportPdf, GenerateReportXlsx, Job, StoreReport};
use paqueteria_core::store::{Report, Store, StoreError};
use serde_json::json;

use super::{Handlers, JobContext, JobError, JobResult, Services, storage_error};
use crate::report::{self, Format, Heading, WriteError, local_date, status_label};

/// Progress is written when it moved this many points.
const PROGRESS_STEP: i64 = 5;

/// Registers the report chain.
pub fn register(h: &mut Handlers, services: &Arc<Services>) -> anyhow::Result<()> {
    let s = services.clone();
    h.register::<GenerateReportPdf, _, _>(move |ctx, job| {
        let s = s.clone();
        async move {
            let last = ctx.attempt >= GenerateReportPdf::policy().retry.max_attempts;
            generate(&s, &ctx, job.report_id, Format::Pdf, last).await
        }
    });
    let s = services.clone();
    h.register::<GenerateReportXlsx, _, _>(move |ctx, job| {
        let s = s.clone();
        async move {
            let last = ctx.attempt >= GenerateReportXlsx::policy().retry.max_attempts;
            generate(&s, &ctx, job.report_id, Format::Xlsx, last).await
        }
    });
    let s = services.clone();
    h.register::<StoreReport, _, _>(move |ctx, job| {
        let s = s.clone();
        async move {
            let last = ctx.attempt >= StoreReport::policy().retry.max_attempts;
            store_step(&s, &ctx, job.report_id, last).await
        }
    });
    Ok(())
}

fn tmp_key(r: &Report) -> String {
    format!("tmp/reports/{}.{}", r.id, r.kind)
}

fn final_key(r: &Report) -> String {
    format!("reports/{}.{}", r.id, r.kind)
}

fn store_error(e: StoreError) -> JobError {
    match e {
        StoreError::NotFound(_) => JobError::abort(e),
        other => JobError::retry(other),
    }
}

/// The report row, or why the job cannot go on (nothing to compensate).
async fn load(s: &Services, id: i64) -> Result<Report, JobError> {
    s.store.report(id).await.map_err(|e| match e {
        StoreError::NotFound(_) => JobError::abort(format!("report {id} does not exist")),
        other => JobError::retry(other),
    })
}

/// Decides what a failed step becomes: retried while attempts remain and
/// it may pass; else the chain is compensated and the job dies with the
/// reason.
async fn settle(s: &Services, r: &Report, e: JobError, last: bool) -> JobResult {
    match e {
        JobError::Snooze(d) => Err(JobError::Snooze(d)),
        JobError::Retry(reason) if !last => Err(JobError::Retry(reason)),
        JobError::Retry(reason) | JobError::Abort(reason) => {
            compensate(s, r, &reason).await;
            Err(JobError::Abort(reason))
        }
    }
}

async fn compensate(s: &Services, r: &Report, reason: &str) {
    tracing::warn!(report_id = r.id, %reason, "report failed for good; removing its files");
    for key in [tmp_key(r), final_key(r)] {
        match s.storage.delete(&key).await {
            Ok(true) => tracing::info!(report_id = r.id, %key, "removed a partial report file"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(report_id = r.id, %key, error = %e, "cannot remove a partial report file; the temp clean-up will")
            }
        }
    }
    if let Err(e) = s.store.fail_report(r.id, reason).await {
        tracing::error!(report_id = r.id, error = %e, "cannot mark the report failed");
    }
    let told = tell(
        s,
        r,
        "report_failed",
        &format!("No pudimos generar el reporte {}", r.id),
        json!({ "reason": reason }),
    )
    .await;
    if let Err(e) = told {
        tracing::error!(report_id = r.id, error = %e, "cannot tell the requester the report failed");
    }
}

/// Writes an email to the requester (once per report and template) and
/// relays it to `email.send` at once; the app's relay would pick it up
/// later otherwise.
async fn tell(
    s: &Services,
    r: &Report,
    template: &str,
    subject: &str,
    extra: serde_json::Value,
) -> Result<(), StoreError> {
    let Some(user) = r.requested_by else {
        return Ok(());
    };
    let mut context = json!({ "report_id": r.id, "kind": r.kind });
    if let (Some(map), serde_json::Value::Object(more)) = (context.as_object_mut(), extra) {
        map.extend(more);
    }
    let key = Store::report_notification_key(r.id, template);
    let id = s
        .store
        .notify_user(user, template, subject, &context, &key)
        .await?;
    if id.is_none() {
        tracing::warn!(
            report_id = r.id,
            user,
            "the requester is gone; nobody to tell"
        );
        return Ok(());
    }
    if let Err(e) = s.store.relay_outbox(s.client.broker().as_ref(), 10).await {
        tracing::warn!(report_id = r.id, error = %e, "notification left for the outbox relay");
    }
    Ok(())
}

/// The filters in words: `Del 2026-03-01 al 2026-03-31 · Sede Bogotá
/// Centro · Estado Entregado`.
async fn describe(s: &Services, filters: &serde_json::Value) -> String {
    let tz = s.settings.time_zone;
    let day = |k: &str| filters[k].as_i64().map(|ms| local_date(ms, tz));
    let mut parts = vec![match (day("from_ms"), day("to_ms")) {
        (Some(a), Some(b)) => format!("Del {a} al {b}"),
        (Some(a), None) => format!("Desde el {a}"),
        (None, Some(b)) => format!("Hasta el {b}"),
        (None, None) => "Todas las fechas".to_owned(),
    }];
    if let Some(b) = filters["branch_id"].as_i64() {
        match s.store.branch(b).await {
            Ok(branch) => parts.push(format!("Sede {}", branch.name)),
            Err(_) => parts.push(format!("Sede {b}")),
        }
    }
    if let Some(st) = filters["status"].as_str() {
        parts.push(format!("Estado {}", status_label(st)));
    }
    parts.join(" · ")
}

async fn generate(
    s: &Services,
    ctx: &JobContext,
    id: i64,
    format: Format,
    last: bool,
) -> JobResult {
    let r = load(s, id).await?;
    if r.kind != format.ext() {
        return Err(JobError::abort(format!(
            "report {id} is a {} report, not {}",
            r.kind,
            format.ext()
        )));
    }
    if r.state == "done" {
        return Ok(Some(json!({ "skipped": "already done" })));
    }
    match build(s, ctx, &r, format).await {
        Ok(v) => Ok(v),
        Err(e) => settle(s, &r, e, last).await,
    }
}

async fn build(s: &Services, ctx: &JobContext, r: &Report, format: Format) -> JobResult {
    let id = r.id;
    let started = std::time::Instant::now();
    s.store.start_report(id).await.map_err(store_error)?;
    let expected = s
        .store
        .report_totals(&r.filters)
        .await
        .map_err(store_error)?
        .count;
    let heading = Heading {
        title: format!("Reporte de envíos #{id}"),
        filters: describe(s, &r.filters).await,
        generated_at_ms: s.clock.now_ms(),
        tz: s.settings.time_zone,
    };
    let file = tempfile::NamedTempFile::new().map_err(JobError::retry)?;
    let mut shown = 0;
    let store = &s.store;
    let progress = |drawn: usize| {
        let drawn = i64::try_from(drawn).unwrap_or(i64::MAX);
        let pct = (5 + drawn.saturating_mul(85) / expected.max(1)).min(90);
        let moved = pct >= shown + PROGRESS_STEP;
        if moved {
            shown = pct;
        }
        async move {
            if !moved {
                return;
            }
            if let Err(e) = store.report_progress(id, pct).await {
                tracing::warn!(report_id = id, error = %e, "cannot record the report's progress");
            }
        }
    };
    let summary = report::write(&s.store, &r.filters, heading, format, file.path(), progress)
        .await
        .map_err(|e| match e {
            WriteError::Store(e) => store_error(e),
            WriteError::File(_) => JobError::retry(e),
            WriteError::Renderer(_) => JobError::abort(e),
        })?;

    let key = tmp_key(r);
    let content_type = paqueteria_core::domain::report::download_name(id, &r.kind).1;
    s.storage
        .put_file(&key, file.path(), content_type)
        .await
        .map_err(|e| storage_error("cannot upload the report", e))?;
    let bytes = std::fs::metadata(file.path()).map(|m| m.len()).unwrap_or(0);
    drop(file);
    s.store.report_progress(id, 95).await.map_err(store_error)?;
    s.client
        .enqueue_next(&StoreReport { report_id: id }, ctx)
        .await
        .map_err(|e| JobError::retry(format!("cannot enqueue report.store: {e}")))?;
    tracing::info!(
        job_id = %ctx.id, report_id = id, rows = summary.rows, pages = summary.pages, bytes,
        ms = started.elapsed().as_millis() as u64, "report generated"
    );
    Ok(Some(json!({
        "rows": summary.rows, "pages": summary.pages, "bytes": bytes, "tmp_key": key,
    })))
}

async fn store_step(s: &Services, ctx: &JobContext, id: i64, last: bool) -> JobResult {
    let r = load(s, id).await?;
    match r.state.as_str() {
        "failed" => {
            return Ok(Some(
                json!({ "skipped": "the report failed; it must be asked for again" }),
            ));
        }
        "done" => {
            // A run after the report was marked done: the email may not
            // have been written yet.
            notify_ready(s, &r).await?;
            return Ok(Some(json!({ "skipped": "already done" })));
        }
        _ => {}
    }
    let (key, size) = match place(s, &r).await {
        Ok(placed) => placed,
        Err(e) => return settle(s, &r, e, last).await,
    };
    notify_ready(s, &r).await?;
    tracing::info!(job_id = %ctx.id, report_id = id, %key, bytes = size, "report stored");
    Ok(Some(json!({ "key": key, "bytes": size })))
}

/// Moves the file to its place and marks the report done.
async fn place(s: &Services, r: &Report) -> Result<(String, i64), JobError> {
    let (tmp, dest) = (tmp_key(r), final_key(r));
    match s.storage.rename(&tmp, &dest).await {
        Ok(()) => {}
        // A run after the move: the file is already in place.
        Err(StorageError::NotFound(_)) if matches!(s.storage.head(&dest).await, Ok(Some(_))) => {}
        Err(e) => return Err(storage_error("cannot store the report", e)),
    }
    let size = match s.storage.head(&dest).await {
        Ok(Some(info)) => i64::try_from(info.size).unwrap_or(i64::MAX),
        Ok(None) => return Err(JobError::abort("the stored report vanished")),
        Err(e) => return Err(storage_error("cannot check the stored report", e)),
    };
    s.store
        .finish_report(r.id, &dest, size)
        .await
        .map_err(store_error)?;
    Ok((dest, size))
}

async fn notify_ready(s: &Services, r: &Report) -> Result<(), JobError> {
    let url = format!(
        "{}/api/v1/reports/{}/download",
        s.settings.transports.public_url.trim_end_matches('/'),
        r.id
    );
    tell(
        s,
        r,
        "report_ready",
        &format!("Su reporte {} está listo", r.id),
        json!({ "download_url": url }),
    )
    .await
    .map_err(|e| JobError::retry(format!("cannot write the report-ready email: {e}")))
}
