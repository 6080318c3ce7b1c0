//! Files sent to the browser in chunks.

/// A file on local disk as an HTTP body read in 64 KiB chunks, with its
/// length: downloads stream it instead of loading it whole.
pub async fn file_body(path: &std::path::Path) -> std::io::Result<(axum::body::Body, u64)> {
    use tokio::io::AsyncReadExt;

    let file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    let chunks = futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(axum::body::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok((axum::body::Body::from_stream(chunks), len))
}
