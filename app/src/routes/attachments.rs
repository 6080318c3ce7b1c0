//! Attachments: photos and documents of a parcel.
//!
//! `POST /api/v1/parcels/{id}/attachments` takes a multipart form (`file`,
//! and optionally `kind`), streams the file to a temp file while counting
//! its bytes (413 past `UPLOAD_MAX_BYTES`), puts it in storage under
//! `uploads/<uuid>`, records the attachment (pending) and enqueues
//! `file.store`, which moves it into place; photos then get a thumbnail
//! from `file.thumbnail`. The answer is 202 with the attachment and the job.
//!
//! What is accepted and how it is served:
//! - only [`ACCEPTED_TYPES`] (JPEG, PNG, WebP photos and PDF documents),
//!   and only when the file's first bytes are that type's signature (a
//!   client's `Content-Type` alone proves nothing): anything else is a 422;
//! - the file is stored and served under [`served_name`]: the upload's name
//!   cleaned, with the extension of its type (`factura.exe` sent as a PDF
//!   is `factura.pdf`), always as `Content-Disposition: attachment` with
//!   its own type and `X-Content-Type-Options: nosniff`; a type outside
//!   the list (a row from before) is served as `application/octet-stream`;
//! - a parcel holds at most 20 attachments (failed ones not counted): 409
//!   beyond;
//! - upload, list, download and thumbnail are for staff who may see the
//!   parcel (`branch_scope::may_see`: admins every parcel, others those
//!   from or to their branch), 403 otherwise;
//! - the list is paged (`page`, `page_size`), oldest first.

use std::io::Write;
use std::time::Duration;

use axum::Json;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use paqueteria_core::domain::branch_scope::{Branches, Staff, may_see};
use paqueteria_core::files::{Download, StorageError, safe_filename};
use paqueteria_core::jobs::{Job, StoreFile};
use paqueteria_core::settings::FilesSettings;
use paqueteria_core::store::{Attachment, NewAttachment, Parcel, User};
use serde::{Deserialize, Serialize};

use crate::access::RequestId;
use crate::auth::{Authorized, Everyone};
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidPath;
use crate::startup::AppState;

/// The media types an attachment may have.
pub const ACCEPTED_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp", "application/pdf"];

/// How many leading bytes are kept to check a file's signature.
const SIGNATURE_BYTES: usize = 1024;

/// The extension a file of an accepted type is served with.
fn extension_of(content_type: &str) -> Option<&'static str> {
    match content_type {
        "image/jpeg" => Some("jpg"),
        "image/png" => Some("png"),
        "image/webp" => Some("webp"),
        "application/pdf" => Some("pdf"),
        _ => None,
    }
}

/// Whether `head`, a file's first bytes, is what `content_type` says.
fn has_signature(content_type: &str, head: &[u8]) -> bool {
    match content_type {
        "image/jpeg" => head.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/webp" => head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP",
        // PDF readers accept the header anywhere in the first KiB.
        "application/pdf" => head.windows(5).any(|w| w == b"%PDF-"),
        _ => false,
    }
}

/// The name a file is stored and served under, and the type it is served
/// as: the name cleaned ([`safe_filename`]) with the extension of its type
/// (`factura.exe` as a PDF → `factura.pdf`; `foto.jpeg` stays); a type
/// outside [`ACCEPTED_TYPES`] is served as `application/octet-stream`,
/// named `.bin`.
pub fn served_name(filename: &str, content_type: &str) -> (String, &'static str) {
    let clean = safe_filename(filename);
    let (stem, ext) = match clean.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, ext.to_ascii_lowercase()),
        _ => (clean.as_str(), String::new()),
    };
    let Some(want) = extension_of(content_type) else {
        return (format!("{stem}.bin"), "application/octet-stream");
    };
    let mime = ACCEPTED_TYPES
        .iter()
        .copied()
        .find(|t| *t == content_type)
        .unwrap_or("application/octet-stream");
    let keeps = ext == want || (want == "jpg" && ext == "jpeg");
    if keeps {
        (clean.clone(), mime)
    } else {
        (format!("{stem}.{want}"), mime)
    }
}

/// The parcel `parcel_id`, if `user` may see it: 404 when there is no
/// such parcel, 403 when it is neither from nor to their branch.
pub async fn visible_parcel(s: &AppState, user: &User, parcel_id: i64) -> ApiResult<Parcel> {
    let parcel = s.store.parcel(parcel_id).await?;
    let staff = Staff {
        role: user.role,
        branch_id: user.branch_id,
    };
    let branches = Branches {
        origin: parcel.origin_branch_id,
        destination: parcel.destination_branch_id,
    };
    if !may_see(staff, branches) {
        return Err(ApiError::Forbidden(format!(
            "parcel {parcel_id} is neither from nor to your branch"
        )));
    }
    Ok(parcel)
}

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

/// Streams a field into a temp file, keeping its first bytes in `head`;
/// its size, or 413 past `limit`.
async fn spool(
    field: &mut Field<'_>,
    file: &mut tempfile::NamedTempFile,
    head: &mut Vec<u8>,
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
        let room = SIGNATURE_BYTES.saturating_sub(head.len());
        head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        file.write_all(&chunk)
            .map_err(|e| ApiError::Internal(format!("spool upload: {e}")))?;
    }
    Ok(size)
}

/// Uploads a photo or document of a parcel.
#[utoipa::path(post, path = "/api/v1/parcels/{id}/attachments", tag = "parcels", params(("id" = i64, Path, description = "Parcel id")), request_body(content = UploadForm, content_type = "multipart/form-data"), responses((status = 202, description = "Accepted; the file is stored by a job", body = AttachmentAccepted), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, description = "The parcel already holds 20 attachments", body = crate::error::ErrorBody), (status = 413, description = "Larger than UPLOAD_MAX_BYTES", body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn upload(
    State(s): State<AppState>,
    user: Authorized<Everyone>,
    request: RequestId,
    ValidPath(parcel_id): ValidPath<i64>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<AttachmentAccepted>)> {
    let accepted = accept_upload(&s, user.user(), &request, parcel_id, multipart).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// Takes an upload of `user` for parcel `parcel_id` (the API's route and
/// the web UI's): checks it, spools it to storage, records the pending
/// attachment and enqueues the job that stores it, carrying `request`'s id.
pub(crate) async fn accept_upload(
    s: &AppState,
    user: &User,
    request: &RequestId,
    parcel_id: i64,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<AttachmentAccepted> {
    let limit = s.settings.transports.upload_max_bytes;
    let mut multipart = multipart
        .map_err(|e| ApiError::field("file", format!("expected multipart/form-data: {e}")))?;
    // The parcel first: an upload for a parcel that does not exist, that
    // the user may not see or that is full is refused before its bytes
    // are read.
    visible_parcel(s, user, parcel_id).await?;
    s.store.check_attachment_room(parcel_id).await?;
    let mut kind: Option<String> = None;
    let mut upload: Option<(String, String, u64, tempfile::NamedTempFile)> = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e, limit))?
    {
        match field.name() {
            Some("file") if upload.is_none() => {
                let original = field.file_name().unwrap_or("file").to_owned();
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
                let mut head = Vec::with_capacity(SIGNATURE_BYTES);
                let size = spool(&mut field, &mut tmp, &mut head, limit).await?;
                if size == 0 {
                    return Err(ApiError::field("file", "the file is empty"));
                }
                if !has_signature(&content_type, &head) {
                    return Err(ApiError::field(
                        "file",
                        format!("the file's content is not {content_type}"),
                    ));
                }
                let (filename, _) = served_name(&original, &content_type);
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
            uploaded_by: Some(user.id),
        })
        .await?;
    let job = StoreFile {
        attachment_id: attachment.id,
    }
    .to_new_job()
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let enqueued = match s.broker.enqueue(request.attach(job)).await {
        Ok(enqueued) => enqueued,
        Err(e) => {
            // Nothing will store it: say so on the row, and let the
            // clean-up remove the upload.
            let reason = format!("could not enqueue file.store: {e}");
            s.store.fail_attachment(attachment.id, &reason).await?;
            return Err(ApiError::Internal(format!("broker: {e}")));
        }
    };
    Ok(AttachmentAccepted {
        attachment,
        job_id: enqueued.id.as_str().to_owned(),
    })
}

/// `GET /api/v1/parcels/{id}/attachments` query: the page.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentsQuery {
    /// Page, from 1 (default 1).
    pub page: Option<u32>,
    /// Rows per page, 1 to 100 (default 20).
    pub page_size: Option<u32>,
}

/// One page of a parcel's attachments.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttachmentPage {
    /// The attachments, oldest first.
    pub items: Vec<Attachment>,
    /// How many the parcel has in all.
    pub total: i64,
    /// This page, from 1.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

/// A page (`page`, `page_size`) checked: 422 naming the parameter.
pub fn page_of(
    page: Option<u32>,
    page_size: Option<u32>,
    default: u32,
    max: u32,
) -> ApiResult<(u32, u32)> {
    let mut problems = Vec::new();
    if page == Some(0) {
        problems.push(("page", "must be at least 1".to_owned()));
    }
    if page_size.is_some_and(|n| n == 0 || n > max) {
        problems.push(("page_size", format!("must be between 1 and {max}")));
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(
            problems
                .into_iter()
                .map(|(name, msg)| crate::error::FieldError {
                    loc: vec!["query".to_owned(), name.to_owned()],
                    msg,
                    kind: "value_error",
                })
                .collect(),
        ));
    }
    Ok((page.unwrap_or(1), page_size.unwrap_or(default)))
}

/// A parcel's attachments, oldest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/parcels/{id}/attachments", tag = "parcels", params(("id" = i64, Path, description = "Parcel id"), AttachmentsQuery), responses((status = 200, description = "A page of the attachments", body = AttachmentPage), (status = 401, body = crate::error::ErrorBody), (status = 403, description = "The parcel is neither from nor to your branch", body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    user: Authorized<Everyone>,
    ValidPath(parcel_id): ValidPath<i64>,
    crate::extract::ValidQuery(q): crate::extract::ValidQuery<AttachmentsQuery>,
) -> ApiResult<Json<AttachmentPage>> {
    let (page, page_size) = page_of(q.page, q.page_size, 20, 100)?;
    visible_parcel(&s, user.user(), parcel_id).await?;
    let (items, total) = s
        .store
        .parcel_attachments_page(parcel_id, page, page_size)
        .await?;
    Ok(Json(AttachmentPage {
        items,
        total,
        page,
        page_size,
    }))
}

/// Downloads an attachment once stored.
#[utoipa::path(get, path = "/api/v1/attachments/{id}/download", tag = "parcels", params(("id" = i64, Path, description = "Attachment id")), responses((status = 200, description = "The file, as an attachment"), (status = 307, description = "Redirect to a presigned link"), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, description = "Not stored yet", body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn download(
    State(s): State<AppState>,
    user: Authorized<Everyone>,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    let a = s.store.attachment(id).await?;
    visible_parcel(&s, user.user(), a.parcel_id).await?;
    if a.storage_key.is_empty() {
        return Err(ApiError::Conflict(format!(
            "attachment {id} is {}; download it once it is stored",
            a.state
        )));
    }
    let (filename, mime) = served_name(&a.filename, &a.content_type);
    serve(&s, &a.storage_key, &filename, mime, "attachment").await
}

/// Downloads the thumbnail of a processed photo (a JPEG).
#[utoipa::path(get, path = "/api/v1/attachments/{id}/thumbnail", tag = "parcels", params(("id" = i64, Path, description = "Attachment id")), responses((status = 200, description = "The thumbnail", content_type = "image/jpeg"), (status = 307, description = "Redirect to a presigned link"), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, description = "No thumbnail yet", body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn thumbnail(
    State(s): State<AppState>,
    user: Authorized<Everyone>,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Response> {
    let a = s.store.attachment(id).await?;
    visible_parcel(&s, user.user(), a.parcel_id).await?;
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
                crate::download::file_body(&path)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_served_under_their_types_extension_whatever_they_were_called() {
        let cases = [
            (
                "factura.exe",
                "application/pdf",
                "factura.pdf",
                "application/pdf",
            ),
            ("../../etc/passwd", "image/png", "passwd.png", "image/png"),
            ("foto.JPEG", "image/jpeg", "foto.JPEG", "image/jpeg"),
            (
                "recibo.pdf",
                "application/pdf",
                "recibo.pdf",
                "application/pdf",
            ),
            (
                "pago \"x\".html",
                "image/webp",
                "pago__x_.webp",
                "image/webp",
            ),
            (".htaccess", "image/png", "htaccess.png", "image/png"),
            (
                "factura.exe",
                "application/x-msdownload",
                "factura.bin",
                "application/octet-stream",
            ),
            (
                "page.html",
                "text/html",
                "page.bin",
                "application/octet-stream",
            ),
        ];
        for (name, ty, want_name, want_type) in cases {
            assert_eq!(
                served_name(name, ty),
                (want_name.to_owned(), want_type),
                "{name} as {ty}"
            );
        }
    }

    #[test]
    fn a_file_must_start_as_its_type_does() {
        assert!(has_signature("image/png", b"\x89PNG\r\n\x1a\n...."));
        assert!(!has_signature("image/png", b"MZ\x90\x00 an exe"));
        assert!(has_signature("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(has_signature("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "));
        assert!(has_signature("application/pdf", b"%PDF-1.7"));
        assert!(!has_signature("application/pdf", b"<html><script>"));
        assert!(!has_signature("text/html", b"<html>"));
    }
}
