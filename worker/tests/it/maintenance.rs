//! The maintenance jobs through the real runtime and broker, on both
//! stacks: the embedded one (SQLite store, SQLite engine, local files) and
//! the production one (PostgreSQL store in a fresh database, Redis under a
//! fresh prefix). The store's clock is moved instead of sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use crate::common::{Env, TO_DESTINATION, register, setup, walk};
use paqueteria_core::domain::{Money, ParcelEvent, ParcelStatus};
use paqueteria_core::files::LocalStorage;
use paqueteria_core::jobs::{
    CleanupReports, CleanupTmp, ExpireRegistrations, RefreshDashboard, SendDailyReminders,
};

async fn reminders_go_once_per_parcel_and_day_with_the_fee_so_far(env: Env) {
    let s = env.store();
    let (a, b) = setup(s).await;
    let waiting = walk(s, register(s, a, b, 1, true).await, &TO_DESTINATION).await;
    let not_arrived = walk(s, register(s, a, b, 2, false).await, &TO_DESTINATION[..2]).await;
    // 24 h free, then three started days at $ 1.000.
    env.clock.advance(Duration::from_secs(3 * 86_400 + 3_600));
    let r = env
        .run(&SendDailyReminders {
            date: "2026-11-23".to_owned(),
        })
        .await;
    assert_eq!(
        (r["parcels"].as_u64(), r["messages"].as_u64()),
        (Some(1), Some(2))
    );
    let reminders = |p: i64| async move {
        s.notifications(p)
            .await
            .unwrap()
            .into_iter()
            .filter(|n| n.template == "pickup_reminder")
            .collect::<Vec<_>>()
    };
    let sent = reminders(waiting.id).await;
    assert_eq!(
        sent.iter().map(|n| n.channel.as_str()).collect::<Vec<_>>(),
        ["sms", "email"]
    );
    let sms = &sent[0];
    assert!(
        sms.body.contains(waiting.tracking_code.as_str()),
        "{}",
        sms.body
    );
    assert!(sms.body.contains("$ 3.000"), "{}", sms.body);
    assert!(sms.body.contains("Medellín Norte"), "{}", sms.body);
    assert_eq!(sent[1].recipient, "cliente1@example.com");
    // Both were handed to the broker as send jobs.
    for n in &sent {
        let job = n.job_id.as_ref().expect("enqueued");
        let id = paqueteria_jobs::JobId::parse(job.as_str()).unwrap();
        assert!(env.broker().job(&id).await.unwrap().is_some());
    }
    assert!(reminders(not_arrived.id).await.is_empty());

    // The same day again writes nothing new; the next day writes again.
    assert_eq!(
        s.add_pickup_reminders(&waiting, "2026-11-23")
            .await
            .unwrap(),
        0
    );
    let r = env
        .run(&SendDailyReminders {
            date: "2026-11-24".to_owned(),
        })
        .await;
    assert_eq!(r["messages"].as_u64(), Some(2));
    assert_eq!(reminders(waiting.id).await.len(), 4);
    env.finish().await;
}

async fn registrations_never_handed_in_expire_after_fifteen_days(env: Env) {
    let s = env.store();
    let (a, b) = setup(s).await;
    let stale = register(s, a, b, 1, false).await;
    let received = walk(
        s,
        register(s, a, b, 2, false).await,
        &[ParcelEvent::Receive],
    )
    .await;
    env.clock.advance(Duration::from_secs(15 * 86_400 + 60));
    let fresh = register(s, a, b, 3, false).await;
    let r = env.run(&ExpireRegistrations::default()).await;
    assert_eq!(r["cancelled"].as_u64(), Some(1));
    let stale = s.parcel(stale.id).await.unwrap();
    assert_eq!(stale.status, ParcelStatus::Cancelled);
    let history = s.history(stale.id).await.unwrap();
    let last = history.last().unwrap();
    assert!(
        last.reason.as_deref().unwrap_or("").contains("15 days"),
        "{last:?}"
    );
    assert_eq!(
        s.parcel(received.id).await.unwrap().status,
        ParcelStatus::Received
    );
    assert_eq!(
        s.parcel(fresh.id).await.unwrap().status,
        ParcelStatus::Registered
    );
    env.finish().await;
}

async fn the_dashboard_cache_holds_todays_figures(env: Env) {
    let s = env.store();
    let (a, b) = setup(s).await;
    assert!(s.dashboard().await.unwrap().is_none());
    walk(s, register(s, a, b, 1, false).await, &TO_DESTINATION).await;
    walk(
        s,
        register(s, a, b, 2, false).await,
        &[ParcelEvent::Receive],
    )
    .await;
    register(s, a, b, 3, false).await;
    env.clock.advance(Duration::from_secs(2 * 86_400));
    env.run(&RefreshDashboard {}).await;
    let d = s.dashboard().await.unwrap().expect("saved");
    assert_eq!(d.by_status.get("AT_DESTINATION"), Some(&1));
    assert_eq!(d.by_status.get("RECEIVED"), Some(&1));
    assert_eq!(d.by_status.get("REGISTERED"), Some(&1));
    assert_eq!(d.waiting_past_grace, 1);
    // Two days later, nothing happened "today".
    assert_eq!((d.received_today, d.revenue_today), (0, Money::ZERO));
    let medellin: i64 = d
        .by_branch
        .iter()
        .filter(|c| c.branch_name == "Medellín Norte")
        .map(|c| c.count)
        .sum();
    assert_eq!(medellin, 3);

    // Today's work shows after the next refresh.
    walk(
        s,
        register(s, a, b, 4, false).await,
        &[ParcelEvent::Receive],
    )
    .await;
    env.run(&RefreshDashboard {}).await;
    let d = s.dashboard().await.unwrap().unwrap();
    assert_eq!(d.received_today, 1);
    assert_eq!(d.revenue_today, Money::units(12_000));
    assert_eq!(d.by_status.get("RECEIVED"), Some(&2));
    env.finish().await;
}

macro_rules! on_both_stacks {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Env::embedded().await).await; })*
        }
        mod production {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Env::production().await).await; })*
        }
    };
}

on_both_stacks!(
    reminders_go_once_per_parcel_and_day_with_the_fee_so_far,
    registrations_never_handed_in_expire_after_fifteen_days,
    the_dashboard_cache_holds_todays_figures,
);

/// Old temp objects (abandoned uploads, partial results) go; young ones
/// and everything outside the temp prefixes stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temp_clean_up_deletes_only_what_is_old() {
    let env = Env::embedded().await;
    let storage = &env.services.storage;
    for key in [
        "uploads/old-1",
        "tmp/reports/old.pdf",
        "uploads/young",
        "reports/9.pdf",
    ] {
        storage
            .put_bytes(key, b"x".to_vec(), "application/octet-stream")
            .await
            .unwrap();
    }
    let files = LocalStorage::open(&env.dir.path().join("files")).unwrap();
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 86_400);
    for key in ["uploads/old-1", "tmp/reports/old.pdf", "reports/9.pdf"] {
        std::fs::File::options()
            .write(true)
            .open(files.path_of(key).unwrap())
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
    }
    let r = env.run(&CleanupTmp::default()).await;
    assert_eq!(r["deleted"].as_u64(), Some(2));
    for (key, kept) in [
        ("uploads/old-1", false),
        ("tmp/reports/old.pdf", false),
        ("uploads/young", true),
        // Outside the temp prefixes: never touched here.
        ("reports/9.pdf", true),
    ] {
        assert_eq!(storage.head(key).await.unwrap().is_some(), kept, "{key}");
    }
    env.finish().await;
}

/// Expired reports go with their files; a file someone already deleted by
/// hand is skipped with a warning and the run goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_clean_up_skips_files_already_gone() {
    report_clean_up_skips(Env::embedded().await).await;
}

/// The same on S3: the object is deleted by another client, as an operator
/// would with the console or the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_clean_up_skips_s3_objects_already_gone() {
    let vars = crate::common::s3_vars().await;
    report_clean_up_skips(Env::start(true, &vars, &["maintenance"]).await).await;
}

async fn report_clean_up_skips(env: Env) {
    let s = env.store();
    let storage = &env.services.storage;
    let mut ids = Vec::new();
    for n in 0..3 {
        let r = s
            .create_report("pdf", &serde_json::json!({}), None)
            .await
            .unwrap();
        let key = format!("reports/{}.pdf", r.id);
        storage
            .put_bytes(&key, vec![n; 10], "application/pdf")
            .await
            .unwrap();
        s.finish_report(r.id, &key, 10).await.unwrap();
        ids.push((r.id, key));
    }
    // The second file was removed by hand, outside the app.
    let by_hand = paqueteria_core::files::open(&env.services.settings.transports.files)
        .await
        .unwrap();
    assert!(by_hand.delete(&ids[1].1).await.unwrap());
    env.clock.advance(Duration::from_secs(8 * 86_400));
    // A report finished "now" (eight days later) is kept.
    let young = s
        .create_report("xlsx", &serde_json::json!({}), None)
        .await
        .unwrap();
    let young_key = format!("reports/{}.xlsx", young.id);
    storage
        .put_bytes(&young_key, vec![1], "application/octet-stream")
        .await
        .unwrap();
    s.finish_report(young.id, &young_key, 1).await.unwrap();

    let r = env.run(&CleanupReports::default()).await;
    assert_eq!(
        (
            r["deleted"].as_u64(),
            r["missing_files"].as_u64(),
            r["failed"].as_u64()
        ),
        (Some(3), Some(1), Some(0))
    );
    for (id, key) in &ids {
        assert!(s.report(*id).await.is_err(), "report {id} kept");
        assert!(storage.head(key).await.unwrap().is_none(), "{key} kept");
    }
    assert!(s.report(young.id).await.is_ok());
    assert!(storage.head(&young_key).await.unwrap().is_some());
    env.finish().await;
}
