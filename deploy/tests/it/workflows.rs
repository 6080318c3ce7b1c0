//! `.github/workflows/`: CI runs the same `.ci/run` as a developer's
//! machine, and the image workflow builds the Dockerfile for amd64 and
//! arm64 and publishes it to GHCR on version tags. Both files are checked
//! against the GitHub Actions workflow schema (vendored in
//! check-jsonschema).

use std::process::Command;

use crate::support::{check_jsonschema, read, root, run_ok, text, words, yaml};

#[test]
fn workflows_match_the_github_actions_schema() {
    for file in [".github/workflows/ci.yml", ".github/workflows/image.yml"] {
        let out = run_ok(
            Command::new(check_jsonschema())
                .args(["--builtin-schema", "vendor.github-workflows"])
                .arg(root().join(file)),
            &root(),
        );
        assert!(out.contains("ok"), "{file}: {out}");
    }
}

#[test]
fn ci_runs_ci_run_and_the_image_is_built_for_two_architectures_on_tags() {
    let ci = read(".github/workflows/ci.yml");
    assert!(
        ci.lines().any(|l| l.trim() == "run: .ci/run"),
        "the CI workflow runs something else than .ci/run:\n{ci}"
    );
    let image = yaml(".github/workflows/image.yml");
    let tags = words(&image["on"]["push"]["tags"]);
    assert_eq!(tags, ["v*"], "published on version tags");
    let steps = image["jobs"]["image"]["steps"].as_vec().unwrap();
    let build = steps
        .iter()
        .find(|s| text(&s["uses"]).is_some_and(|u| u.starts_with("docker/build-push-action")))
        .expect("a docker/build-push-action step");
    assert_eq!(
        text(&build["with"]["platforms"]).as_deref(),
        Some("linux/amd64,linux/arm64")
    );
    let login = steps
        .iter()
        .find(|s| text(&s["uses"]).is_some_and(|u| u.starts_with("docker/login-action")))
        .expect("a registry login");
    assert_eq!(text(&login["with"]["registry"]).as_deref(), Some("ghcr.io"));
    // The labels the Dockerfile declares are filled in by the build.
    let args = text(&build["with"]["build-args"]).unwrap_or_default();
    for arg in ["VERSION=", "REVISION=", "SOURCE="] {
        assert!(args.contains(arg), "build-args lack {arg}: {args}");
    }
}
