//! `bench-report`: times the parcel report on a seeded store.
//!
//! Seeds `--parcels` parcels (default 10,000) into a fresh SQLite store in a
//! temp dir, then writes the report of all of them as a PDF and as an
//! Excel workbook through `paqueteria_worker::report::write`, the code the
//! `report.pdf` and `report.xlsx` jobs run (rows read in keyset pages of
//! 1,000 while the renderer draws on the blocking pool). Prints one JSON
//! line per format: rows, pages, milliseconds, bytes, the process's RSS
//! before, and its peak RSS while the report was written (`VmHWM`, reset
//! before each format through `/proc/self/clear_refs`).

use std::time::Instant;

use clap::Parser;
use paqueteria_core::domain::{Grams, Money, Phone, Role, Service};
use paqueteria_core::store::{Actor, NewBranch, NewCustomer, NewParcel, Store};
use paqueteria_jobs::Clock;
use paqueteria_worker::report::{self, Format, Heading};

#[derive(Parser)]
struct Args {
    /// Parcels in the report.
    #[arg(long, default_value_t = 10_000)]
    parcels: u32,
    /// Keep the files in this directory (to look at them).
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
    /// Use (and keep) this SQLite file; it is seeded only when it holds no
    /// parcels, so later runs skip the seeding.
    #[arg(long)]
    store: Option<std::path::PathBuf>,
}

/// A `/proc/self/status` figure, in kB.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Starts a new peak-RSS window (Linux: writing 5 to `clear_refs` resets
/// `VmHWM` to the current RSS). Says whether it worked.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

async fn seed(store: &Store, parcels: u32) -> anyhow::Result<()> {
    let mut branches = Vec::new();
    for (code, name) in [("BOG-01", "Bogotá Centro"), ("MED-01", "Medellín Norte")] {
        let b = store
            .create_branch(&NewBranch {
                code: code.to_owned(),
                name: name.to_owned(),
                city: name.to_owned(),
                address: String::new(),
                phone: None,
            })
            .await?;
        branches.push(b.id);
    }
    store
        .create_tariff(&paqueteria_testkit::demo_tariff())
        .await?;
    let actor = Actor {
        user_id: None,
        role: Role::Operator,
        branch_id: Some(branches[0]),
    };
    let customer = |n: u32, name: &str| -> anyhow::Result<NewCustomer> {
        Ok(NewCustomer {
            phone: Phone::parse(&format!("+57300{n:07}")).map_err(anyhow::Error::msg)?,
            name: format!("{name} {n}"),
            email: None,
            document: None,
            address: String::new(),
        })
    };
    for i in 0..parcels {
        store
            .register_parcel(
                &NewParcel {
                    sender: customer(i % 500, "Remitente")?,
                    recipient: customer(500 + i, "Destinatario")?,
                    origin_branch_id: branches[0],
                    destination_branch_id: branches[1],
                    service: Service::BranchPickup,
                    delivery_address: String::new(),
                    package_type: "box".to_owned(),
                    zone: "national".to_owned(),
                    weight: Grams(500 + (i % 20) * 250),
                    dimensions_mm: [300, 200, 100],
                    declared_value: Money::units(50_000),
                    cod_amount: Money::ZERO,
                },
                &actor,
            )
            .await?;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let db = args
        .store
        .clone()
        .unwrap_or_else(|| dir.path().join("bench.sqlite3"));
    let store = Store::open_sqlite(&db, Clock::system())
        .await?
        .with_pins(paqueteria_testkit::test_pins());
    let filters = serde_json::json!({});
    let held = store.report_totals(&filters).await?.count;
    if held == 0 {
        let seeding = Instant::now();
        seed(&store, args.parcels).await?;
        eprintln!("seeded {} parcels in {:?}", args.parcels, seeding.elapsed());
    } else {
        eprintln!("{} holds {held} parcels; not seeding", db.display());
    }
    for format in [Format::Pdf, Format::Xlsx] {
        let heading = Heading {
            title: "Reporte de envíos #1".to_owned(),
            filters: "Todas las fechas".to_owned(),
            generated_at_ms: paqueteria_jobs::clock::system_now_ms(),
            tz: chrono_tz::America::Bogota,
        };
        let path = dir.path().join(format!("report.{}", format.ext()));
        let rss_before = status_kb("VmRSS:");
        let windowed = reset_peak();
        let t = Instant::now();
        let summary = report::write(&store, &filters, heading, format, &path, |_| async {}).await?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let peak = status_kb("VmHWM:");
        println!(
            "{}",
            serde_json::json!({
                "format": format.ext(), "rows": summary.rows, "pages": summary.pages,
                "ms": (ms * 10.0).round() / 10.0, "bytes": std::fs::metadata(&path)?.len(),
                "rss_before_kb": rss_before, "peak_rss_kb": peak,
                "peak_is_this_format_only": windowed,
            })
        );
        if let Some(keep) = &args.keep {
            std::fs::create_dir_all(keep)?;
            std::fs::copy(&path, keep.join(format!("report.{}", format.ext())))?;
        }
    }
    Ok(())
}
