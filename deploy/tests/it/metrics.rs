//! Every metric of ours that a dashboard or an alert uses is exported by
//! the code and documented in monitoring/METRICS.md, and every metric that
//! file documents is exported.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::{read, root};

/// `paqueteria_*` and `process_*` names in a PromQL text, histogram series
/// suffixes removed.
fn metric_names(query: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut rest = query;
    while let Some(start) = rest.find(|c: char| is_ident(c)) {
        let tail = &rest[start..];
        let end = tail.find(|c: char| !is_ident(c)).unwrap_or(tail.len());
        let word = &tail[..end];
        let boundary = rest[..start]
            .chars()
            .last()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '"');
        if boundary && (word.starts_with("paqueteria_") || word.starts_with("process_")) {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| word.strip_suffix(s))
                .unwrap_or(word);
            out.insert(base.to_owned());
        }
        rest = &tail[end..];
    }
    out
}

/// The Rust sources of the crates that export metrics.
fn sources() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let mut out = String::new();
    for krate in ["jobs", "core", "app", "worker", "scheduler"] {
        walk(&root().join(krate).join("src"), &mut out);
    }
    out
}

/// The metrics METRICS.md's table lists (its first column).
fn documented() -> BTreeSet<String> {
    let doc = read("monitoring/METRICS.md");
    let section = doc
        .split("\n## The metrics")
        .nth(1)
        .expect("METRICS.md has a \"## The metrics\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| {
            let first = l.split('|').nth(1).unwrap_or("");
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether the code exports `name`: its name without the prefix is a
/// string in the sources (process_* come from the prometheus crate's
/// process collector).
fn exported(sources: &str, name: &str) -> bool {
    let short = name.strip_prefix("paqueteria_").unwrap_or(name);
    sources.contains(&format!("\"{short}\""))
        || (name.starts_with("process_") && sources.contains("ProcessCollector::for_self"))
}

#[test]
fn the_name_finder_reads_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.9, sum by (le) (rate(paqueteria_job_wait_seconds_bucket{job="worker"}[5m]))) / process_open_fds"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["paqueteria_job_wait_seconds", "process_open_fds"]
    );
}

#[test]
fn every_metric_the_dashboards_and_alerts_use_is_exported_and_documented() {
    let sources = sources();
    let documented = documented();
    for (at, query) in crate::grafana::queries() {
        for name in metric_names(&query) {
            assert!(
                exported(&sources, &name),
                "{at} uses {name}, which the code does not export"
            );
            assert!(
                documented.contains(&name),
                "{at} uses {name}, which monitoring/METRICS.md does not document"
            );
        }
    }
}

#[test]
fn every_documented_metric_is_exported() {
    let sources = sources();
    let documented = documented();
    assert!(documented.len() > 25, "{documented:?}");
    for name in &documented {
        assert!(
            exported(&sources, name),
            "monitoring/METRICS.md documents {name}, which the code does not export"
        );
    }
}
