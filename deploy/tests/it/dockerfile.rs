//! The Dockerfile, read as text (no Docker engine runs here): the promises
//! of issue 20 that can be seen without building it.

use crate::support::read;

/// The instructions of the last stage, continuation lines joined.
fn runtime_stage() -> Vec<String> {
    let text = read("Dockerfile");
    let joined = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let lines: Vec<String> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let last_from = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("a FROM");
    lines[last_from..].to_vec()
}

#[test]
fn the_image_builds_locked_with_cached_dependencies() {
    let text = read("Dockerfile");
    assert!(
        text.contains("cargo chef cook"),
        "no dependency-caching stage"
    );
    let builds: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("cargo chef cook") || l.contains("cargo build"))
        .collect();
    assert!(builds.len() >= 2, "no cargo build: {builds:?}");
    for build in builds {
        assert!(build.contains("--locked"), "not --locked: {build}");
    }
    for bin in ["app", "worker", "scheduler"] {
        assert!(
            text.contains(&format!("target/release/{bin}")),
            "the image lacks the {bin} binary"
        );
    }
}

#[test]
fn the_runtime_is_small_runs_as_non_root_and_checks_itself() {
    let stage = runtime_stage();
    let from = &stage[0];
    assert!(
        from.contains("distroless") || from.contains("-slim"),
        "the runtime stage is not distroless or slim: {from}"
    );
    let user = stage
        .iter()
        .rfind(|l| l.starts_with("USER "))
        .expect("the runtime stage sets USER");
    let who = user
        .trim_start_matches("USER ")
        .split(':')
        .next()
        .unwrap_or("");
    assert!(!["root", "0", ""].contains(&who), "runs as {user}");
    let health = stage
        .iter()
        .find(|l| l.starts_with("HEALTHCHECK "))
        .expect("a HEALTHCHECK");
    assert!(
        health.contains(r#"CMD ["app", "healthcheck"]"#),
        "the HEALTHCHECK must use the binary itself: {health}"
    );
    for banned in ["curl", "wget", "apt-get"] {
        assert!(
            !stage.iter().any(|l| l.contains(banned)),
            "the runtime stage uses {banned}"
        );
    }
    let labels = stage.join("\n");
    for label in ["title", "source", "version", "revision", "licenses"] {
        assert!(
            labels.contains(&format!("org.opencontainers.image.{label}=")),
            "no OCI label {label}"
        );
    }
}

#[test]
fn secrets_stay_out_of_the_build_context() {
    let ignore = read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for entry in [".env", ".git", "target"] {
        assert!(lines.contains(&entry), ".dockerignore lacks {entry}");
    }
}
