//! The repository's own vectors, checked by an independent implementation
//! (`vectors/crosscheck.py`, pyca/cryptography). Skipped when python3 or the `cryptography`
//! package is missing.

use std::process::Command;

#[test]
fn own_vectors_open_with_pyca_cryptography() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = match Command::new("python3")
        .arg(format!("{root}/vectors/crosscheck.py"))
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            println!("python3 not available ({e}); cross-check skipped");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    match out.status.code() {
        Some(0) => assert!(stdout.contains("0 mismatches")),
        Some(77) => println!("pyca/cryptography not installed; cross-check skipped"),
        other => panic!(
            "cross-check failed ({other:?}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
