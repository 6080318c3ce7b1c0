//! Attachments: photos and documents of a parcel.
//!
//! `POST /api/v1/parcels/{id}/attachments` takes a multipart form (`file`,
//! and optionally `kind`), streams the file to a temp file while counting
//! its bytes (413 past `UPLOAD_MAX_BYTES`), puts it in storage under
//! `uploads/<uuid>`, records the attachment (pending) and enqueues
//! `file.store`, which moves it into place; photos then get a thumbnail
//! from `file.thumbnail`. The answer is 202 with the attachment and the job.

use std::io::Write;
use std::time::Duration;

use axum::Json;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use paqueteria_core::jobs::{Job, StoreFile};
use paqueteria_core::settings::FilesSettings;
use paqueteria_core::storage::{Download, StorageError, safe_filename};
use paqueteria_core::store::{Attachment, NewAttachment};
use serde::Serialize;

use crate::auth::{Authorized, Everyone};
use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;

/// The media types an attachment may have.
pub const ACCEPTED_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp", "application/pdf"];

/// The multipart form of an upload (documents the request body).
#[allow(dead_code)]
#[derive(utoipa::ToSchema)]
pub struct UploadForm {
    /// The file: JPEG, PNG or WebP photo, or a PDF.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `photo` or `document` (default: `photo` for images, else `document`).
    kind: Option<String>,
}

/// An accepted upload: the attachment (pending) and the job that stores it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttachmentAccepted {
    /// The attachment row.
    pub attachment: Attachment,
    /// The `file.store` job.
    pub job_id: String,
}

fn multipart_error(e: &MultipartError, limit: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(format!("the upload is larger than {limit} bytes"))
    } else {
        ApiError::field(
            "file",
            format!("not a readable multipart form: {}", e.body_text()),
        )
    }
}

/// Streams a field into a temp file; its size, or 413 past `limit`.
async fn spool(
    field: &mut Field<'_>,
    file: &mut tempfile::NamedTempFile,
    limit: u64,
) -> ApiResult<u64> {
    let mut size = 0u64;
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| multipart_error(&e, limit))?
    {
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::TooLarge(format!(
                "the upload is larger than {limit} bytes"
            )));
        }
        file.write_all(&chunk)
            .map_err(|e| ApiError::Internal(format!("spool upload: {e}")))?;
    }
    Ok(size)
}

/// Uploads a photo or document of a parcel.
#[utoipa::path(post, path = "/api/v1/parcels/{id}/attachments", tag = "parcels", params(("id" = i64, Path, description = "Parcel id")), request_body(content = UploadForm, content_type = "multipart/form-data"), responses((status = 202, description = "Accepted; the file is stored by a job", body = AttachmentAccepted), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 413, description = "Larger than UPLOAD_MAX_BYTES", body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn upload(
    State(s): State<AppState>,
    user: Authorized<Everyone>,
    Path(parcel_id): Path<i64>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<AttachmentAccepted>)> {
    let limit = s.settings.transports.upload_max_bytes;
    let mut multipart = multipart
        .map_err(|e| ApiError::field("file", format!("expected multipart/form-data: {e}")))?;
    // The parcel first: an upload for a parcel that does not exist is
    // refused before its bytes are read.
    s.store.parcel(parcel_id).await?;
    let mut kind: Option<String> = None;
    let mut upload: Option<(String, String, u64, tempfile::NamedTempFile)> = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e, limit))?
    {
        match field.name() {
            Some("file") if upload.is_none() => {
                let filename = safe_filename(field.file_name().unwrap_or("file"));
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_ascii_lowercase();
                if !ACCEPTED_TYPES.contains(&content_type.as_str()) {
                    return Err(ApiError::field(
                        "file",
                        format!(
                            "{content_type} is not accepted; send one of {}",
                            ACCEPTED_TYPES.join(", ")
                        ),
                    ));
                }
                let mut tmp = tempfile::NamedTempFile::new()
                    .map_err(|e| ApiError::Internal(format!("temp file: {e}")))?;
                let size = spool(&mut field, &mut tmp, limit).await?;
                if size == 0 {
                    return Err(ApiError::field("file", "the file is empty"));
                }
                upload = Some((filename, content_type, size, tmp));
            }
            Some("kind") => {
                let text = field.text().await.map_err(|e| multipart_error(&e, limit))?;
                kind = Some(text.trim().to_owned());
            }
            // Other fields are read and dropped.
            _ => {
                while field
                    .chunk()
                    .await
                    .map_err(|e| multipart_error(&e, limit))?
                    .is_some()
                {}
            }
        }
    }
    let Some((filename, content_type, size, tmp)) = upload else {
        return Err(ApiError::field("file", "field required"));
    };
    let kind = kind.unwrap_or_else(|| {
        if content_type.starts_with("image/") {
            "photo".to_owned()
        } else {
            "document".to_owned()
        }
    });
    if kind == "photo" && !content_type.starts_with("image/") {
        return Err(ApiError::field(
            "kind",
            "a photo must be a JPEG, PNG or WebP image",
        ));
    }
    let upload_key = format!("uploads/{}", uuid::Uuid::now_v7());
    s.storage
        .put_file(&upload_key, tmp.path(), &content_type)
        .await
        .map_err(|e| ApiError::Internal(format!("storage: {e}")))?;
    drop(tmp);
    let attachment = s
        .store
        .create_attachment(&NewAttachment {
            parcel_id,
            kind: &kind,
            filename: &filename,
            content_type: &content_type,
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            upload_key: &upload_key,
            uploaded_by: Some(user.user().id),
        })
        .await?;
    let job = StoreFile {
        attachment_id: attachment.id,
    }
    .to_new_job()
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let enqueued = match s.broker.enqueue(job).await {
        Ok(enqueued) => enqueued,
        Err(e) => {
            // Nothing will store it: say so on the row, and let the
            // clean-up remove the upload.
            let reason = format!("could not enqueue file.store: {e}");
            s.store.fail_attachment(attachment.id, &reason).await?;
            return Err(ApiError::Internal(format!("broker: {e}")));
        }
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(AttachmentAccepted {
            attachment,
            job_id: enqueued.id.as_str().to_owned(),
        }),
    ))
}

/// A parcel's attachments, oldest first.
#[utoipa::path(get, path = "/api/v1/parcels/{id}/attachments", tag = "parcels", params(("id" = i64, Path, description = "Parcel id")), responses((status = 200, description = "The attachments", body = [Attachment]), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    _user: Authorized<Everyone>,
    Path(parcel_id): Path<i64>,
) -> ApiResult<Json<Vec<Attachment>>> {
    s.store.parcel(parcel_id).await?;
    Ok(Json(s.store.parcel_attachments(parcel_id).await?))
}

/// Downloads an attachment once stored.
#[utoipa::path(get, path = "/api/v1/attachments/{id}/download", tag = "parcels", params(("id" = i64, Path, description = "Attachment id")), responses((status = 200, description = "The file, as an attachment"), (status = 307, description = "Redirect to a presigned link"), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, description = "Not stored yet", body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn download(
    State(s): State<AppState>,
    _user: Authorized<Everyone>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let a = s.store.attachment(id).await?;
    if a.storage_key.is_empty() {
        return Err(ApiError::Conflict(format!(
            "attachment {id} is {}; download it once it is stored",
            a.state
        )));
    }
    serve(
        &s,
        &a.storage_key,
        &a.filename,
        &a.content_type,
        "attachment",
    )
    .await
}

/// Downloads the thumbnail of a processed photo (a JPEG).
#[utoipa::path(get, path = "/api/v1/attachments/{id}/thumbnail", tag = "parcels", params(("id" = i64, Path, description = "Attachment id")), responses((status = 200, description = "The thumbnail", content_type = "image/jpeg"), (status = 307, description = "Redirect to a presigned link"), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, description = "No thumbnail yet", body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn thumbnail(
    State(s): State<AppState>,
    _user: Authorized<Everyone>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let a = s.store.attachment(id).await?;
    let Some(key) = a.thumb_key else {
        return Err(ApiError::Conflict(format!(
            "attachment {id} is {}; it has no thumbnail",
            a.state
        )));
    };
    serve(&s, &key, "thumb.jpg", "image/jpeg", "thumbnail").await
}

/// Serves a stored file: streamed from local storage, or a redirect to a
/// presigned link when the files are on S3. `what` names it in a 404.
pub async fn serve(
    s: &AppState,
    key: &str,
    filename: &str,
    mime: &str,
    what: &str,
) -> ApiResult<Response> {
    let ttl = match &s.settings.transports.files {
        FilesSettings::S3(s3) => s3.presign_ttl,
        FilesSettings::Local { .. } => Duration::from_secs(900),
    };
    let filename = safe_filename(filename);
    match s.storage.download(key, &filename, ttl).await {
        Ok(Download::Redirect(url)) => {
            Ok((StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, url)]).into_response())
        }
        Ok(Download::File(path)) => {
            // Streamed in chunks: a large file is never held in memory.
            let (body, len) =
                paqueteria_worker::report::file_body(&path)
                    .await
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::NotFound => {
                            ApiError::NotFound(format!("the file of {what}"))
                        }
                        _ => ApiError::Internal(format!("read {}: {e}", path.display())),
                    })?;
            Ok((
                [
                    (header::CONTENT_TYPE, mime.to_owned()),
                    (header::CONTENT_LENGTH, len.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{filename}\""),
                    ),
                ],
                body,
            )
                .into_response())
        }
        Err(StorageError::NotFound(_)) => Err(ApiError::NotFound(format!("the file of {what}"))),
        Err(e) => Err(ApiError::Internal(format!("storage: {e}"))),
    }
}
