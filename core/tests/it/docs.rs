//! The docs point at files that exist: every repository path named in the
//! README, `docs/architecture.md` ("where to find things") and
//! `docs/internals.md` is checked, so a move that forgets the docs fails
//! here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn every_path_the_docs_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for doc in ["README.md", "docs/architecture.md", "docs/internals.md"] {
        let checked = check(root, doc);
        assert!(
            checked >= 3,
            "only {checked} paths found in {doc}: is it read?"
        );
    }
}

/// Checks every `quoted/path` of `doc`; returns how many it checked.
fn check(root: &Path, doc: &str) -> usize {
    let page = std::fs::read_to_string(root.join(doc)).unwrap();
    let mut checked = 0;
    for quoted in page.split('`').skip(1).step_by(2) {
        let path = quoted.split("::").next().unwrap_or(quoted);
        // A repository path starts with one of the repository's folders
        // (`core/src/…`); `DATA_DIR/files` or `/health` are not.
        let first = path.split('/').next().unwrap_or("");
        let looks_like_a_path = path.contains('/')
            && !path.contains([' ', '{', '<'])
            && !first.is_empty()
            && !first.starts_with('.')
            && root.join(first).is_dir()
            && first != "target";
        if !looks_like_a_path {
            continue;
        }
        assert!(
            root.join(path).exists(),
            "{doc} names {path}, which does not exist"
        );
        checked += 1;
    }
    checked
}
