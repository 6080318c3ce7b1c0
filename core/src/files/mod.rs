//! File storage: one API over local disk (the embedded default) and S3
//! (AWS or any S3-compatible server).
//!
//! Keys are relative slash-separated paths. The layout:
//! - `uploads/<uuid>`: an upload as the app received it, until `file.store`
//!   moves it; `maintenance.cleanup_tmp` deletes leftovers.
//! - `tmp/…`: partial results of a job chain (a generated report before its
//!   store step); also swept by `maintenance.cleanup_tmp`.
//! - `attachments/<parcel>/<attachment>/<name>` and `…/thumb.jpg`.
//! - `reports/<id>.<pdf|xlsx>`.

mod local;
pub mod s3;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use local::LocalStorage;

use crate::settings::FilesSettings;

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key holds nothing.
    #[error("no object at {0:?}")]
    NotFound(String),
    /// Worth retrying: network, timeout, 5xx, throttling.
    #[error("storage unavailable: {0}")]
    Transient(String),
    /// Retrying cannot help: bad key, denied, bad credentials.
    #[error("storage refused: {0}")]
    Permanent(String),
}

impl StorageError {
    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// The result of a storage call.
pub type StorageResult<T> = Result<T, StorageError>;

/// What storage knows about one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modified, Unix milliseconds.
    pub modified_ms: i64,
}

/// How a client fetches an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Download {
    /// Redirect the client to this (presigned) URL.
    Redirect(String),
    /// Serve this local file.
    File(PathBuf),
}

/// An object store.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// A description safe to log.
    fn describe(&self) -> String;
    /// Writes `bytes` at `key`, replacing what was there; readers see the
    /// old object or the new one, never a part.
    async fn put_bytes(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> StorageResult<()>;
    /// Writes the file at `path` to `key`, streaming it.
    async fn put_file(&self, key: &str, path: &Path, content_type: &str) -> StorageResult<()>;
    /// Reads a whole object.
    async fn get(&self, key: &str) -> StorageResult<Vec<u8>>;
    /// The object's size and time, or `None` when there is none.
    async fn head(&self, key: &str) -> StorageResult<Option<ObjectInfo>>;
    /// Moves an object to a new key (S3: copy, then delete).
    async fn rename(&self, from: &str, to: &str) -> StorageResult<()>;
    /// Deletes an object; `false` when there was none.
    async fn delete(&self, key: &str) -> StorageResult<bool>;
    /// Up to `limit` objects under `prefix`, in key order, after `after`.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<Vec<ObjectInfo>>;
    /// How a client downloads `key` (as `filename`), valid for `ttl`.
    async fn download(&self, key: &str, filename: &str, ttl: Duration) -> StorageResult<Download>;
}

/// A shared object store.
pub type SharedStorage = Arc<dyn ObjectStore>;

/// Opens the storage the settings select.
pub async fn open(settings: &FilesSettings) -> StorageResult<SharedStorage> {
    match settings {
        FilesSettings::Local { dir } => Ok(Arc::new(LocalStorage::open(dir)?)),
        FilesSettings::S3(s3) => Ok(Arc::new(s3::S3Storage::connect(s3).await?)),
    }
}

/// Checks a key: relative, slash-separated, no `.`/`..`/empty segments, no
/// backslashes or control characters.
pub fn check_key(key: &str) -> StorageResult<()> {
    let bad = key.is_empty()
        || key.len() > 512
        || key.starts_with('/')
        || key.contains('\\')
        || key.chars().any(char::is_control)
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        Err(StorageError::Permanent(format!("invalid key {key:?}")))
    } else {
        Ok(())
    }
}

/// A file name safe to use as the last segment of a key and in a
/// `Content-Disposition` header: letters, digits, `.`, `-`, `_`; anything
/// else becomes `_`. Never empty, never a dot name.
pub fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .take(120)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        "file".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_escape_the_root_are_refused() {
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b", "a/\n"] {
            assert!(check_key(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["uploads/0193", "attachments/1/2/photo.jpg", "reports/7.pdf"] {
            assert!(check_key(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("C:\\fotos\\caja rota.JPG"), "caja_rota.JPG");
        assert_eq!(safe_filename(".."), "file");
        assert_eq!(safe_filename("recibo\"; x=.pdf"), "recibo___x_.pdf");
    }
}
