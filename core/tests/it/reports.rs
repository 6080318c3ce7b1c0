//! The report rows against both engines (a fresh SQLite file, or a fresh
//! PostgreSQL database from `TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, per test): the filters a
//! report is asked with, keyset pages, totals, the lifecycle the report
//! jobs drive, and the notifications that tell the requester.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use paqueteria_core::domain::{Grams, Money, ParcelEvent, Phone, Role, Service};
use paqueteria_core::store::{
    Actor, Handover, NewCustomer, NewParcel, Parcel, ReportRow, Store, StoreError,
};
use serde_json::json;

use paqueteria_testkit::{TestStore as TestDb, branch, two_branches_and_a_tariff};

/// An operator at `branch`.
fn operator_at(branch: i64) -> Actor {
    Actor {
        user_id: None,
        role: Role::Operator,
        branch_id: Some(branch),
    }
}

/// Three branches and one tariff ($ 8.000 + $ 2.000 per started kg).
async fn branches(s: &Store) -> [i64; 3] {
    let (bog, med) = two_branches_and_a_tariff(s).await;
    let cal = s
        .create_branch(&branch("CAL-01", "Cali Sur", "Cali"))
        .await
        .unwrap();
    [bog, med, cal.id]
}

fn customer(phone: String, name: String) -> NewCustomer {
    NewCustomer {
        phone: Phone::parse(&phone).unwrap(),
        name,
        email: None,
        document: None,
        address: String::new(),
    }
}

/// Parcel `n` from `a` to `b`, weighing `grams`.
async fn parcel(s: &Store, a: i64, b: i64, n: u32, grams: u32) -> Parcel {
    s.register_parcel(
        &NewParcel {
            sender: customer("+573001110000".to_owned(), "Ana Gómez".to_owned()),
            recipient: customer(format!("+5730022{n:05}"), format!("Cliente {n}")),
            origin_branch_id: a,
            destination_branch_id: b,
            service: Service::BranchPickup,
            delivery_address: String::new(),
            package_type: "box".to_owned(),
            zone: "national".to_owned(),
            weight: Grams(grams),
            dimensions_mm: [300, 200, 100],
            declared_value: Money::units(100_000),
            cod_amount: Money::ZERO,
        },
        &operator_at(a),
    )
    .await
    .unwrap()
    .parcel
}

/// Every row of a report, read in keyset pages of `page`.
async fn all_rows(s: &Store, filters: &serde_json::Value, page: i64) -> Vec<ReportRow> {
    let mut out: Vec<ReportRow> = Vec::new();
    loop {
        let rows = s.report_rows(filters, out.last(), page).await.unwrap();
        assert!(rows.len() <= page as usize);
        if rows.is_empty() {
            break;
        }
        out.extend(rows);
    }
    out
}

fn codes(rows: &[ReportRow]) -> Vec<String> {
    rows.iter().map(|r| r.tracking_code.clone()).collect()
}

fn codes_of(ps: &[&Parcel]) -> Vec<String> {
    ps.iter()
        .map(|p| p.tracking_code.as_str().to_owned())
        .collect()
}

async fn report_rows_follow_the_filters_in_keyset_pages_with_names_and_totals(db: TestDb) {
    let s = &db.store;
    let [bog, med, cal] = branches(s).await;
    // Day one: two parcels; a day later: three more.
    let p1 = parcel(s, bog, med, 1, 1_500).await;
    let p2 = parcel(s, med, cal, 2, 500).await;
    db.clock.advance(Duration::from_secs(24 * 3600));
    let day_two = db.clock.now_ms();
    let p3 = parcel(s, bog, cal, 3, 2_000).await;
    let p4 = parcel(s, cal, bog, 4, 3_250).await;
    let p5 = parcel(s, bog, med, 5, 750).await;
    let p4 = s
        .apply_event(
            p4.id,
            p4.version,
            &ParcelEvent::Receive,
            &operator_at(cal),
            &Handover::NONE,
        )
        .await
        .unwrap();

    // No filters: everything, in registration order, whatever the page size.
    let everything = all_rows(s, &json!({}), 1_000).await;
    assert_eq!(codes(&everything), codes_of(&[&p1, &p2, &p3, &p4, &p5]));
    assert_eq!(codes(&all_rows(s, &json!({}), 2).await), codes(&everything));
    let first = &everything[0];
    assert_eq!(
        (
            first.sender.as_str(),
            first.recipient.as_str(),
            first.origin.as_str(),
            first.destination.as_str(),
            first.status.as_str(),
            first.weight_grams,
            first.quoted_minor,
            first.created_at_ms,
        ),
        (
            "Ana Gómez",
            "Cliente 1",
            "Bogotá Centro",
            "Medellín Norte",
            "REGISTERED",
            1_500,
            p1.quoted_amount.minor(),
            p1.created_at_ms,
        )
    );

    // The shape the app stores: nulls for filters not given.
    let unset = json!({"from_ms": null, "to_ms": null, "branch_id": null, "status": null});
    assert_eq!(codes(&all_rows(s, &unset, 3).await), codes(&everything));

    // A date range, inclusive at both ends.
    let second_day = json!({"from_ms": day_two, "to_ms": p5.created_at_ms});
    assert_eq!(
        codes(&all_rows(s, &second_day, 2).await),
        codes_of(&[&p3, &p4, &p5])
    );
    let first_day = json!({"to_ms": day_two - 1});
    assert_eq!(
        codes(&all_rows(s, &first_day, 1).await),
        codes_of(&[&p1, &p2])
    );

    // A branch: parcels leaving it or bound for it.
    let cali = json!({"branch_id": cal});
    assert_eq!(
        codes(&all_rows(s, &cali, 1).await),
        codes_of(&[&p2, &p3, &p4])
    );

    // A status, alone and with the others.
    let received = json!({"status": "RECEIVED"});
    assert_eq!(codes(&all_rows(s, &received, 10).await), codes_of(&[&p4]));
    let narrow = json!({"from_ms": day_two, "branch_id": bog, "status": "REGISTERED"});
    assert_eq!(
        codes(&all_rows(s, &narrow, 10).await),
        codes_of(&[&p3, &p5])
    );
    assert!(
        all_rows(s, &json!({"branch_id": 999_999}), 10)
            .await
            .is_empty()
    );

    // Totals agree with the rows, filter for filter.
    for f in [
        json!({}),
        second_day,
        cali,
        narrow,
        json!({"status": "DELIVERED"}),
    ] {
        let rows = all_rows(s, &f, 1_000).await;
        let t = s.report_totals(&f).await.unwrap();
        assert_eq!(
            (t.count, t.weight_grams, t.quoted_minor),
            (
                rows.len() as i64,
                rows.iter().map(|r| r.weight_grams).sum(),
                rows.iter().map(|r| r.quoted_minor).sum()
            ),
            "{f}"
        );
    }
    let all = s.report_totals(&json!({})).await.unwrap();
    assert_eq!((all.count, all.weight_grams), (5, 8_000));
    db.finish().await;
}

async fn a_report_goes_from_pending_through_running_to_done_or_failed(db: TestDb) {
    let s = &db.store;
    let err = s.create_report("csv", &json!({}), None).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { field: "kind", .. }),
        "{err:?}"
    );

    let filters = json!({"from_ms": 1, "to_ms": 2, "branch_id": null, "status": "DELIVERED"});
    let r = s.create_report("pdf", &filters, None).await.unwrap();
    assert_eq!(
        (r.kind.as_str(), r.state.as_str(), r.progress, &r.filters),
        ("pdf", "pending", 0, &filters)
    );
    s.set_report_job(r.id, "job-1").await.unwrap();
    // Progress only moves while running.
    s.report_progress(r.id, 30).await.unwrap();
    assert_eq!(s.report(r.id).await.unwrap().progress, 0);
    s.start_report(r.id).await.unwrap();
    s.report_progress(r.id, 45).await.unwrap();
    let running = s.report(r.id).await.unwrap();
    assert_eq!(
        (
            running.state.as_str(),
            running.progress,
            running.job_id.as_deref()
        ),
        ("running", 45, Some("job-1"))
    );
    s.report_progress(r.id, 250).await.unwrap();
    assert_eq!(s.report(r.id).await.unwrap().progress, 100);

    let key = format!("reports/{}.pdf", r.id);
    s.finish_report(r.id, &key, 12_345).await.unwrap();
    let done = s.report(r.id).await.unwrap();
    assert_eq!(
        (
            done.state.as_str(),
            done.progress,
            done.file_key.as_deref(),
            done.error
        ),
        ("done", 100, Some(key.as_str()), None)
    );
    assert!(done.finished_at_ms.is_some());
    assert_eq!(s.report_size(r.id).await.unwrap(), Some(12_345));
    // A done report is not started again.
    s.start_report(r.id).await.unwrap();
    assert_eq!(s.report(r.id).await.unwrap().state, "done");

    let x = s.create_report("xlsx", &json!({}), None).await.unwrap();
    s.start_report(x.id).await.unwrap();
    s.fail_report(x.id, "storage refused the file")
        .await
        .unwrap();
    let failed = s.report(x.id).await.unwrap();
    assert_eq!(
        (
            failed.state.as_str(),
            failed.file_key,
            failed.error.as_deref()
        ),
        ("failed", None, Some("storage refused the file"))
    );
    assert_eq!(s.report_size(x.id).await.unwrap(), None);
    assert!(matches!(
        s.report_size(999_999).await,
        Err(StoreError::NotFound(_))
    ));
    db.finish().await;
}

async fn the_requester_is_notified_once_per_report_and_event(db: TestDb) {
    let s = &db.store;
    let user_id = paqueteria_testkit::supervisor(s).await;
    let r = s
        .create_report("pdf", &json!({}), Some(user_id))
        .await
        .unwrap();
    let key = Store::report_notification_key(r.id, "report_ready");
    let context = json!({"report_id": r.id, "download_url": "http://x/api/v1/reports/1/download"});
    let first = s
        .notify_user(
            user_id,
            "report_ready",
            "Su reporte está listo",
            &context,
            &key,
        )
        .await
        .unwrap()
        .unwrap();
    // A step run twice writes nothing new.
    let again = s
        .notify_user(
            user_id,
            "report_ready",
            "Su reporte está listo",
            &context,
            &key,
        )
        .await
        .unwrap();
    assert_eq!(again, Some(first));
    let failed_key = Store::report_notification_key(r.id, "report_failed");
    s.notify_user(user_id, "report_failed", "Falló", &json!({}), &failed_key)
        .await
        .unwrap();
    // An unknown user gets nothing.
    assert_eq!(
        s.notify_user(999_999, "report_ready", "x", &json!({}), "report:0:x")
            .await
            .unwrap(),
        None
    );

    let sent = s.report_notifications(r.id).await.unwrap();
    assert_eq!(
        sent.iter()
            .map(|n| (
                n.channel.as_str(),
                n.recipient.as_str(),
                n.template.as_str(),
                n.state.as_str()
            ))
            .collect::<Vec<_>>(),
        vec![
            ("email", "jefa@example.com", "report_ready", "pending"),
            ("email", "jefa@example.com", "report_failed", "pending"),
        ]
    );
    assert_eq!(sent[0].id, first);
    assert_eq!(sent[0].context["download_url"], context["download_url"]);
    // Pending rows are what the outbox relay turns into email jobs.
    let pending: Vec<i64> = s
        .pending_notifications(10)
        .await
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    assert!(pending.contains(&first), "{pending:?}");
    assert!(s.report_notifications(r.id + 1).await.unwrap().is_empty());
    db.finish().await;
}

macro_rules! report_suite {
    ($engine:ident; $($case:ident),* $(,)?) => {
        mod $engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::TestDb::$engine().await).await;
                }
            )*
        }
    };
}

report_suite!(sqlite;
    report_rows_follow_the_filters_in_keyset_pages_with_names_and_totals,
    a_report_goes_from_pending_through_running_to_done_or_failed,
    the_requester_is_notified_once_per_report_and_event,
);

report_suite!(postgres;
    report_rows_follow_the_filters_in_keyset_pages_with_names_and_totals,
    a_report_goes_from_pending_through_running_to_done_or_failed,
    the_requester_is_notified_once_per_report_and_event,
);
