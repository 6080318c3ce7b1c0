//! The parcel's printable label: an A6 page (105 × 148 mm) with the
//! tracking code in large type and as a QR code (the public tracking
//! page's address), the destination, the recipient and what to collect on
//! delivery. Drawn by printpdf with its built-in Helvetica, so the PDF
//! needs no font file.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use printpdf::{
    BuiltinFont, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt,
    Rect, TextItem,
};
use qrcode::QrCode;

use super::UiUser;
use super::pages::chrome;
use super::refusal::from_api;
use crate::error::ApiError;
use crate::startup::AppState;

const PAGE_W: f32 = 105.0;
const PAGE_H: f32 = 148.0;
const MARGIN: f32 = 8.0;
/// The QR code's side, quiet zone included.
const QR_MM: f32 = 40.0;

/// What the label says.
pub struct Label {
    /// The business's name, at the top.
    pub heading: String,
    /// The tracking code.
    pub code: String,
    /// What the QR code holds: the tracking page's address.
    pub qr: String,
    /// Labelled lines under the code: ("Destino", "Cali Centro").
    pub lines: Vec<(String, String)>,
}

fn text(ops: &mut Vec<Op>, x: f32, y: f32, size: f32, font: BuiltinFont, s: &str) {
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

/// Cuts `s` to `max` characters.
fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('.');
        t
    }
}

/// The QR code of `data` as filled squares, its top-left corner at
/// (`x`, `top`), `side` mm wide with the quiet zone.
fn qr(ops: &mut Vec<Op>, data: &str, x: f32, top: f32, side: f32) -> Result<(), String> {
    let code = QrCode::new(data.as_bytes()).map_err(|e| format!("QR code: {e}"))?;
    let n = code.width();
    // Four modules of quiet zone on each side.
    let module = side / (n as f32 + 8.0);
    let colors = code.to_colors();
    for (i, c) in colors.iter().enumerate() {
        if *c != qrcode::Color::Dark {
            continue;
        }
        let (row, col) = (i / n, i % n);
        let left = x + (col as f32 + 4.0) * module;
        let bottom = top - (row as f32 + 5.0) * module;
        ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Mm(left).into_pt(),
                y: Mm(bottom).into_pt(),
                // A hair wider, so neighbouring squares join without seams.
                width: Mm(module * 1.02).into_pt(),
                height: Mm(module * 1.02).into_pt(),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        });
    }
    Ok(())
}

/// The label as a PDF.
pub fn render(label: &Label) -> Result<Vec<u8>, String> {
    let mut ops = Vec::new();
    let mut y = PAGE_H - MARGIN - 6.0;
    text(
        &mut ops,
        MARGIN,
        y,
        14.0,
        BuiltinFont::HelveticaBold,
        &label.heading,
    );
    y -= 12.0;
    text(
        &mut ops,
        MARGIN,
        y,
        20.0,
        BuiltinFont::HelveticaBold,
        &label.code,
    );
    y -= 4.0;
    qr(&mut ops, &label.qr, (PAGE_W - QR_MM) / 2.0, y, QR_MM)?;
    y -= QR_MM + 4.0;
    for (name, value) in &label.lines {
        text(&mut ops, MARGIN, y, 7.0, BuiltinFont::Helvetica, name);
        y -= 4.5;
        text(
            &mut ops,
            MARGIN,
            y,
            11.0,
            BuiltinFont::HelveticaBold,
            &fit(value, 40),
        );
        y -= 6.5;
        if y < MARGIN {
            break;
        }
    }
    let mut doc = PdfDocument::new(&label.code);
    doc.with_pages(vec![PdfPage::new(Mm(PAGE_W), Mm(PAGE_H), ops)]);
    let mut warnings = Vec::new();
    // Uncompressed: a label is a few kilobytes, and its text stays
    // readable to anything that looks for the code in it.
    let opts = PdfSaveOptions {
        optimize: false,
        ..PdfSaveOptions::default()
    };
    Ok(doc.save(&opts, &mut warnings))
}

/// `GET /parcels/{id}/label.pdf`: the label of a parcel the user may see.
pub async fn pdf(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Path(id): Path<i64>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let lang = chrome.lang;
    let parcel = match crate::routes::parcels::visible_parcel(&s, &user.0, id).await {
        Ok(p) => p,
        Err(e) => return from_api(chrome, e),
    };
    let read = (
        s.store.branch(parcel.destination_branch_id).await,
        s.store.branch(parcel.origin_branch_id).await,
        s.store.customer(parcel.recipient_id).await,
    );
    let (destination, origin, recipient) = match read {
        (Ok(d), Ok(o), Ok(r)) => (d, o, r),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return from_api(chrome, e.into()),
    };
    let code = parcel.tracking_code.as_str().to_owned();
    let mut lines = vec![
        (
            lang.t("label.destination"),
            format!("{} ({})", destination.name, destination.city),
        ),
        (lang.t("label.recipient"), recipient.name),
        (
            lang.t("label.service"),
            lang.t(&format!(
                "services.{}",
                super::parcels::service_key(parcel.service)
            )),
        ),
    ];
    if !parcel.delivery_address.is_empty() {
        lines.push((lang.t("label.address"), parcel.delivery_address.clone()));
    }
    lines.push((
        lang.t("label.origin"),
        format!("{} ({})", origin.name, origin.city),
    ));
    lines.push((
        lang.t("label.weight"),
        format!(
            "{} g",
            paqueteria_core::domain::thousands(u64::from(parcel.weight.0))
        ),
    ));
    if parcel.cod_amount > paqueteria_core::domain::Money::ZERO {
        lines.push((lang.t("label.cod"), parcel.cod_amount.to_string()));
    }
    let label = Label {
        heading: lang.t("app.name"),
        qr: format!(
            "{}/track/{code}",
            s.settings.transports.public_url.trim_end_matches('/')
        ),
        code: code.clone(),
        lines,
    };
    match render(&label) {
        Ok(bytes) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/pdf"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&format!("inline; filename=\"etiqueta-{code}.pdf\""))
                        .unwrap_or(HeaderValue::from_static("inline")),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => from_api(chrome, ApiError::Internal(e)),
    }
}
