//! The storage contract, run against both backends: local disk and S3 on a
//! real S3-compatible server that checks signatures (SeaweedFS, started by
//! scripts/test; `TEST_S3_ENDPOINT`, `TEST_S3_ACCESS_KEY`,
//! `TEST_S3_SECRET_KEY`). Each S3 test works in a bucket of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use paqueteria_core::files::s3::S3Storage;
use paqueteria_core::files::{Download, LocalStorage, ObjectStore, StorageError};
use paqueteria_core::settings::S3Settings;
use secrecy::SecretString;

fn s3_settings(secret: Option<&str>) -> S3Settings {
    let endpoint = std::env::var("TEST_S3_ENDPOINT").expect(
        "TEST_S3_ENDPOINT is not set: run scripts/test, which starts SeaweedFS, or point it at an S3 server",
    );
    S3Settings {
        bucket: format!("paq-test-{}", uuid::Uuid::now_v7().simple()),
        endpoint: Some(endpoint),
        region: "us-east-1".to_owned(),
        access_key_id: std::env::var("TEST_S3_ACCESS_KEY").unwrap(),
        secret_access_key: SecretString::from(
            secret
                .map(str::to_owned)
                .unwrap_or_else(|| std::env::var("TEST_S3_SECRET_KEY").unwrap()),
        ),
        force_path_style: true,
        presign_ttl: Duration::from_secs(60),
    }
}

async fn s3() -> S3Storage {
    let s = S3Storage::connect(&s3_settings(None)).await.unwrap();
    s.ensure_bucket().await.unwrap();
    s
}

async fn contract(store: &dyn ObjectStore) {
    // Writes from bytes and from a file (streamed), read back whole.
    store
        .put_bytes("reports/1.pdf", b"%PDF-1.7 one".to_vec(), "application/pdf")
        .await
        .unwrap();
    let mut big = tempfile::NamedTempFile::new().unwrap();
    let payload: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    std::io::Write::write_all(&mut big, &payload).unwrap();
    store
        .put_file("uploads/big", big.path(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(store.get("uploads/big").await.unwrap(), payload);
    assert_eq!(store.get("reports/1.pdf").await.unwrap(), b"%PDF-1.7 one");
    // A second write replaces the first.
    store
        .put_bytes("reports/1.pdf", b"%PDF-1.7 two".to_vec(), "application/pdf")
        .await
        .unwrap();
    assert_eq!(store.get("reports/1.pdf").await.unwrap(), b"%PDF-1.7 two");

    let head = store.head("uploads/big").await.unwrap().unwrap();
    assert_eq!(head.size, payload.len() as u64);
    assert!(head.modified_ms > 1_700_000_000_000, "{head:?}");
    assert_eq!(store.head("uploads/none").await.unwrap(), None);
    assert!(matches!(
        store.get("uploads/none").await,
        Err(StorageError::NotFound(_))
    ));

    // Listing: key order, under a prefix, paged with `after`.
    for n in 0..5 {
        store
            .put_bytes(&format!("tmp/t{n}"), vec![n], "text/plain")
            .await
            .unwrap();
    }
    let first = store.list("tmp/", None, 3).await.unwrap();
    let keys = |v: &[paqueteria_core::files::ObjectInfo]| {
        v.iter().map(|o| o.key.clone()).collect::<Vec<_>>()
    };
    assert_eq!(keys(&first), ["tmp/t0", "tmp/t1", "tmp/t2"]);
    let rest = store.list("tmp/", Some("tmp/t2"), 10).await.unwrap();
    assert_eq!(keys(&rest), ["tmp/t3", "tmp/t4"]);
    assert!(store.list("nothing/", None, 10).await.unwrap().is_empty());

    // Rename moves; renaming what is gone is NotFound.
    store
        .rename("uploads/big", "attachments/1/2/caja.bin")
        .await
        .unwrap();
    assert_eq!(store.head("uploads/big").await.unwrap(), None);
    assert_eq!(
        store.get("attachments/1/2/caja.bin").await.unwrap().len(),
        payload.len()
    );
    assert!(matches!(
        store.rename("uploads/big", "attachments/x").await,
        Err(StorageError::NotFound(_))
    ));

    // Delete says whether there was something to delete.
    assert!(store.delete("tmp/t0").await.unwrap());
    assert!(!store.delete("tmp/t0").await.unwrap());

    // Keys that could escape are refused before any call.
    assert!(matches!(
        store.put_bytes("../etc/x", vec![1], "text/plain").await,
        Err(StorageError::Permanent(_))
    ));
    assert!(matches!(
        store
            .download("reports/9.pdf", "r.pdf", Duration::from_secs(60))
            .await,
        Err(StorageError::NotFound(_))
    ));
}

#[tokio::test]
async fn local_storage_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStorage::open(dir.path()).unwrap();
    contract(&store).await;
    let Download::File(path) = store
        .download("reports/1.pdf", "r.pdf", Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("local storage serves files itself");
    };
    assert_eq!(std::fs::read(path).unwrap(), b"%PDF-1.7 two");
}

#[tokio::test]
async fn s3_storage_keeps_the_contract() {
    let store = s3().await;
    contract(&store).await;
    // Downloads are presigned links to the object, as an attachment.
    let Download::Redirect(url) = store
        .download("reports/1.pdf", "reporte 1.pdf", Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("S3 downloads are links");
    };
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("X-Amz-Expires=60"), "{url}");
    assert!(url.contains("response-content-disposition="), "{url}");
}

#[tokio::test]
async fn s3_storage_lists_beyond_one_page_of_the_server() {
    let store = s3().await;
    // More than one ListObjectsV2 answer: the continuation token is followed.
    for n in 0..1_005 {
        store
            .put_bytes(&format!("tmp/{n:05}"), Vec::new(), "text/plain")
            .await
            .unwrap();
    }
    let all = store.list("tmp/", None, 2_000).await.unwrap();
    assert_eq!(all.len(), 1_005);
    assert_eq!(all[1_004].key, "tmp/01004");
    let tail = store.list("tmp/", Some("tmp/01000"), 2_000).await.unwrap();
    assert_eq!(tail.len(), 4);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_for_good() {
    let good = s3().await;
    let mut settings = s3_settings(Some("not-the-secret"));
    // The same bucket as `good`, with a bad secret.
    settings.bucket = good.bucket().to_owned();
    let bad = S3Storage::connect(&settings).await.unwrap();
    let e = bad
        .put_bytes("tmp/x", vec![1], "text/plain")
        .await
        .unwrap_err();
    assert!(matches!(e, StorageError::Permanent(_)), "{e:?}");
    assert!(!e.is_transient());
}

#[tokio::test]
async fn an_unreachable_server_is_worth_a_retry() {
    let mut settings = s3_settings(None);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    settings.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let store = S3Storage::connect(&settings).await.unwrap();
    let e = store
        .put_bytes("tmp/x", vec![1], "text/plain")
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e:?}");
}
