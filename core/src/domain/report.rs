//! What a finished report is called when it is downloaded.

/// The file name and MIME type a report of `kind` (`pdf` or `xlsx`) is
/// downloaded as: `reporte-<id>.pdf` or `reporte-<id>.xlsx`.
pub fn download_name(report_id: i64, kind: &str) -> (String, &'static str) {
    if kind == "pdf" {
        (format!("reporte-{report_id}.pdf"), "application/pdf")
    } else {
        (
            format!("reporte-{report_id}.xlsx"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_name_and_type() {
        assert_eq!(
            download_name(7, "pdf"),
            ("reporte-7.pdf".to_owned(), "application/pdf")
        );
        assert!(download_name(7, "xlsx").0.ends_with(".xlsx"));
        assert!(download_name(7, "xlsx").1.contains("spreadsheetml"));
    }
}
