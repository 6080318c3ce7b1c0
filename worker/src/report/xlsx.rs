//! The Excel report: the same rows with typed cells (text, dates, weights
//! and amounts as numbers with a format), a header row and a totals row
//! whose formulas carry their computed values. The worksheet is written in
//! constant-memory mode: each row goes to a temp file as it is written.

use chrono::{Datelike, TimeZone};
use paqueteria_core::store::ReportRow;
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook, XlsxError};

use super::{Heading, Summary, Totals, local_time, status_label};

/// Column titles and widths (characters).
pub const COLUMNS: [(&str, f64); 9] = [
    ("Código", 16.0),
    ("Fecha", 11.0),
    ("Remitente", 28.0),
    ("Destinatario", 28.0),
    ("Origen", 20.0),
    ("Destino", 20.0),
    ("Estado", 14.0),
    ("Peso kg", 10.0),
    ("Valor", 16.0),
];

/// The sheet's name.
pub const SHEET: &str = "Envíos";

/// Row (0-based) of the column titles; the parcels start on the next.
pub const HEADER_ROW: u32 = 4;

fn date_cell(ms: i64, tz: chrono_tz::Tz) -> Option<ExcelDateTime> {
    let d = tz.timestamp_millis_opt(ms).single()?.date_naive();
    let (y, m, day) = (
        u16::try_from(d.year()).ok()?,
        u8::try_from(d.month()).ok()?,
        u8::try_from(d.day()).ok()?,
    );
    ExcelDateTime::from_ymd(y, m, day).ok()
}

/// Writes the workbook of `rows` to `path`; `progress` hears the number
/// of rows written every thousand rows and at the end.
pub fn render(
    heading: &Heading,
    rows: impl IntoIterator<Item = ReportRow>,
    path: &std::path::Path,
    progress: &mut dyn FnMut(usize),
) -> Result<Summary, XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let weight = Format::new().set_num_format("#,##0.0");
    let money = Format::new().set_num_format("\"$\" #,##0.00");
    let bold_int = Format::new().set_bold().set_num_format("#,##0");
    let bold_weight = weight.clone().set_bold();
    let bold_money = money.clone().set_bold();
    let sheet = book.add_worksheet_with_constant_memory()?;
    sheet.set_name(SHEET)?;
    for (c, (_, width)) in COLUMNS.iter().enumerate() {
        sheet.set_column_width(c as u16, *width)?;
    }
    sheet.write_string_with_format(0, 0, &heading.title, &bold)?;
    sheet.write_string(1, 0, &heading.filters)?;
    sheet.write_string(
        2,
        0,
        format!(
            "Generado el {}",
            local_time(heading.generated_at_ms, heading.tz)
        ),
    )?;
    for (c, (title, _)) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(HEADER_ROW, c as u16, *title, &bold)?;
    }
    sheet.set_freeze_panes(HEADER_ROW + 1, 0)?;

    let mut totals = Totals::default();
    let mut r = HEADER_ROW + 1;
    for row in rows {
        sheet.write_string(r, 0, &row.tracking_code)?;
        match date_cell(row.created_at_ms, heading.tz) {
            Some(d) => sheet.write_datetime_with_format(r, 1, &d, &date)?,
            None => sheet.write_blank(r, 1, &date)?,
        };
        sheet.write_string(r, 2, &row.sender)?;
        sheet.write_string(r, 3, &row.recipient)?;
        sheet.write_string(r, 4, &row.origin)?;
        sheet.write_string(r, 5, &row.destination)?;
        sheet.write_string(r, 6, status_label(&row.status))?;
        sheet.write_number_with_format(r, 7, row.weight_grams as f64 / 1000.0, &weight)?;
        sheet.write_number_with_format(r, 8, row.quoted_minor as f64 / 100.0, &money)?;
        totals.add(&row);
        r += 1;
        if totals.count % 1000 == 0 {
            progress(totals.count as usize);
        }
    }

    // The totals row: formulas over the rows above, with their values
    // (readers that do not recalculate show those).
    let (first, last) = (HEADER_ROW + 2, r);
    let kg = totals.weight_grams as f64 / 1000.0;
    let amount = totals.quoted_minor as f64 / 100.0;
    sheet.write_string_with_format(r, 0, "Total", &bold)?;
    if totals.count == 0 {
        sheet.write_number_with_format(r, 2, 0.0, &bold_int)?;
        sheet.write_number_with_format(r, 7, 0.0, &bold_weight)?;
        sheet.write_number_with_format(r, 8, 0.0, &bold_money)?;
    } else {
        let formula = |f: String, value: f64| Formula::new(f).set_result(value.to_string());
        sheet.write_formula_with_format(
            r,
            2,
            formula(format!("=COUNTA(A{first}:A{last})"), totals.count as f64),
            &bold_int,
        )?;
        sheet.write_formula_with_format(
            r,
            7,
            formula(format!("=SUM(H{first}:H{last})"), kg),
            &bold_weight,
        )?;
        sheet.write_formula_with_format(
            r,
            8,
            formula(format!("=SUM(I{first}:I{last})"), amount),
            &bold_money,
        )?;
    }
    book.save(path)?;
    progress(totals.count as usize);
    Ok(Summary {
        rows: totals.count,
        pages: 1,
        totals,
    })
}
