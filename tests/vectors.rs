//! Every case of the official SDK vectors (`../shared/vectors/manifest.json`, found through
//! `DRACOON_VECTORS`) and of this repository's own vectors (`vectors/manifest.json`) through
//! every API level it applies to.

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

/// The official vectors. With `DRACOON_VECTORS` set, the folder must exist (a missing folder
/// fails the test); without it, `../shared/vectors` beside the repository is used if present.
#[test]
fn official_sdk_vectors() {
    let dir = match std::env::var_os("DRACOON_VECTORS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("manifest.json").is_file(),
                "DRACOON_VECTORS={} has no manifest.json",
                dir.display()
            );
            dir
        }
        None => {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors");
            if !dir.join("manifest.json").is_file() {
                let _ = writeln!(
                    std::io::stderr(),
                    "official vectors not found (set DRACOON_VECTORS); skipped"
                );
                return;
            }
            dir
        }
    };
    let summary = run_manifest(&dir);
    assert_eq!(summary.ran, 277, "the official manifest has 277 cases");
    report("official", &summary);
}

/// The vectors this crate generates (examples/generate_vectors.rs), run with the same code.
#[test]
fn own_vectors() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let summary = run_manifest(&dir);
    assert!(summary.ran > 0);
    report("own", &summary);
}
