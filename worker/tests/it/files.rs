//! `file.store` and `file.thumbnail` through the real runtime and broker:
//! on the embedded stack (SQLite, local files) and on the production one
//! (PostgreSQL, Redis, S3 on a real S3-compatible server).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::time::Duration;

use crate::common::{Env, eventually, register, s3_vars, setup};
use paqueteria_core::jobs::StoreFile;
use paqueteria_core::store::{Attachment, NewAttachment};
use paqueteria_jobs::JobId;
use paqueteria_jobs::broker::JobState;

/// An 800×400 PNG: left half red, right half blue.
fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(800, 400, |x, _| {
        if x < 400 {
            image::Rgb([220, 20, 20])
        } else {
            image::Rgb([20, 20, 220])
        }
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Puts `bytes` where the app puts an upload and records the attachment.
async fn upload(env: &Env, kind: &str, name: &str, ct: &str, bytes: Vec<u8>) -> Attachment {
    let s = env.store();
    let (a, b) = setup(s).await;
    let parcel = register(s, a, b, 1, false).await;
    let key = format!("uploads/{}", uuid::Uuid::now_v7());
    let size = bytes.len() as i64;
    env.services
        .storage
        .put_bytes(&key, bytes, ct)
        .await
        .unwrap();
    s.create_attachment(&NewAttachment {
        parcel_id: parcel.id,
        kind,
        filename: name,
        content_type: ct,
        size_bytes: size,
        upload_key: &key,
        uploaded_by: None,
    })
    .await
    .unwrap()
}

async fn state_becomes(env: &Env, id: i64, state: &str) -> Attachment {
    let s = env.store();
    eventually(
        Duration::from_secs(30),
        &format!("attachment {id} {state}"),
        || async move { s.attachment(id).await.unwrap().state == state },
    )
    .await;
    s.attachment(id).await.unwrap()
}

async fn photos_are_stored_then_get_a_thumbnail(env: Env) {
    let original = photo();
    let a = upload(&env, "photo", "caja.png", "image/png", original.clone()).await;
    let upload_key = a.upload_key.clone().unwrap();
    let r = env
        .run(&StoreFile {
            attachment_id: a.id,
        })
        .await;
    let key = format!("attachments/{}/{}/caja.png", a.parcel_id, a.id);
    assert_eq!(r["key"], key.as_str());
    // The upload moved: gone from uploads/, byte for byte in its place.
    let storage = &env.services.storage;
    assert_eq!(storage.head(&upload_key).await.unwrap(), None);
    assert_eq!(storage.get(&key).await.unwrap(), original);

    // file.store enqueued file.thumbnail, which made a JPEG that fits
    // 320×320 with the photo's proportions and colours.
    let done = state_becomes(&env, a.id, "processed").await;
    assert_eq!(done.storage_key, key);
    assert!(done.processed_at_ms.is_some());
    let thumb_key = done.thumb_key.unwrap();
    let thumb = storage.get(&thumb_key).await.unwrap();
    assert_eq!(
        image::guess_format(&thumb).unwrap(),
        image::ImageFormat::Jpeg
    );
    let thumb = image::load_from_memory(&thumb).unwrap().into_rgb8();
    assert_eq!(thumb.dimensions(), (320, 160));
    let left = thumb.get_pixel(40, 80);
    let right = thumb.get_pixel(280, 80);
    assert!(left[0] > 180 && left[2] < 70, "{left:?}");
    assert!(right[2] > 180 && right[0] < 70, "{right:?}");
    env.finish().await;
}

async fn a_photo_that_does_not_decode_fails_with_the_reason(env: Env) {
    let a = upload(
        &env,
        "photo",
        "roto.jpg",
        "image/jpeg",
        b"not a jpeg at all".to_vec(),
    )
    .await;
    env.run(&StoreFile {
        attachment_id: a.id,
    })
    .await;
    let failed = state_becomes(&env, a.id, "failed").await;
    let reason = failed.error.unwrap();
    assert!(reason.contains("photo"), "{reason}");
    // The file itself stays downloadable; the thumbnail job is dead with
    // the same reason.
    assert!(
        env.services
            .storage
            .head(&failed.storage_key)
            .await
            .unwrap()
            .is_some()
    );
    // Its job id is the job name and the attachment id.
    let id = JobId::parse(format!("file.thumbnail:{}", a.id)).unwrap();
    let s = env.broker();
    eventually(
        Duration::from_secs(10),
        "the thumbnail job dead",
        || async { s.job(&id).await.unwrap().unwrap().state == JobState::Dead },
    )
    .await;
    let info = s.job(&id).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Dead);
    assert!(info.last_error.unwrap().contains("photo"));
    env.finish().await;
}

async fn documents_are_stored_without_a_thumbnail(env: Env) {
    let pdf = b"%PDF-1.7\n% receipt\n".to_vec();
    let a = upload(
        &env,
        "document",
        "recibo.pdf",
        "application/pdf",
        pdf.clone(),
    )
    .await;
    env.run(&StoreFile {
        attachment_id: a.id,
    })
    .await;
    let stored = env.store().attachment(a.id).await.unwrap();
    assert_eq!(stored.state, "stored");
    assert_eq!(stored.thumb_key, None);
    assert_eq!(
        env.services.storage.get(&stored.storage_key).await.unwrap(),
        pdf
    );
    env.finish().await;
}

/// An attempt that moved the file and died before it marked the row: the
/// next attempt finds the file in place and finishes the job.
async fn a_move_cut_short_is_finished_by_the_next_attempt(env: Env) {
    let a = upload(
        &env,
        "document",
        "guia.pdf",
        "application/pdf",
        b"%PDF-1.7".to_vec(),
    )
    .await;
    let dest = format!("attachments/{}/{}/guia.pdf", a.parcel_id, a.id);
    env.services
        .storage
        .rename(a.upload_key.as_deref().unwrap(), &dest)
        .await
        .unwrap();
    env.run(&StoreFile {
        attachment_id: a.id,
    })
    .await;
    let stored = env.store().attachment(a.id).await.unwrap();
    assert_eq!(
        (stored.state.as_str(), stored.storage_key.as_str()),
        ("stored", dest.as_str())
    );
    env.finish().await;
}

/// An upload that is gone (the clean-up took it) fails the attachment with
/// the reason; the job goes to the dead set, not round and round.
async fn an_upload_that_is_gone_fails_the_attachment(env: Env) {
    let a = upload(&env, "photo", "x.png", "image/png", photo()).await;
    env.services
        .storage
        .delete(a.upload_key.as_deref().unwrap())
        .await
        .unwrap();
    let id = env
        .services
        .client
        .enqueue(&StoreFile {
            attachment_id: a.id,
        })
        .await
        .unwrap()
        .id;
    let failed = state_becomes(&env, a.id, "failed").await;
    assert!(failed.error.unwrap().contains("is gone"));
    let s = env.broker();
    eventually(Duration::from_secs(10), "the job dead", || async {
        s.job(&id).await.unwrap().unwrap().state == JobState::Dead
    })
    .await;
    env.finish().await;
}

macro_rules! on_both_stacks {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Env::start(false, &[], &["files"]).await).await;
                }
            )*
        }
        mod production_on_s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let vars = super::s3_vars().await;
                    super::$name(super::Env::start(true, &vars, &["files"]).await).await;
                }
            )*
        }
    };
}

on_both_stacks!(
    photos_are_stored_then_get_a_thumbnail,
    a_photo_that_does_not_decode_fails_with_the_reason,
    documents_are_stored_without_a_thumbnail,
    a_move_cut_short_is_finished_by_the_next_attempt,
    an_upload_that_is_gone_fails_the_attachment,
);
