//! Every case of the official SDK vectors (`vectors/official/manifest.json`, a verbatim copy
//! of the upstream test data carried in this repository; `DRACOON_VECTORS` may name another
//! copy) and of this repository's own vectors (`vectors/manifest.json`) through every API level
//! it applies to. A missing vector folder fails the tests; it never skips them.

mod support;

use std::io::Write;
use std::path::PathBuf;

use support::manifest::{Summary, run_manifest};

fn report(name: &str, summary: &Summary) {
    let mut ops: Vec<_> = summary.by_op.iter().collect();
    ops.sort();
    // Written to the stderr handle, not through `println!`, so that the count shows in plain
    // `cargo test` output (the test harness captures only the print macros).
    let _ = writeln!(
        std::io::stderr(),
        "{name}: ran {} cases ({} expected ok, {} expected errors); by op: {ops:?}",
        summary.ran,
        summary.ok,
        summary.expected_errors
    );
    assert!(
        summary.failures.is_empty(),
        "{} of {} {name} cases failed:\n{}",
        summary.failures.len(),
        summary.ran,
        summary.failures.join("\n")
    );
}

/// The official vectors: the repository's copy in `vectors/official`, or the folder named by
/// `DRACOON_VECTORS`. Either way the folder must hold the manifest: a missing folder fails.
fn official_dir() -> PathBuf {
    let dir = std::env::var_os("DRACOON_VECTORS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/official"),
        PathBuf::from,
    );
    assert!(
        dir.join("manifest.json").is_file(),
        "the official vectors are missing: {} has no manifest.json",
        dir.display()
    );
    dir
}

#[test]
fn official_sdk_vectors() {
    let summary = run_manifest(&official_dir());
    assert_eq!(summary.ran, 277, "the official manifest has 277 cases");
    report("official", &summary);
}

/// The copy in `vectors/official` is the upstream data byte for byte: every file listed in
/// `vectors/official.SHA256SUMS` has its recorded hash, and no file is missing or extra.
#[test]
fn official_vectors_are_unedited() {
    use sha2::{Digest, Sha256};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let sums = std::fs::read_to_string(root.join("official.SHA256SUMS")).unwrap();
    let dir = root.join("official");
    let mut listed = std::collections::BTreeSet::new();
    for line in sums.lines() {
        let (hash, name) = line.split_once("  ").expect("sha256sum format");
        let data = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let actual: String = Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(actual, hash, "{name} differs from the upstream file");
        listed.insert(PathBuf::from(name));
    }
    let mut found = std::collections::BTreeSet::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.insert(path.strip_prefix(&dir).unwrap().to_path_buf());
            }
        }
    }
    assert_eq!(
        found, listed,
        "files added to or removed from vectors/official"
    );
    assert_eq!(listed.len(), 216);
}

/// The vectors this crate generates (examples/generate_vectors.rs), run with the same code.
#[test]
fn own_vectors() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let summary = run_manifest(&dir);
    assert!(summary.ran > 0);
    report("own", &summary);
}
