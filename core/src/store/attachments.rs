//! Attachment rows: an upload waits under `upload_key` until `file.store`
//! moves it to `storage_key` (pending → stored); photos then get a
//! thumbnail (stored → processed). A failure records its reason. A parcel
//! holds at most [`MAX_ATTACHMENTS_PER_PARCEL`] (failed ones not counted).

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

/// The most attachments a parcel may hold; failed uploads do not count.
pub const MAX_ATTACHMENTS_PER_PARCEL: i64 = 20;

impl Store {
    /// Records an upload waiting under `upload_key` (state `pending`);
    /// a conflict when the parcel already holds
    /// [`MAX_ATTACHMENTS_PER_PARCEL`].
    pub async fn create_attachment(&self, a: &NewAttachment<'_>) -> StoreResult<Attachment> {
        if !matches!(a.kind, "photo" | "document") {
            return Err(StoreError::Invalid {
                field: "kind",
                message: "must be photo or document".to_owned(),
            });
        }
        // The parcel must exist (a clear 404 rather than a foreign-key error).
        self.parcel(a.parcel_id).await?;
        // The bound is part of the insert, so two uploads at once cannot
        // both take the last place (on SQLite; on PostgreSQL they may, by
        // one, under read committed: the bound is against abuse, not exact).
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO attachments (parcel_id, kind, filename, content_type, size_bytes, storage_key, \
             upload_key, uploaded_by, created_at) SELECT $1, $2, $3, $4, $5, '', $6, $7, $8 \
             WHERE (SELECT COUNT(*) FROM attachments WHERE parcel_id = $1 AND state <> 'failed') < $9 \
             RETURNING id",
        )
        .bind(a.parcel_id)
        .bind(a.kind)
        .bind(a.filename)
        .bind(a.content_type)
        .bind(a.size_bytes)
        .bind(a.upload_key)
        .bind(a.uploaded_by)
        .bind(self.now())
        .bind(MAX_ATTACHMENTS_PER_PARCEL)
        .fetch_optional(&self.pool)
        .await?;
        match id {
            Some(id) => self.attachment(id).await,
            None => Err(StoreError::Conflict(too_many(a.parcel_id))),
        }
    }

    /// Fails with a conflict when the parcel already holds
    /// [`MAX_ATTACHMENTS_PER_PARCEL`] (checked before an upload is read).
    pub async fn check_attachment_room(&self, parcel_id: i64) -> StoreResult<()> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM attachments WHERE parcel_id = $1 AND state <> 'failed'",
        )
        .bind(parcel_id)
        .fetch_one(&self.pool)
        .await?;
        if n >= MAX_ATTACHMENTS_PER_PARCEL {
            return Err(StoreError::Conflict(too_many(parcel_id)));
        }
        Ok(())
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

    /// One page of a parcel's attachments, oldest first: page `page` (from
    /// 1) of `page_size` rows, and how many there are in all.
    pub async fn parcel_attachments_page(
        &self,
        parcel_id: i64,
        page: u32,
        page_size: u32,
    ) -> StoreResult<(Vec<Attachment>, i64)> {
        let offset = i64::from(page.max(1) - 1) * i64::from(page_size);
        let rows = sqlx::query(&format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE parcel_id = $1 ORDER BY id \
             LIMIT $2 OFFSET $3"
        ))
        .bind(parcel_id)
        .bind(i64::from(page_size))
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM attachments WHERE parcel_id = $1")
                .bind(parcel_id)
                .fetch_one(&self.pool)
                .await?;
        Ok((
            rows.iter()
                .map(attachment_from)
                .collect::<StoreResult<_>>()?,
            total,
        ))
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

fn too_many(parcel_id: i64) -> String {
    format!(
        "parcel {parcel_id} already holds {MAX_ATTACHMENTS_PER_PARCEL} attachments, the most a parcel may hold"
    )
}
