//! S3 storage: AWS or any S3-compatible server (SeaweedFS, MinIO, Ceph…).
//!
//! Static credentials from the settings (no AWS profile or instance
//! metadata lookup), a custom endpoint with path-style addressing for
//! S3-compatible servers, and presigned GET links for downloads. TLS is
//! rustls with ring, the crypto the rest of the workspace already links.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::ExposeSecret;

use super::{Download, ObjectInfo, ObjectStore, StorageError, StorageResult, check_key};
use crate::settings::S3Settings;

/// An S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Storage {
    client: Client,
    bucket: String,
    endpoint: String,
}

/// What a key keeps unescaped in `x-amz-copy-source`: S3's unreserved
/// characters and the slash.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Sorts an SDK error into ours: throttling, timeouts, dispatch failures and
/// 5xx are worth a retry; 404 is "not found"; the rest is refused for good.
fn sdk_error<E>(key: &str, e: SdkError<E, HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e.code().map(str::to_owned);
    let text = format!("{key}: {}", DisplayErrorContext(&e));
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StorageError::Transient(text)
        }
        SdkError::ServiceError(_) => match status {
            Some(404) => StorageError::NotFound(key.to_owned()),
            Some(s) if s == 429 || s >= 500 => StorageError::Transient(text),
            _ if matches!(code.as_deref(), Some("SlowDown" | "RequestTimeout")) => {
                StorageError::Transient(text)
            }
            _ if matches!(code.as_deref(), Some("NoSuchKey" | "NotFound")) => {
                StorageError::NotFound(key.to_owned())
            }
            _ => StorageError::Permanent(text),
        },
        _ => StorageError::Permanent(text),
    }
}

impl S3Storage {
    /// A client for the bucket the settings name. Nothing is sent yet:
    /// [`S3Storage::check`] tells whether the bucket answers.
    pub async fn connect(settings: &S3Settings) -> StorageResult<Self> {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let credentials = Credentials::new(
            settings.access_key_id.clone(),
            settings.secret_access_key.expose_secret().to_owned(),
            None,
            None,
            "paqueteria-settings",
        );
        let mut config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(settings.force_path_style)
            .http_client(http);
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint.clone());
        }
        let endpoint = settings
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("AWS {}", settings.region));
        Ok(Self {
            client: Client::from_conf(config.build()),
            bucket: settings.bucket.clone(),
            endpoint,
        })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Whether the bucket exists and the credentials may use it.
    pub async fn check(&self) -> StorageResult<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(&self.bucket, e))
    }

    /// Creates the bucket unless it exists (tests and first deployments).
    pub async fn ensure_bucket(&self) -> StorageResult<()> {
        match self.check().await {
            Ok(()) => Ok(()),
            Err(StorageError::NotFound(_)) => self
                .client
                .create_bucket()
                .bucket(&self.bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error(&self.bucket, e)),
            Err(e) => Err(e),
        }
    }

    async fn put(&self, key: &str, body: ByteStream, content_type: &str) -> StorageResult<()> {
        check_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(key, e))
    }
}

#[async_trait]
impl ObjectStore for S3Storage {
    fn describe(&self) -> String {
        format!("S3 bucket {} at {}", self.bucket, self.endpoint)
    }

    async fn put_bytes(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> StorageResult<()> {
        self.put(key, ByteStream::from(bytes), content_type).await
    }

    async fn put_file(&self, key: &str, path: &Path, content_type: &str) -> StorageResult<()> {
        let body = ByteStream::from_path(path).await.map_err(|e| {
            StorageError::Permanent(format!("{key}: cannot read {}: {e}", path.display()))
        })?;
        self.put(key, body, content_type).await
    }

    async fn get(&self, key: &str) -> StorageResult<Vec<u8>> {
        check_key(key)?;
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(key, e))?;
        let data = out
            .body
            .collect()
            .await
            .map_err(|e| StorageError::Transient(format!("{key}: {e}")))?;
        Ok(data.into_bytes().to_vec())
    }

    async fn head(&self, key: &str) -> StorageResult<Option<ObjectInfo>> {
        check_key(key)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectInfo {
                key: key.to_owned(),
                size: u64::try_from(out.content_length().unwrap_or(0)).unwrap_or(0),
                modified_ms: out
                    .last_modified()
                    .map_or(0, |t| t.to_millis().unwrap_or(0)),
            })),
            Err(e) => match sdk_error(key, e) {
                StorageError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn rename(&self, from: &str, to: &str) -> StorageResult<()> {
        check_key(from)?;
        check_key(to)?;
        let source = format!("{}/{}", self.bucket, utf8_percent_encode(from, COPY_SOURCE));
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(to)
            .copy_source(source)
            .send()
            .await
            .map_err(|e| sdk_error(from, e))?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(from)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(from, e))
    }

    async fn delete(&self, key: &str) -> StorageResult<bool> {
        // S3 answers a delete of a missing key with success: ask first, so
        // the caller learns that the object was already gone.
        if self.head(key).await?.is_none() {
            return Ok(false);
        }
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| true)
            .map_err(|e| sdk_error(key, e))
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StorageResult<Vec<ObjectInfo>> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        while found.len() < limit {
            let want = i32::try_from((limit - found.len()).min(1000)).unwrap_or(1000);
            let mut req = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(want);
            if let Some(t) = &token {
                req = req.continuation_token(t);
            } else if let Some(a) = after {
                req = req.start_after(a);
            }
            let out = req.send().await.map_err(|e| sdk_error(prefix, e))?;
            for o in out.contents() {
                if let Some(key) = o.key() {
                    found.push(ObjectInfo {
                        key: key.to_owned(),
                        size: u64::try_from(o.size().unwrap_or(0)).unwrap_or(0),
                        modified_ms: o.last_modified().map_or(0, |t| t.to_millis().unwrap_or(0)),
                    });
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    async fn download(&self, key: &str, filename: &str, ttl: Duration) -> StorageResult<Download> {
        if self.head(key).await?.is_none() {
            return Err(StorageError::NotFound(key.to_owned()));
        }
        let presign = PresigningConfig::expires_in(ttl)
            .map_err(|e| StorageError::Permanent(format!("presign ttl {ttl:?}: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(format!(
                "attachment; filename=\"{}\"",
                super::safe_filename(filename)
            ))
            .presigned(presign)
            .await
            .map_err(|e| sdk_error(key, e))?;
        Ok(Download::Redirect(request.uri().to_owned()))
    }
}
