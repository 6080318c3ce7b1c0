//! `file.store` and `file.thumbnail`: uploads moved into storage and
//! thumbnails of parcel photos.
//!
//! `file.store` moves an upload (`uploads/<uuid>`, put there by the app) to
//! `attachments/<parcel>/<attachment>/<name>` and marks the attachment
//! stored; for a photo it then enqueues `file.thumbnail`, which decodes the
//! photo on the blocking pool (never on the async threads), scales it to fit
//! 320×320 and stores a JPEG beside it (stored → processed).
//!
//! Both are idempotent on the attachment row: a redelivered job finds the
//! row already moved on and does nothing, and a move interrupted between the
//! storage and the row is finished by the next attempt. A failure that
//! retrying cannot fix (a photo that does not decode, an upload that is
//! gone) marks the attachment failed with the reason and sends the job to
//! the dead set with it.

use std::io::Cursor;
use std::sync::Arc;

use image::{ImageReader, Limits};
use paqueteria_core::files::StorageError;
use paqueteria_core::jobs::{Job, MakeThumbnail, StoreFile};
use paqueteria_core::store::{Attachment, StoreError};
use serde_json::json;

use super::{Handlers, JobContext, JobError, JobResult, Services, storage_error};

/// Thumbnails fit in a square of this many pixels.
pub const THUMB_SIZE: u32 = 320;
/// JPEG quality of thumbnails.
const THUMB_QUALITY: u8 = 80;
/// The largest photo decoded, in pixels a side, and the memory a decode may
/// take: a decompression bomb fails instead of taking the worker down.
const MAX_SIDE: u32 = 12_000;
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Registers this family's handlers.
pub fn register(h: &mut Handlers, services: &Arc<Services>) -> anyhow::Result<()> {
    let s = services.clone();
    h.register::<StoreFile, _, _>(move |ctx, job| {
        let s = s.clone();
        async move {
            let last = ctx.attempt >= StoreFile::policy().retry.max_attempts;
            let id = job.attachment_id;
            settle(&s, id, store_file(&s, &ctx, id).await, last).await
        }
    });
    let s = services.clone();
    h.register::<MakeThumbnail, _, _>(move |ctx, job| {
        let s = s.clone();
        async move {
            let last = ctx.attempt >= MakeThumbnail::policy().retry.max_attempts;
            let id = job.attachment_id;
            settle(&s, id, thumbnail(&s, &ctx, id).await, last).await
        }
    });
    Ok(())
}

/// Where an attachment lives once stored.
pub fn attachment_key(a: &Attachment) -> String {
    format!("attachments/{}/{}/{}", a.parcel_id, a.id, a.filename)
}

/// Where its thumbnail lives.
pub fn thumb_key(a: &Attachment) -> String {
    format!("attachments/{}/{}/thumb.jpg", a.parcel_id, a.id)
}

fn store_error(e: StoreError) -> JobError {
    match e {
        StoreError::Database(_) => JobError::retry(e),
        other => JobError::abort(other),
    }
}

/// A failure that will not pass (or the last attempt's) marks the
/// attachment failed with the reason before the job dies with it.
async fn settle(s: &Services, id: i64, result: JobResult, last: bool) -> JobResult {
    match result {
        Err(JobError::Retry(reason)) if !last => Err(JobError::Retry(reason)),
        Err(JobError::Retry(reason) | JobError::Abort(reason)) => {
            tracing::warn!(attachment_id = id, %reason, "attachment failed");
            if let Err(e) = s.store.fail_attachment(id, &reason).await {
                tracing::error!(attachment_id = id, error = %e, "cannot mark the attachment failed");
            }
            Err(JobError::Abort(reason))
        }
        ok => ok,
    }
}

async fn store_file(s: &Services, ctx: &JobContext, id: i64) -> JobResult {
    let a = s.store.attachment(id).await.map_err(store_error)?;
    if a.state != "pending" {
        // A redelivery after the row moved on: make sure a photo's
        // thumbnail was asked for (its job id is the attachment's, so a
        // second enqueue is a no-op), and stop.
        if a.state == "stored" && a.kind == "photo" {
            enqueue_thumbnail(s, ctx, id).await?;
        }
        return Ok(Some(
            json!({ "skipped": format!("attachment is {}", a.state) }),
        ));
    }
    let Some(upload) = a.upload_key.clone() else {
        return Err(JobError::abort("the attachment has no upload to store"));
    };
    let dest = attachment_key(&a);
    match s.storage.rename(&upload, &dest).await {
        Ok(()) => {}
        // An attempt that moved the file and stopped before the row: the
        // file is already in place.
        Err(StorageError::NotFound(_)) if matches!(s.storage.head(&dest).await, Ok(Some(_))) => {}
        Err(StorageError::NotFound(_)) => {
            return Err(JobError::abort(format!(
                "the upload {upload} is gone (removed by the clean-up?)"
            )));
        }
        Err(e) => return Err(storage_error("cannot store the upload", e)),
    }
    s.store
        .mark_attachment_stored(id, &dest)
        .await
        .map_err(store_error)?;
    if a.kind == "photo" {
        enqueue_thumbnail(s, ctx, id).await?;
    }
    tracing::info!(job_id = %ctx.id, attachment_id = id, key = %dest, bytes = a.size_bytes, "attachment stored");
    Ok(Some(json!({ "key": dest, "bytes": a.size_bytes })))
}

async fn enqueue_thumbnail(s: &Services, ctx: &JobContext, id: i64) -> Result<(), JobError> {
    s.client
        .enqueue_next(&MakeThumbnail { attachment_id: id }, ctx)
        .await
        .map(|_| ())
        .map_err(|e| JobError::retry(format!("cannot enqueue file.thumbnail: {e}")))
}

async fn thumbnail(s: &Services, ctx: &JobContext, id: i64) -> JobResult {
    let a = s.store.attachment(id).await.map_err(store_error)?;
    match a.state.as_str() {
        "stored" => {}
        "processed" => return Ok(Some(json!({ "skipped": "already processed" }))),
        other => return Ok(Some(json!({ "skipped": format!("attachment is {other}") }))),
    }
    let bytes = s.storage.get(&a.storage_key).await.map_err(|e| match e {
        StorageError::NotFound(_) => {
            JobError::abort(format!("the stored photo {} is gone", a.storage_key))
        }
        e => storage_error("cannot read the photo", e),
    })?;
    let (thumb, width, height) = tokio::task::spawn_blocking(move || make_thumbnail(&bytes))
        .await
        .map_err(|e| JobError::retry(format!("thumbnail task: {e}")))?
        .map_err(JobError::Abort)?;
    let key = thumb_key(&a);
    s.storage
        .put_bytes(&key, thumb, "image/jpeg")
        .await
        .map_err(|e| storage_error("cannot store the thumbnail", e))?;
    s.store
        .mark_attachment_processed(id, &key)
        .await
        .map_err(store_error)?;
    tracing::info!(job_id = %ctx.id, attachment_id = id, %key, width, height, "thumbnail made");
    Ok(Some(
        json!({ "key": key, "width": width, "height": height }),
    ))
}

/// Decodes a photo (format from its bytes, within the limits) and encodes a
/// JPEG that fits in [`THUMB_SIZE`] a side, keeping the aspect ratio. The
/// error says why the photo cannot be read.
pub fn make_thumbnail(bytes: &[u8]) -> Result<(Vec<u8>, u32, u32), String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read the photo: {e}"))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| format!("the photo cannot be decoded: {e}"))?;
    let thumb = image.thumbnail(THUMB_SIZE, THUMB_SIZE).into_rgb8();
    let (width, height) = thumb.dimensions();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, THUMB_QUALITY)
        .encode_image(&thumb)
        .map_err(|e| format!("cannot encode the thumbnail: {e}"))?;
    Ok((out, width, height))
}
