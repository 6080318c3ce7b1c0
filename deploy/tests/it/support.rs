//! What the deployment tests share: the repository's files, YAML, the
//! external tools, and compose's `${VAR...}` interpolation.

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is in the workspace")
        .to_path_buf()
}

/// A repository file's text.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// A repository file's first YAML document (anchors resolved).
pub fn yaml(path: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(!docs.is_empty(), "{path} is empty");
    docs.swap_remove(0)
}

/// A mapping's entries with string keys, in file order.
pub fn entries(node: &Yaml) -> Vec<(&str, &Yaml)> {
    node.as_hash()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.as_str()?, v)))
                .collect()
        })
        .unwrap_or_default()
}

/// A scalar as text (strings, numbers, booleans).
pub fn text(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A command line (list or string form) as its words.
pub fn words(node: &Yaml) -> Vec<String> {
    match node {
        Yaml::Array(items) => items.iter().filter_map(text).collect(),
        other => text(other)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    }
}

/// An external tool: `$env_var` when set, else `name` on `PATH`. Fails
/// (never skips) when neither is there.
pub fn tool(env_var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{env_var}={} does not exist: run scripts/test, which installs {name}",
            path.display()
        );
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is missing: run scripts/test, which installs it and sets {env_var} \
                 (or set {env_var} to its path)"
            )
        })
}

/// promtool, from Debian's prometheus package.
pub fn promtool() -> PathBuf {
    tool("PROMTOOL_BIN", "promtool")
}

/// check-jsonschema, from PyPI.
pub fn check_jsonschema() -> PathBuf {
    tool("CHECK_JSONSCHEMA_BIN", "check-jsonschema")
}

/// Runs `cmd` in `dir`; panics with its output unless it exits 0. Returns
/// stdout and stderr together.
pub fn run_ok(cmd: &mut Command, dir: &Path) -> String {
    let out = cmd
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Compose's interpolation with every variable unset: `${VAR:-d}` and
/// `${VAR-d}` become `d`, `${VAR}` and `${VAR:?msg}` become `<VAR>`, `$$`
/// becomes `$`. So a value reads as it does with an `.env` that sets only
/// the required secrets.
pub fn with_defaults(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').unwrap_or(body.len());
            let inner = &body[..end];
            let name_end = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let (name, op) = inner.split_at(name_end);
            if let Some(default) = op.strip_prefix(":-").or_else(|| op.strip_prefix('-')) {
                out.push_str(default);
            } else {
                out.push_str(&format!("<{name}>"));
            }
            rest = body.get(end + 1..).unwrap_or("");
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Every `${NAME...}` of a text, outside `#` comment lines, in order.
pub fn variables(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(i) = rest.find('$') {
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                rest = tail;
                continue;
            }
            if let Some(body) = after.strip_prefix('{') {
                let end = body
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(body.len());
                names.push(body[..end].to_owned());
            }
            rest = after;
        }
    }
    names
}

/// A compose or Go duration (`1m30s`, `40s`, `500ms`, `2h`) in milliseconds.
pub fn duration_ms(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut number = String::new();
    let mut chars = s.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            'h' => 3_600_000,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            'm' => 60_000,
            's' => 1000,
            _ => return None,
        };
        total += n * unit;
        any = true;
    }
    (any && number.is_empty()).then_some(total)
}

#[test]
fn the_helpers_read_compose_values_as_compose_does() {
    assert_eq!(with_defaults("${A:-4}"), "4");
    assert_eq!(with_defaults("x ${A-y} $${B} ${C:?set C}"), "x y ${B} <C>");
    assert_eq!(
        variables("a: ${A:-1} $${B}\n# ${C}\nd: ${D:?x}"),
        ["A", "D"]
    );
    assert_eq!(duration_ms("1m30s"), Some(90_000));
    assert_eq!(duration_ms("250ms"), Some(250));
    assert_eq!(duration_ms("40"), None);
}
