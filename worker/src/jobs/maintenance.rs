//! `maintenance.*`: clean-ups, the dashboard cache, daily pickup reminders
//! and the expiry of stale registrations.
//!
//! Each job works in bounded batches and stops after a fixed amount of work
//! per run (the next scheduled run goes on), so one run never holds the
//! store or the storage for long. Each logs what it deleted or wrote and
//! returns the counts as its result.
//!
//! A file that is already gone when a clean-up deletes it (someone removed
//! the object by hand) is skipped with a warning; one storage error skips
//! that item and the run goes on. The run fails only when the store fails.

use std::sync::Arc;
use std::time::Duration;

use paqueteria_core::calendar::local_day;
use paqueteria_core::domain::{ParcelEvent, Role};
use paqueteria_core::jobs::{
    CleanupReports, CleanupTmp, ExpireRegistrations, RefreshDashboard, SendDailyReminders,
};
use paqueteria_core::store::{Actor, Handover, StoreError};
use serde_json::json;

use super::{Handlers, JobContext, JobError, JobResult, Services};

/// Rows or objects handled per batch.
const BATCH: i64 = 200;
/// Batches per run at most.
const MAX_BATCHES: usize = 50;
/// Registrations never handed in are cancelled after this many days.
const REGISTRATION_DAYS: u32 = 15;

/// Registers this family's handlers.
pub fn register(h: &mut Handlers, services: &Arc<Services>) -> anyhow::Result<()> {
    let s = services.clone();
    h.register::<CleanupReports, _, _>(move |ctx, job| cleanup_reports(s.clone(), ctx, job));
    let s = services.clone();
    h.register::<CleanupTmp, _, _>(move |ctx, job| cleanup_tmp(s.clone(), ctx, job));
    let s = services.clone();
    h.register::<RefreshDashboard, _, _>(move |ctx, _| refresh_dashboard(s.clone(), ctx));
    let s = services.clone();
    h.register::<SendDailyReminders, _, _>(move |ctx, job| daily_reminders(s.clone(), ctx, job));
    let s = services.clone();
    h.register::<ExpireRegistrations, _, _>(move |ctx, job| {
        expire_registrations(s.clone(), ctx, job)
    });
    Ok(())
}

fn store_error(e: StoreError) -> JobError {
    match e {
        StoreError::Database(_) => JobError::retry(e),
        other => JobError::abort(other),
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

async fn cleanup_reports(s: Arc<Services>, ctx: JobContext, job: CleanupReports) -> JobResult {
    let retention = job
        .older_than_days
        .map_or(s.settings.transports.report_retention, |d| {
            Duration::from_secs(u64::from(d) * 86_400)
        });
    let before = s.clock.now_ms().saturating_sub(ms(retention));
    let (mut deleted, mut missing, mut failed) = (0u64, 0u64, 0u64);
    let mut skip = std::collections::HashSet::new();
    for _ in 0..MAX_BATCHES {
        let batch = s
            .store
            .expired_reports(before, BATCH + i64::try_from(skip.len()).unwrap_or(0))
            .await
            .map_err(store_error)?;
        let batch: Vec<_> = batch
            .into_iter()
            .filter(|r| !skip.contains(&r.id))
            .collect();
        if batch.is_empty() {
            break;
        }
        for report in batch {
            if let Some(key) = &report.file_key {
                match s.storage.delete(key).await {
                    Ok(true) => {}
                    Ok(false) => {
                        missing += 1;
                        tracing::warn!(job_id = %ctx.id, report_id = report.id, key = %key,
                            "report file already gone; removing the report anyway");
                    }
                    Err(e) => {
                        failed += 1;
                        skip.insert(report.id);
                        tracing::warn!(job_id = %ctx.id, report_id = report.id, key = %key, error = %e,
                            "cannot delete a report file; keeping the report for the next run");
                        continue;
                    }
                }
            }
            s.store
                .delete_report(report.id)
                .await
                .map_err(store_error)?;
            deleted += 1;
            tracing::info!(job_id = %ctx.id, report_id = report.id, key = ?report.file_key, "deleted an expired report");
        }
    }
    tracing::info!(job_id = %ctx.id, deleted, missing, failed, "report clean-up done");
    Ok(Some(
        json!({ "deleted": deleted, "missing_files": missing, "failed": failed }),
    ))
}

async fn cleanup_tmp(s: Arc<Services>, ctx: JobContext, job: CleanupTmp) -> JobResult {
    let bound = job
        .older_than_hours
        .map_or(s.settings.transports.temp_retention, |h| {
            Duration::from_secs(u64::from(h) * 3_600)
        });
    let before = s.clock.now_ms().saturating_sub(ms(bound));
    let (mut deleted, mut failed) = (0u64, 0u64);
    for prefix in ["uploads/", "tmp/"] {
        let mut after: Option<String> = None;
        for _ in 0..MAX_BATCHES {
            let page = s
                .storage
                .list(
                    prefix,
                    after.as_deref(),
                    usize::try_from(BATCH).unwrap_or(200),
                )
                .await
                .map_err(|e| {
                    if e.is_transient() {
                        JobError::retry(e)
                    } else {
                        JobError::abort(e)
                    }
                })?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for object in page.iter().filter(|o| o.modified_ms < before) {
                match s.storage.delete(&object.key).await {
                    Ok(gone) => {
                        if !gone {
                            tracing::warn!(job_id = %ctx.id, key = %object.key, "temp object already gone");
                        }
                        deleted += u64::from(gone);
                        tracing::info!(job_id = %ctx.id, key = %object.key, bytes = object.size, "deleted a temp object");
                        if prefix == "uploads/" {
                            s.store
                                .fail_pending_upload(
                                    &object.key,
                                    "the upload was not stored in time and was deleted",
                                )
                                .await
                                .map_err(store_error)?;
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        tracing::warn!(job_id = %ctx.id, key = %object.key, error = %e, "cannot delete a temp object");
                    }
                }
            }
        }
    }
    tracing::info!(job_id = %ctx.id, deleted, failed, "temp clean-up done");
    Ok(Some(json!({ "deleted": deleted, "failed": failed })))
}

async fn refresh_dashboard(s: Arc<Services>, ctx: JobContext) -> JobResult {
    let (date, day_start) = local_day(s.clock.now_ms(), s.settings.time_zone);
    let figures = s
        .store
        .compute_dashboard(day_start)
        .await
        .map_err(store_error)?;
    s.store
        .save_dashboard(&figures)
        .await
        .map_err(store_error)?;
    tracing::info!(job_id = %ctx.id, %date, "dashboard refreshed");
    Ok(Some(
        json!({ "date": date, "computed_at_ms": figures.computed_at_ms }),
    ))
}

async fn daily_reminders(s: Arc<Services>, ctx: JobContext, job: SendDailyReminders) -> JobResult {
    let (mut after, mut parcels, mut written) = (0i64, 0u64, 0u64);
    loop {
        let page = s
            .store
            .parcels_waiting_for_pickup(after, BATCH)
            .await
            .map_err(store_error)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for parcel in &page {
            parcels += 1;
            written += s
                .store
                .add_pickup_reminders(parcel, &job.date)
                .await
                .map_err(store_error)?;
        }
        relay(&s, &ctx).await;
    }
    tracing::info!(job_id = %ctx.id, date = %job.date, parcels, messages = written, "pickup reminders written");
    Ok(Some(
        json!({ "date": job.date, "parcels": parcels, "messages": written }),
    ))
}

async fn expire_registrations(
    s: Arc<Services>,
    ctx: JobContext,
    job: ExpireRegistrations,
) -> JobResult {
    let days = job.older_than_days.unwrap_or(REGISTRATION_DAYS);
    let before = s
        .clock
        .now_ms()
        .saturating_sub(i64::from(days) * 86_400_000);
    let system = Actor {
        user_id: None,
        role: Role::Admin,
        branch_id: None,
    };
    let reason = format!("never handed in within {days} days of registration");
    let event = ParcelEvent::Cancel { reason };
    let (mut cancelled, mut skipped) = (0u64, 0u64);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..MAX_BATCHES {
        let batch = s
            .store
            .stale_registrations(before, BATCH + i64::try_from(seen.len()).unwrap_or(0))
            .await
            .map_err(store_error)?;
        let batch: Vec<_> = batch
            .into_iter()
            .filter(|(id, _)| !seen.contains(id))
            .collect();
        if batch.is_empty() {
            break;
        }
        for (id, version) in batch {
            seen.insert(id);
            match s
                .store
                .apply_event(id, version, &event, &system, &Handover::NONE)
                .await
            {
                Ok(p) => {
                    cancelled += 1;
                    tracing::info!(job_id = %ctx.id, parcel = %p.tracking_code, "cancelled a registration never handed in");
                }
                // Changed while we looked (handed in at the counter, say).
                Err(StoreError::Conflict(_) | StoreError::Transition(_)) => skipped += 1,
                Err(e) => return Err(store_error(e)),
            }
        }
        relay(&s, &ctx).await;
    }
    tracing::info!(job_id = %ctx.id, cancelled, skipped, "stale registrations expired");
    Ok(Some(json!({ "cancelled": cancelled, "skipped": skipped })))
}

/// Enqueues the notifications just written; the app's relay catches up
/// on any this misses.
async fn relay(s: &Services, ctx: &JobContext) {
    if let Err(e) = s
        .store
        .relay_outbox(s.client.broker().as_ref(), 1_000)
        .await
    {
        tracing::warn!(job_id = %ctx.id, error = %e, "could not enqueue notifications now; the relay will");
    }
}
