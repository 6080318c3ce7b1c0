//! What the scheduler tells Prometheus: missed ticks, the leader's loop
//! heartbeat, each entry's period and the last success of its job (kept
//! in the state file across restarts).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::beat::{file_lock, ms, scheduler, sqlite_broker};

fn entry(name: &str, cron: &str, policy: &str) -> String {
    format!(
        "[[entry]]\nname = \"{name}\"\ncron = \"{cron}\"\njob = \"system.ping\"\ncatch_up = \"{policy}\"\n"
    )
}

#[tokio::test]
async fn missed_ticks_heartbeat_and_periods_are_exported() {
    let dir = tempfile::tempdir().unwrap();
    let broker = sqlite_broker(dir.path()).await;
    let schedule = [
        entry("hourly", "0 * * * *", "skip"),
        entry("five", "*/5 * * * *", "once"),
        entry("weekdays", "0 9 * * 1-5", "skip"),
    ]
    .concat();
    let t0 = ms("2026-11-23T10:30:00Z");
    let s = scheduler(&schedule, dir.path(), &broker, file_lock(dir.path()), t0);
    let m = s.metrics().clone();
    let text = m.render();
    // Before the first tick every entry has its series, at 0.
    assert!(
        text.contains(r#"paqueteria_scheduler_missed_ticks_total{entry="hourly"} 0"#),
        "{text}"
    );
    assert_eq!(m.heartbeat.get(), 0.0, "not leading yet");
    let period = |e: &str| m.interval.with_label_values(&[e]).get();
    assert_eq!(period("hourly"), 3_600.0);
    assert_eq!(period("five"), 300.0);
    // Friday 09:00 to Monday 09:00.
    assert_eq!(period("weekdays"), 3.0 * 86_400.0);
    drop(s);

    // Down for ten hours: 11:00 … 20:00 passed with no scheduler.
    let back = ms("2026-11-23T20:40:00Z");
    let mut s = scheduler(&schedule, dir.path(), &broker, file_lock(dir.path()), back);
    let step = s.step(back).await.unwrap();
    assert!(step.leader);
    let m = s.metrics();
    let missed = |e: &str| m.missed.with_label_values(&[e]).get();
    assert_eq!(missed("hourly"), 10, "skipped");
    // 10:35 … 20:30: before the five minutes of failover grace; fired once, late.
    assert_eq!(missed("five"), 120);
    assert_eq!(
        missed("weekdays"),
        1,
        "Monday 09:00 in Bogotá (14:00 UTC), skipped"
    );
    assert_eq!(m.heartbeat.get(), back as f64 / 1_000.0);
    assert_eq!(m.is_leader.get(), 1);
}

#[tokio::test]
async fn the_last_success_of_an_entry_is_exported_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = sqlite_broker(dir.path()).await;
    let schedule = entry("hourly", "0 * * * *", "once");
    let t0 = ms("2026-11-23T10:30:00Z");
    let mut s = scheduler(&schedule, dir.path(), &broker, file_lock(dir.path()), t0);
    s.step(t0).await.unwrap();
    let t1 = ms("2026-11-23T11:00:01Z");
    assert_eq!(
        s.step(t1).await.unwrap().fired,
        ["hourly:2026-11-23T11:00:00Z"]
    );
    let success = |s: &paqueteria_jobs::scheduler::Scheduler| {
        s.metrics()
            .last_success
            .with_label_values(&["hourly"])
            .get()
    };
    assert_eq!(success(&s), 0.0, "the job has not run");

    // A worker runs the tick's job.
    let leased = broker
        .lease(&["default".to_owned()], 1, "w1")
        .await
        .unwrap()
        .remove(0);
    broker.ack(&leased.lease_ref(), None).await.unwrap();
    let finished = broker
        .job(&leased.id)
        .await
        .unwrap()
        .unwrap()
        .finished_at_ms
        .unwrap();
    s.step(t1 + 5_000).await.unwrap();
    assert_eq!(success(&s), finished as f64 / 1_000.0);
    drop(s);

    // A restart, even one that does not lead yet, reports it from the state.
    let s = scheduler(&schedule, dir.path(), &broker, file_lock(dir.path()), t1);
    assert_eq!(success(&s), finished as f64 / 1_000.0);
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(state.contains("last_success_ms"), "{state}");

    // A tick whose job dies leaves the last success where it was.
    drop(s);
    let mut s = scheduler(&schedule, dir.path(), &broker, file_lock(dir.path()), t1);
    let t2 = ms("2026-11-23T12:00:01Z");
    assert_eq!(
        s.step(t2).await.unwrap().fired,
        ["hourly:2026-11-23T12:00:00Z"]
    );
    let leased = broker
        .lease(&["default".to_owned()], 1, "w1")
        .await
        .unwrap()
        .remove(0);
    broker.dead(&leased.lease_ref(), "boom").await.unwrap();
    s.step(t2 + 5_000).await.unwrap();
    assert_eq!(success(&s), finished as f64 / 1_000.0);
}
