//! Attachment rows: an upload waits under `upload_key` until `file.store`
//! moves it to `storage_key` (pending → stored); photos then get a
//! thumbnail (stored → processed). A failure records its reason.

use sqlx::Row;

use super::{Attachment, Store, StoreError, StoreResult};

const ATTACHMENT_COLUMNS: &str = "id, parcel_id, kind, filename, content_type, size_bytes, storage_key, \
     state, error, created_at, upload_key, thumb_key, uploaded_by, processed_at";

fn attachment_from(r: &sqlx::any::AnyRow) -> StoreResult<Attachment> {
    Ok(Attachment {
        id: r.try_get("id")?,
        parcel_id: r.try_get("parcel_id")?,
        kind: r.try_get("kind")?,
        filename: r.try_get("filename")?,
        content_type: r.try_get("content_type")?,
        size_bytes: r.try_get("size_bytes")?,
        storage_key: r.try_get("storage_key")?,
        state: r.try_get("state")?,
        error: r.try_get("error")?,
        created_at_ms: r.try_get("created_at")?,
        upload_key: r.try_get("upload_key")?,
        thumb_key: r.try_get("thumb_key")?,
        uploaded_by: r.try_get("uploaded_by")?,
        processed_at_ms: r.try_get("processed_at")?,
    })
}

/// What an upload becomes: a new attachment row.
#[derive(Clone, Debug)]
pub struct NewAttachment<'a> {
    /// The parcel.
    pub parcel_id: i64,
    /// `photo` or `document`.
    pub kind: &'a str,
    /// The cleaned file name.
    pub filename: &'a str,
    /// Its media type.
    pub content_type: &'a str,
    /// Its size in bytes.
    pub size_bytes: i64,
    /// Where the upload waits.
    pub upload_key: &'a str,
    /// Who uploaded it.
    pub uploaded_by: Option<i64>,
}

impl Store {
    /// Records an upload waiting under `upload_key` (state `pending`).
    pub async fn create_attachment(&self, a: &NewAttachment<'_>) -> StoreResult<Attachment> {
        if !matches!(a.kind, "photo" | "document") {
            return Err(StoreError::Invalid {
                field: "kind",
                message: "must be photo or document".to_owned(),
            });
        }
        // The parcel must exist (a clear 404 rather than a foreign-key error).
        self.parcel(a.parcel_id).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO attachments (parcel_id, kind, filename, content_type, size_bytes, storage_key, \
             upload_key, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8) RETURNING id",
        )
        .bind(a.parcel_id)
        .bind(a.kind)
        .bind(a.filename)
        .bind(a.content_type)
        .bind(a.size_bytes)
        .bind(a.upload_key)
        .bind(a.uploaded_by)
        .bind(self.now())
        .fetch_one(&self.pool)
        .await?;
        self.attachment(id).await
    }

    /// One attachment.
    pub async fn attachment(&self, id: i64) -> StoreResult<Attachment> {
        let row = self
            .row_by_id(
                &format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1"),
                id,
                "attachment",
            )
            .await?;
        attachment_from(&row)
    }

    /// A parcel's attachments, oldest first.
    pub async fn parcel_attachments(&self, parcel_id: i64) -> StoreResult<Vec<Attachment>> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE parcel_id = $1 ORDER BY id"
        ))
        .bind(parcel_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attachment_from).collect()
    }

    /// pending → stored: the file is at `storage_key` and the upload is gone.
    /// `false` when the row was not pending (a redelivered job).
    pub async fn mark_attachment_stored(&self, id: i64, storage_key: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE attachments SET state = 'stored', storage_key = $1, upload_key = NULL, error = NULL, \
             processed_at = $2 WHERE id = $3 AND state = 'pending'",
        )
        .bind(storage_key)
        .bind(self.now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// stored → processed: the photo's thumbnail is at `thumb_key`.
    pub async fn mark_attachment_processed(&self, id: i64, thumb_key: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE attachments SET state = 'processed', thumb_key = $1, error = NULL, processed_at = $2 \
             WHERE id = $3 AND state = 'stored'",
        )
        .bind(thumb_key)
        .bind(self.now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks an attachment failed with the reason (a stored file stays
    /// downloadable: only its thumbnail failed).
    pub async fn fail_attachment(&self, id: i64, reason: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE attachments SET state = 'failed', error = $1, processed_at = $2 WHERE id = $3 \
             AND state IN ('pending', 'stored')",
        )
        .bind(reason)
        .bind(self.now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
