//! Issue 13's proof that the contract knows no backend: no backend's name appears in the
//! sources of `channel-api` or `conformance` (code, comments or tests). Backends name
//! themselves; the host passes the namespace.

use std::path::{Path, PathBuf};

/// Words a backend-neutral source must not contain, compared case-insensitively.
const BACKEND_WORDS: &[&str] = &["rocket", "rc_test", "ddp"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_contract_and_the_conformance_cases_name_no_backend() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in ["channel-api", "conformance"] {
        for dir in ["src", "tests"] {
            let dir = root.join(krate).join(dir);
            if dir.exists() {
                sources(&dir, &mut files);
            }
        }
    }
    let this_file = Path::new(file!()).file_name();
    let mut found = Vec::new();
    for file in files.iter().filter(|f| f.file_name() != this_file) {
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for (n, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            if let Some(word) = BACKEND_WORDS.iter().find(|w| lower.contains(*w)) {
                found.push(format!("{}:{}: {word}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(files.len() > 10, "the sources were found: {files:?}");
    assert!(
        found.is_empty(),
        "backend words in neutral code:\n{}",
        found.join("\n")
    );
}
