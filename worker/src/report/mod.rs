//! Rendering the parcel report: a PDF (printpdf, built-in Helvetica) and an
//! Excel workbook (rust_xlsxwriter) of the same rows and totals.
//!
//! Both renderers take the rows as an iterator and write as they go, so a
//! report of any size is rendered in bounded memory: [`write`] reads the
//! rows from the store in keyset pages and hands them over a bounded
//! channel to the renderer on the blocking pool. The `report.pdf` and
//! `report.xlsx` handlers and `bench-report` both go through it.

pub mod pdf;
pub mod xlsx;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::TimeZone;
use paqueteria_core::domain::Money;
use paqueteria_core::store::{ReportRow, Store, StoreError};

/// Rows read from the store at a time.
pub const PAGE_ROWS: i64 = 1_000;
/// Pages of rows waiting for the renderer at most.
const QUEUED_PAGES: usize = 2;

/// The two formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A PDF document.
    Pdf,
    /// An Excel workbook.
    Xlsx,
}

impl Format {
    /// The file extension, also the report row's `kind`.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Xlsx => "xlsx",
        }
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Reading the rows failed.
    #[error("reading the rows: {0}")]
    Store(#[from] StoreError),
    /// Writing the file failed.
    #[error("writing the file: {0}")]
    File(String),
    /// The renderer panicked.
    #[error("the renderer stopped: {0}")]
    Renderer(String),
}

/// Writes the report of the parcels `filters` select to `path` as
/// `format`. Rows are read from `store` in keyset pages of [`PAGE_ROWS`]
/// while
/// the renderer draws on the blocking pool; `progress` hears the rows
/// drawn so far (after each PDF page, every thousand workbook rows, and at
/// the end) and its future is awaited before the next news.
pub async fn write<F>(
    store: &Store,
    filters: &serde_json::Value,
    heading: Heading,
    format: Format,
    path: &Path,
    mut progress: impl FnMut(usize) -> F,
) -> Result<Summary, WriteError>
where
    F: std::future::Future<Output = ()>,
{
    let (rows_tx, rows_rx) = tokio::sync::mpsc::channel::<Vec<ReportRow>>(QUEUED_PAGES);
    // Every piece of news is delivered (a number a page at most).
    let (drawn_tx, mut drawn_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let target = path.to_path_buf();
    let render = tokio::task::spawn_blocking(move || {
        render_file(format, &heading, rows_rx, target, &drawn_tx)
    });
    // Feed the renderer page by page; it ends when the sender drops.
    let feed = async move {
        let mut after: Option<ReportRow> = None;
        loop {
            let page = store
                .report_rows(filters, after.as_ref(), PAGE_ROWS)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.clone());
            if rows_tx.send(page).await.is_err() {
                // The renderer stopped; its error says why.
                break;
            }
        }
        Ok::<_, StoreError>(())
    };
    // Follow the rows drawn until the renderer is done (its sender drops).
    let follow = async {
        while let Some(drawn) = drawn_rx.recv().await {
            progress(drawn).await;
        }
    };
    let (fed, ()) = tokio::join!(feed, follow);
    let rendered = render
        .await
        .map_err(|e| WriteError::Renderer(e.to_string()))?;
    // A failed read ends the rows early: the file is incomplete.
    fed?;
    rendered
}

/// Renders the pages of rows from `rows` to `path` on this (blocking)
/// thread, telling `drawn` how many rows are drawn.
fn render_file(
    format: Format,
    heading: &Heading,
    mut rows: tokio::sync::mpsc::Receiver<Vec<ReportRow>>,
    path: PathBuf,
    drawn: &tokio::sync::mpsc::UnboundedSender<usize>,
) -> Result<Summary, WriteError> {
    let rows = std::iter::from_fn(move || rows.blocking_recv()).flatten();
    let mut progress = |n: usize| {
        // The follower only stops once the renderer is done.
        let _ = drawn.send(n);
    };
    let file_error =
        |e: &dyn std::fmt::Display| WriteError::File(format!("{}: {e}", path.display()));
    match format {
        Format::Pdf => {
            let file = std::fs::File::create(&path).map_err(|e| file_error(&e))?;
            let out = std::io::BufWriter::with_capacity(256 * 1024, file);
            let (mut out, summary) =
                pdf::render(heading, rows, out, &mut progress).map_err(|e| file_error(&e))?;
            out.flush().map_err(|e| file_error(&e))?;
            Ok(summary)
        }
        Format::Xlsx => {
            xlsx::render(heading, rows, &path, &mut progress).map_err(|e| file_error(&e))
        }
    }
}

/// What heads a report.
#[derive(Clone, Debug)]
pub struct Heading {
    /// Title line.
    pub title: String,
    /// The filters in words.
    pub filters: String,
    /// When it was made (Unix ms).
    pub generated_at_ms: i64,
    /// The zone dates are shown in.
    pub tz: chrono_tz::Tz,
}

/// The totals row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Parcels.
    pub count: i64,
    /// Grams.
    pub weight_grams: i64,
    /// Quoted amounts, minor units.
    pub quoted_minor: i64,
}

impl Totals {
    /// Counts one more row.
    pub fn add(&mut self, r: &ReportRow) {
        self.count += 1;
        self.weight_grams += r.weight_grams;
        self.quoted_minor += r.quoted_minor;
    }

    /// `Total: N envíos · X kg · $ Y`.
    pub fn line(&self) -> String {
        format!(
            "Total: {} envíos · {} kg · {}",
            group(self.count.unsigned_abs()),
            kg(self.weight_grams),
            Money(self.quoted_minor)
        )
    }
}

/// What a renderer wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rows in the table.
    pub rows: i64,
    /// Pages (PDF; 1 for a workbook).
    pub pages: usize,
    /// The totals row.
    pub totals: Totals,
}

/// `n` with `.` between thousands (Colombian style, as [`Money`]).
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// Grams as kilograms rounded to one decimal (half up), Colombian style:
/// `1.250,5`.
pub fn kg(grams: i64) -> String {
    let sign = if grams < 0 { "-" } else { "" };
    let tenths = (grams.unsigned_abs() + 50) / 100;
    format!("{sign}{},{}", group(tenths / 10), tenths % 10)
}

/// A Unix-ms time as a local date, `2026-03-01`.
pub fn local_date(ms: i64, tz: chrono_tz::Tz) -> String {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// A Unix-ms time as a local date and time, `2026-03-01 14:05`.
pub fn local_time(ms: i64, tz: chrono_tz::Tz) -> String {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A parcel status as staff read it (the store keeps the code).
pub fn status_label(status: &str) -> &str {
    match status {
        "REGISTERED" => "Registrado",
        "RECEIVED" => "Recibido",
        "IN_TRANSIT" => "En tránsito",
        "AT_DESTINATION" => "En destino",
        "OUT_FOR_DELIVERY" => "En reparto",
        "DELIVERED" => "Entregado",
        "CANCELLED" => "Cancelado",
        "RETURNED" => "Devuelto",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_and_counts_read_the_colombian_way() {
        assert_eq!(kg(1_500), "1,5");
        assert_eq!(kg(750), "0,8");
        assert_eq!(kg(1_249), "1,2");
        assert_eq!(kg(0), "0,0");
        assert_eq!(kg(12_345_678), "12.345,7");
        assert_eq!(group(1_000), "1.000");
        assert_eq!(group(999), "999");
        let t = Totals {
            count: 10_000,
            weight_grams: 15_000_000,
            quoted_minor: 1_250_050,
        };
        assert_eq!(t.line(), "Total: 10.000 envíos · 15.000,0 kg · $ 12.500,50");
    }
}
