//! The PDF report: landscape A4, a heading on the first page, a table that
//! runs over as many pages as the rows need, the totals after the last
//! row, and "Página N de M" at the foot of every page.
//!
//! Memory stays bounded whatever the number of rows: printpdf draws one
//! page at a time (its `Op`s, built-in Helvetica, WinAnsi text) and this
//! module writes each finished page's content stream to the output at
//! once, compressed. It keeps only the object offsets for the
//! cross-reference table (a few bytes a page). The page count is known
//! only at the end, so each page gets a second, tiny content stream with
//! its footer, written after the last row; the page objects that join the
//! two come last.

use std::io::{self, Write};

use flate2::Compression;
use flate2::write::ZlibEncoder;
use paqueteria_core::domain::Money;
use paqueteria_core::store::ReportRow;
use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Mm, Op, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rgb, TextItem,
};

use super::{Heading, Summary, Totals, kg, local_date, local_time, status_label};

const PAGE_W: f32 = 297.0;
const PAGE_H: f32 = 210.0;
const MARGIN: f32 = 12.0;
const ROW_H: f32 = 5.0;
const FIRST_TOP: f32 = PAGE_H - MARGIN - 24.0;
const OTHER_TOP: f32 = PAGE_H - MARGIN - 6.0;
const BOTTOM: f32 = MARGIN + 10.0;
const CELL_PT: f32 = 7.5;
const FONT: BuiltinFont = BuiltinFont::Helvetica;
const BOLD: BuiltinFont = BuiltinFont::HelveticaBold;

/// Columns: title, width (mm), right-aligned. The widths fill the
/// 273 mm between the margins.
const COLUMNS: [(&str, f32, bool); 9] = [
    ("Código", 32.0, false),
    ("Fecha", 20.0, false),
    ("Remitente", 42.0, false),
    ("Destinatario", 42.0, false),
    ("Origen", 32.0, false),
    ("Destino", 32.0, false),
    ("Estado", 26.0, false),
    ("Peso kg", 18.0, true),
    ("Valor", 29.0, true),
];

/// Object numbers fixed up front; page content streams follow from 5.
const CATALOG: usize = 1;
const PAGES: usize = 2;
const RESOURCES: usize = 3;
const INFO: usize = 4;

fn rows_on(first: bool) -> usize {
    let top = if first { FIRST_TOP } else { OTHER_TOP };
    // The column titles take one row.
    ((top - BOTTOM) / ROW_H) as usize - 1
}

/// Pages `n` rows need, the totals (two rows: a gap and the line)
/// included: the pages [`render`] writes.
pub fn page_count(n: usize) -> usize {
    let need = n + 2;
    let first = rows_on(true);
    if need <= first {
        1
    } else {
        1 + (need - first).div_ceil(rows_on(false))
    }
}

fn text(ops: &mut Vec<Op>, x: f32, y: f32, size: f32, font: BuiltinFont, s: &str) {
    // Each piece in its own text object: the cursor op moves relative to
    // the start of the current line, and a new object starts from the
    // page's origin.
    ops.push(Op::StartTextSection);
    ops.push(Op::SetFont {
        font: PdfFontHandle::Builtin(font),
        size: Pt(size),
    });
    ops.push(Op::SetTextCursor {
        pos: Point::new(Mm(x), Mm(y)),
    });
    ops.push(Op::ShowText {
        items: vec![TextItem::Text(s.to_owned())],
    });
    ops.push(Op::EndTextSection);
}

fn rule(ops: &mut Vec<Op>, y: f32) {
    let at = |x: f32| LinePoint {
        p: Point::new(Mm(x), Mm(y)),
        bezier: false,
    };
    ops.push(Op::DrawLine {
        line: Line {
            points: vec![at(MARGIN), at(PAGE_W - MARGIN)],
            is_closed: false,
        },
    });
}

/// Width in mm of a figure (digits, separators, `$`, `-`, space) set in
/// Helvetica at `pt`, from the font's metrics (digits and `$` are 556
/// thousandths of an em, `.` `,` and space 278, `-` 333): figures are
/// right-aligned exactly. Other characters count as digits.
fn figure_width(s: &str, pt: f32) -> f32 {
    let units: u32 = s
        .chars()
        .map(|c| match c {
            '.' | ',' | ' ' => 278,
            '-' => 333,
            _ => 556,
        })
        .sum();
    units as f32 / 1000.0 * pt * 25.4 / 72.0
}

/// Cuts `s` to what fits `mm` at 7.5 pt (about 1.45 mm a character).
fn fit(s: &str, mm: f32) -> String {
    let max = (mm / 1.45) as usize;
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('.');
        t
    }
}

fn cells(r: &ReportRow, tz: chrono_tz::Tz) -> [String; 9] {
    [
        r.tracking_code.clone(),
        local_date(r.created_at_ms, tz),
        r.sender.clone(),
        r.recipient.clone(),
        r.origin.clone(),
        r.destination.clone(),
        status_label(&r.status).to_owned(),
        kg(r.weight_grams),
        Money(r.quoted_minor).to_string(),
    ]
}

fn table_row<S: AsRef<str>>(ops: &mut Vec<Op>, y: f32, values: &[S], font: BuiltinFont) {
    let mut x = MARGIN;
    for ((_, w, right), v) in COLUMNS.iter().zip(values) {
        let v = v.as_ref();
        if *right {
            // A 1 mm gutter before the next column.
            let left = x + w - 1.0 - figure_width(v, CELL_PT);
            text(ops, left, y, CELL_PT, font, v);
        } else {
            text(ops, x, y, CELL_PT, font, &fit(v, *w));
        }
        x += w;
    }
}

fn grey() -> Color {
    Color::Rgb(Rgb {
        r: 0.4,
        g: 0.4,
        b: 0.4,
        icc_profile: None,
    })
}

/// Content streams of `pages` as printpdf writes them, one per page.
fn content_streams(title: &str, pages: Vec<Vec<Op>>) -> Vec<Vec<u8>> {
    let mut doc = PdfDocument::new(title);
    doc.with_pages(
        pages
            .into_iter()
            .map(|ops| PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), ops))
            .collect(),
    );
    let opts = PdfSaveOptions {
        optimize: false,
        subset_fonts: false,
        image_optimization: None,
        ..PdfSaveOptions::default()
    };
    let mut warnings = Vec::new();
    let lo = printpdf::to_lopdf_doc(&doc, &opts, &mut warnings);
    for w in &warnings {
        tracing::debug!(warning = ?w, "printpdf");
    }
    lo.get_pages()
        .values()
        .map(|id| lo.get_page_content(*id))
        .collect()
}

/// A writer that knows how far it got (object offsets for the xref).
struct Counting<W> {
    inner: W,
    at: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.at += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `s` as a PDF text string: UTF-16BE with a byte-order mark, in hex.
fn pdf_text_string(s: &str) -> String {
    let mut hex = String::from("<FEFF");
    for unit in s.encode_utf16() {
        hex.push_str(&format!("{unit:04X}"));
    }
    hex.push('>');
    hex
}

/// A PDF report being written, one page at a time.
struct Writer<'h, W: Write> {
    out: Counting<W>,
    /// Offset of object `n` at `offsets[n - 1]`; 0 until written.
    offsets: Vec<u64>,
    heading: &'h Heading,
    /// The page being drawn.
    ops: Vec<Op>,
    /// Baseline of its next row (mm from the bottom).
    y: f32,
    /// Rows it still has room for.
    room: usize,
    /// Content stream of each finished page.
    bodies: Vec<usize>,
    totals: Totals,
}

impl<'h, W: Write> Writer<'h, W> {
    fn new(out: W, heading: &'h Heading) -> io::Result<Self> {
        let mut w = Self {
            out: Counting { inner: out, at: 0 },
            offsets: vec![0; INFO],
            heading,
            ops: Vec::new(),
            y: 0.0,
            room: 0,
            bodies: Vec::new(),
            totals: Totals::default(),
        };
        // A binary comment line tells tools the file is binary.
        w.out.write_all(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")?;
        let font = |f: BuiltinFont| {
            format!(
                "/{} << /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding >>",
                f.get_pdf_id(),
                f.get_id()
            )
        };
        w.object(
            RESOURCES,
            format!("<< /Font << {} {} >> >>", font(FONT), font(BOLD)).as_bytes(),
        )?;
        w.start_page();
        Ok(w)
    }

    fn next_id(&mut self) -> usize {
        self.offsets.push(0);
        self.offsets.len()
    }

    fn object(&mut self, id: usize, body: &[u8]) -> io::Result<()> {
        self.offsets[id - 1] = self.out.at;
        writeln!(self.out, "{id} 0 obj")?;
        self.out.write_all(body)?;
        self.out.write_all(b"\nendobj\n")
    }

    fn stream(&mut self, content: &[u8]) -> io::Result<usize> {
        let mut z = ZlibEncoder::new(
            Vec::with_capacity(content.len() / 4),
            Compression::default(),
        );
        z.write_all(content)?;
        let packed = z.finish()?;
        let id = self.next_id();
        self.offsets[id - 1] = self.out.at;
        write!(
            self.out,
            "{id} 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n",
            packed.len()
        )?;
        self.out.write_all(&packed)?;
        self.out.write_all(b"\nendstream\nendobj\n")?;
        Ok(id)
    }

    fn start_page(&mut self) {
        let first = self.bodies.is_empty();
        let mut ops = vec![Op::SaveGraphicsState];
        let h = self.heading;
        self.y = if first {
            let top = PAGE_H - MARGIN;
            text(&mut ops, MARGIN, top - 4.0, 16.0, BOLD, &h.title);
            text(&mut ops, MARGIN, top - 11.0, 9.0, FONT, &h.filters);
            let generated = format!("Generado el {}", local_time(h.generated_at_ms, h.tz));
            text(&mut ops, MARGIN, top - 16.0, 9.0, FONT, &generated);
            FIRST_TOP
        } else {
            OTHER_TOP
        };
        let titles = COLUMNS.map(|(t, _, _)| t);
        table_row(&mut ops, self.y, &titles, BOLD);
        ops.push(Op::SetOutlineThickness { pt: Pt(0.5) });
        rule(&mut ops, self.y - 1.5);
        self.y -= ROW_H;
        self.room = rows_on(first);
        self.ops = ops;
    }

    fn end_page(&mut self) -> io::Result<()> {
        let mut ops = std::mem::take(&mut self.ops);
        ops.push(Op::RestoreGraphicsState);
        let content = content_streams(&self.heading.title, vec![ops]);
        let id = self.stream(content.concat().as_slice())?;
        self.bodies.push(id);
        Ok(())
    }

    fn push(&mut self, r: &ReportRow) -> io::Result<()> {
        if self.room == 0 {
            self.end_page()?;
            self.start_page();
        }
        let cells = cells(r, self.heading.tz);
        table_row(&mut self.ops, self.y, &cells, FONT);
        self.y -= ROW_H;
        self.room -= 1;
        self.totals.add(r);
        Ok(())
    }

    fn finish(mut self) -> io::Result<(W, Summary)> {
        if self.room < 2 {
            self.end_page()?;
            self.start_page();
        }
        rule(&mut self.ops, self.y + ROW_H - 1.5);
        text(
            &mut self.ops,
            MARGIN,
            self.y - ROW_H,
            9.0,
            BOLD,
            &self.totals.line(),
        );
        self.end_page()?;

        let pages = self.bodies.len();
        let mut page_ids = Vec::with_capacity(pages);
        let bodies = std::mem::take(&mut self.bodies);
        // Footers are drawn a hundred pages at a time, to keep memory flat.
        for (chunk, bodies) in bodies.chunks(100).enumerate() {
            let footers = (1..=bodies.len())
                .map(|i| {
                    let n = chunk * 100 + i;
                    let mut ops = vec![Op::SaveGraphicsState, Op::SetFillColor { col: grey() }];
                    let label = format!("Página {n} de {pages}");
                    text(&mut ops, PAGE_W - MARGIN - 30.0, MARGIN, 8.0, FONT, &label);
                    ops.push(Op::RestoreGraphicsState);
                    ops
                })
                .collect();
            let footers = content_streams(&self.heading.title, footers);
            for (body, footer) in bodies.iter().zip(footers) {
                let footer = self.stream(&footer)?;
                let page = self.next_id();
                let dict = format!(
                    "<< /Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {:.2} {:.2}] \
                     /Resources {RESOURCES} 0 R /Contents [{body} 0 R {footer} 0 R] >>",
                    Mm(PAGE_W).into_pt().0,
                    Mm(PAGE_H).into_pt().0,
                );
                self.object(page, dict.as_bytes())?;
                page_ids.push(page);
            }
        }
        let kids: Vec<String> = page_ids.iter().map(|id| format!("{id} 0 R")).collect();
        let tree = format!(
            "<< /Type /Pages /Count {pages} /Kids [{}] >>",
            kids.join(" ")
        );
        self.object(PAGES, tree.as_bytes())?;
        let catalog = format!("<< /Type /Catalog /Pages {PAGES} 0 R >>");
        self.object(CATALOG, catalog.as_bytes())?;
        let info = format!(
            "<< /Title {} /Producer (Paqueteria) /CreationDate (D:{}Z) >>",
            pdf_text_string(&self.heading.title),
            chrono::DateTime::from_timestamp_millis(self.heading.generated_at_ms)
                .unwrap_or_default()
                .format("%Y%m%d%H%M%S"),
        );
        self.object(INFO, info.as_bytes())?;

        let xref = self.out.at;
        let size = self.offsets.len() + 1;
        let mut table = format!("xref\n0 {size}\n0000000000 65535 f\r\n");
        for off in &self.offsets {
            table.push_str(&format!("{off:010} 00000 n\r\n"));
        }
        self.out.write_all(table.as_bytes())?;
        write!(
            self.out,
            "trailer\n<< /Size {size} /Root {CATALOG} 0 R /Info {INFO} 0 R >>\nstartxref\n{xref}\n%%EOF\n"
        )?;
        self.out.flush()?;
        let summary = Summary {
            rows: self.totals.count,
            pages,
            totals: self.totals,
        };
        Ok((self.out.inner, summary))
    }
}

/// Writes the report of `rows` to `out`, a page at a time; `progress`
/// hears the number of rows drawn after each page.
pub fn render<W: Write>(
    heading: &Heading,
    rows: impl IntoIterator<Item = ReportRow>,
    out: W,
    progress: &mut dyn FnMut(usize),
) -> io::Result<(W, Summary)> {
    let mut w = Writer::new(out, heading)?;
    let mut drawn = 0;
    for r in rows {
        let page_full = w.room == 0;
        w.push(&r)?;
        drawn += 1;
        if page_full {
            progress(drawn - 1);
        }
    }
    let done = w.finish()?;
    progress(drawn);
    Ok(done)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn page_count_matches_the_pages_written() {
        let heading = Heading {
            title: "Reporte".to_owned(),
            filters: String::new(),
            generated_at_ms: 0,
            tz: chrono_tz::America::Bogota,
        };
        let first = rows_on(true);
        let other = rows_on(false);
        for n in [
            0,
            1,
            first - 2,
            first - 1,
            first,
            first + other - 2,
            first + other - 1,
            500,
        ] {
            let rows = (0..n).map(|i| ReportRow {
                id: i as i64,
                tracking_code: format!("PX{i}"),
                status: "REGISTERED".to_owned(),
                weight_grams: 1_000,
                quoted_minor: 100,
                created_at_ms: 0,
                sender: "A".to_owned(),
                recipient: "B".to_owned(),
                origin: "O".to_owned(),
                destination: "D".to_owned(),
            });
            let mut heard = Vec::new();
            let (bytes, summary) =
                render(&heading, rows, Vec::new(), &mut |d| heard.push(d)).unwrap();
            assert_eq!(summary.pages, page_count(n), "{n} rows");
            // Progress after each full page, then all rows at the end.
            assert_eq!(heard.last(), Some(&n));
            assert!(heard.windows(2).all(|w| w[0] <= w[1]), "{heard:?}");
            assert!(heard.len() <= summary.pages, "{heard:?}");
            if n > first {
                assert!(heard.len() > 1, "no progress before the end: {heard:?}");
            }
            assert_eq!(summary.rows, n as i64);
            assert!(bytes.starts_with(b"%PDF-1.4"));
            assert!(bytes.ends_with(b"%%EOF\n"));
        }
    }

    #[test]
    fn figures_are_measured_with_helvetica_widths() {
        // "$ 1.000,00": $ and six digits at 556, space, dot and comma at 278.
        let w = figure_width("$ 1.000,00", 10.0);
        let expected = (7.0 * 556.0 + 3.0 * 278.0) / 1000.0 * 10.0 * 25.4 / 72.0;
        assert!((w - expected).abs() < 1e-4, "{w} vs {expected}");
    }
}
