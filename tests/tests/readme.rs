//! The README's examples are the project's files: every fenced block announced by
//! `<!-- example: examples/<file> -->` must equal that file byte for byte, and the tests that use the
//! file exercise what a reader copies. Here: the blocks match, and the example request is valid.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository root").to_path_buf()
}

/// Each marked example: (file named by the marker, the fenced block's content).
fn marked_examples(readme: &str) -> Vec<(String, String)> {
    const MARKER: &str = "<!-- example: ";
    let mut found = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim().strip_prefix(MARKER) else { continue };
        let file = rest.trim_end_matches("-->").trim().to_owned();
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "README: the marker for `{file}` must be followed by a fenced block");
        let mut body = String::new();
        for l in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        found.push((file, body));
    }
    found
}

#[test]
fn every_marked_readme_example_is_the_file_the_tests_use() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let examples = marked_examples(&readme);
    assert!(!examples.is_empty(), "the README marks no examples");
    for (file, block) in &examples {
        let on_disk = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("README names example `{file}`, which cannot be read: {e}"));
        assert_eq!(block, &on_disk, "README's block for `{file}` differs from the file: copy one onto the other");
    }
}

#[test]
fn the_readme_request_example_is_a_valid_request() {
    let bytes = std::fs::read(repo_root().join("examples/request.json")).unwrap();
    let request = greenfleet_core::request::parse_request(&bytes).unwrap();
    assert_eq!(request.request_id.to_string(), "shop-6.0");
    assert_eq!(request.revision.describe(), "s3://releases/shop/6.0.zip (zip)");
}
