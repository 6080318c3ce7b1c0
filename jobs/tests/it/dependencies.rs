//! The engine stays an engine: a service that depends on it pulls in no
//! parcel business, no S3, PostgreSQL, SMTP, PDF, image or HTTP server
//! crates. Fails when one comes back into `cargo tree -p paqueteria-jobs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "aws-sdk-s3",
    "aws-smithy-http-client",
    "argon2",
    "sqlx-postgres",
    "tokio-postgres",
    "lettre",
    "printpdf",
    "rust_xlsxwriter",
    "image",
    "axum",
    "hyper",
    "paqueteria-core",
];

#[test]
fn the_engine_depends_on_no_parcel_or_web_crates() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            "paqueteria-jobs",
            "--manifest-path",
            manifest,
        ])
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {out:?}");
    let tree = String::from_utf8(out.stdout).unwrap();
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"redis") && crates.contains(&"apalis-core"),
        "{tree}"
    );
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|f| crates.contains(f)).collect();
    assert!(
        found.is_empty(),
        "paqueteria-jobs depends on {found:?}:\n{tree}"
    );
}

/// The crate's top-level modules, and which others each one names
/// (`crate::x`), read from the source.
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules: Vec<(String, Vec<std::path::PathBuf>)> = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" {
            continue;
        }
        let files = if path.is_dir() {
            walk(&path)
        } else {
            vec![path.clone()]
        };
        match modules.iter_mut().find(|(n, _)| *n == name) {
            Some((_, f)) => f.extend(files),
            None => modules.push((name, files)),
        }
    }
    let names: Vec<String> = modules.iter().map(|(n, _)| n.clone()).collect();
    modules
        .into_iter()
        .map(|(name, files)| {
            let mut uses = std::collections::BTreeSet::new();
            for f in files {
                let text = std::fs::read_to_string(&f).unwrap();
                for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                    for other in &names {
                        if *other != name
                            && (line.contains(&format!("crate::{other}::"))
                                || line.contains(&format!("crate::{other};"))
                                || line.contains(&format!("crate::{other}}}")))
                        {
                            uses.insert(other.clone());
                        }
                    }
                }
            }
            (name, uses)
        })
        .collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The engine's modules depend on each other one way (policy and clock at
/// the bottom, the broker on them, jobs and handlers on the broker, the
/// runtime and the scheduler on top): no two modules name each other,
/// directly or through others.
#[test]
fn the_engines_modules_have_no_cycle() {
    let graph = module_graph();
    assert!(
        graph.contains_key("broker") && graph.contains_key("runtime"),
        "{graph:?}"
    );
    assert!(
        graph["runtime"].contains("broker"),
        "the graph is read: {graph:?}"
    );
    fn visit(
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        node: &str,
        path: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == node) {
            panic!("module cycle: {} -> {node}", path[at..].join(" -> "));
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            visit(graph, next, path);
        }
        path.pop();
    }
    for node in graph.keys() {
        visit(&graph, node, &mut Vec::new());
    }
    assert!(
        graph["policy"].is_empty() && graph["clock"].is_empty(),
        "{graph:?}"
    );
}
