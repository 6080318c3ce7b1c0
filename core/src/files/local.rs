//! Local-disk storage: one file per key under a root directory.
//!
//! Writes go to a temporary file in the destination directory, are synced,
//! then renamed over the key, so a reader never sees a partial object.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;

use super::{Download, ObjectInfo, ObjectStore, StorageError, StorageResult, check_key};

/// Objects as files under `root`.
#[derive(Clone, Debug)]
pub struct LocalStorage {
    root: PathBuf,
}

fn io_error(key: &str, e: std::io::Error) -> StorageError {
    match e.kind() {
        std::io::ErrorKind::NotFound => StorageError::NotFound(key.to_owned()),
        std::io::ErrorKind::PermissionDenied => StorageError::Permanent(format!("{key}: {e}")),
        _ => StorageError::Transient(format!("{key}: {e}")),
    }
}

fn info(key: String, meta: &std::fs::Metadata) -> ObjectInfo {
    let modified_ms = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    ObjectInfo {
        key,
        size: meta.len(),
        modified_ms,
    }
}

impl LocalStorage {
    /// Storage under `root`, created if missing.
    pub fn open(root: &Path) -> StorageResult<Self> {
        std::fs::create_dir_all(root)
            .map_err(|e| StorageError::Permanent(format!("{}: {e}", root.display())))?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The file that holds `key`.
    pub fn path_of(&self, key: &str) -> StorageResult<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Writes through a temp file in the target directory, then renames.
    async fn write_atomically<F>(&self, key: &str, fill: F) -> StorageResult<()>
    where
        F: FnOnce(&mut std::fs::File) -> std::io::Result<()> + Send + 'static,
    {
        let path = self.path_of(key)?;
        let key_owned = key.to_owned();
        tokio::task::spawn_blocking(move || -> StorageResult<()> {
            let dir = path
                .parent()
                .ok_or_else(|| StorageError::Permanent(format!("invalid key {key_owned:?}")))?;
            std::fs::create_dir_all(dir).map_err(|e| io_error(&key_owned, e))?;
            let mut tmp =
                tempfile::NamedTempFile::new_in(dir).map_err(|e| io_error(&key_owned, e))?;
            fill(tmp.as_file_mut()).map_err(|e| io_error(&key_owned, e))?;
            tmp.as_file()
                .sync_all()
                .map_err(|e| io_error(&key_owned, e))?;
            tmp.persist(&path)
                .map_err(|e| io_error(&key_owned, e.error))?;
            Ok(())
        })
        .await
        .map_err(|e| StorageError::Transient(format!("write task failed: {e}")))?
    }
}

#[async_trait]
impl ObjectStore for LocalStorage {
    fn describe(&self) -> String {
        format!("local disk at {}", self.root.display())
    }

    async fn put_bytes(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> StorageResult<()> {
        self.write_atomically(key, move |f| std::io::Write::write_all(f, &bytes))
            .await
    }

    async fn put_file(&self, key: &str, path: &Path, _content_type: &str) -> StorageResult<()> {
        let src = path.to_path_buf();
        let src_key = path.display().to_string();
        // Fail on a missing source before creating anything.
        tokio::fs::metadata(&src)
            .await
            .map_err(|e| io_error(&src_key, e))?;
        self.write_atomically(key, move |f| {
            let mut from = std::fs::File::open(&src)?;
            std::io::copy(&mut from, f).map(|_| ())
        })
        .await
    }

    async fn get(&self, key: &str) -> StorageResult<Vec<u8>> {
        let path = self.path_of(key)?;
        tokio::fs::read(&path).await.map_err(|e| io_error(key, e))
    }

    async fn head(&self, key: &str) -> StorageResult<Option<ObjectInfo>> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(info(key.to_owned(), &meta))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(key, e)),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> StorageResult<()> {
        let src = self.path_of(from)?;
        let dst = self.path_of(to)?;
        if let Some(dir) = dst.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| io_error(to, e))?;
        }
        tokio::fs::rename(&src, &dst)
            .await
            .map_err(|e| io_error(from, e))
    }

    async fn delete(&self, key: &str) -> StorageResult<bool> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(key, e)),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<Vec<ObjectInfo>> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        let after = after.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            // Walk only the directory the prefix names (keys are paths).
            let start = match prefix.rsplit_once('/') {
                Some((dir, _)) => root.join(dir),
                None => root.clone(),
            };
            let mut out = Vec::new();
            for entry in walkdir::WalkDir::new(&start)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
            {
                let Ok(rel) = entry.path().strip_prefix(&root) else {
                    continue;
                };
                let key = rel.to_string_lossy().replace('\\', "/");
                // Temp files of writes in progress are not objects.
                let in_progress = entry.file_name().to_string_lossy().starts_with(".tmp");
                if in_progress
                    || !key.starts_with(&prefix)
                    || after.as_deref().is_some_and(|a| key.as_str() <= a)
                {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                out.push(info(key, &meta));
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| StorageError::Transient(format!("list task failed: {e}")))?
    }

    async fn download(
        &self,
        key: &str,
        _filename: &str,
        _ttl: Duration,
    ) -> StorageResult<Download> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => Ok(Download::File(path)),
            Ok(_) => Err(StorageError::NotFound(key.to_owned())),
            Err(e) => Err(io_error(key, e)),
        }
    }
}
