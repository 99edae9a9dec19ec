//! Shared pieces of the `dracoon-crypto` fuzz targets.
//!
//! * [`inputs`]: how each target reads its input bytes, with encoders so that the seeder
//!   (`examples/seed.rs`) can turn the official vectors into corpus entries of exactly that
//!   shape.
//! * [`oracle`]: the error classes each public API documents, and checks that nothing printable
//!   leaks a password or key.
//! * [`seed`]: writes a target's seed corpus from the official vectors (run a target with
//!   `DRACOON_FUZZ_SEED=<corpus dir>`).
//! * [`der`] (`dracoon_crypto_testkit::der`, the one DER builder of the tests and the fuzzing):
//!   the seeder builds every private-key shape the parser accepts with it (all PRFs, ciphers,
//!   salt lengths, bare PKCS#1 payloads, redundant leading zeros) with at most 4 PBKDF2
//!   iterations, so they unlock in fuzz builds too.
//! * helpers to build and take apart [`PlainFileKey`]s through the public API only.

pub mod api;
pub mod harness;
pub mod inputs;
pub mod oracle;
pub mod script;
pub mod seed;

pub use dracoon_crypto_testkit::der;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dracoon_crypto::PlainFileKey;

/// Builds a plain file key from raw parts through the public JSON API (the crate has no raw
/// constructor, on purpose).
///
/// # Panics
/// If the crate refuses a well-formed key: that would be a bug the caller wants to see.
#[must_use]
pub fn plain_file_key(key: &[u8; 32], iv: &[u8; 12], tag: &[u8; 16]) -> PlainFileKey {
    let json = format!(
        r#"{{"key":"{}","iv":"{}","tag":"{}","version":"A"}}"#,
        STANDARD.encode(key),
        STANDARD.encode(iv),
        STANDARD.encode(tag)
    );
    match PlainFileKey::from_json(&json) {
        Ok(k) => k,
        Err(e) => panic!("a well-formed plain file key was refused: {e}"),
    }
}

/// The raw key, IV and tag of a plain file key, read back from its JSON form.
///
/// # Panics
/// If `to_json` produces something that is not the documented shape.
#[must_use]
pub fn plain_file_key_parts(k: &PlainFileKey) -> ([u8; 32], [u8; 12], [u8; 16]) {
    let json = k.to_json();
    let v: serde_json::Value = match serde_json::from_str(json.as_str()) {
        Ok(v) => v,
        Err(e) => panic!("PlainFileKey::to_json is not JSON: {e}"),
    };
    let field = |name: &str| -> Vec<u8> {
        let s = v.get(name).and_then(serde_json::Value::as_str);
        match s.map(|s| STANDARD.decode(s)) {
            Some(Ok(b)) => b,
            _ => panic!("PlainFileKey::to_json has no valid base64 field {name}"),
        }
    };
    let (Ok(key), Ok(iv), Ok(tag)) = (
        <[u8; 32]>::try_from(field("key").as_slice()),
        <[u8; 12]>::try_from(field("iv").as_slice()),
        <[u8; 16]>::try_from(field("tag").as_slice()),
    ) else {
        panic!("PlainFileKey::to_json has fields of the wrong length")
    };
    (key, iv, tag)
}

/// Wraps DER in PEM armour (64-character lines, LF or CRLF).
pub use dracoon_crypto_testkit::der::pem_with as pem;

/// Splits `data` into chunks whose lengths come from `lens` (cycled, each taken modulo what is
/// left plus one, so zero-length chunks occur too). Always terminates and covers all of `data`.
#[must_use]
pub fn chunk_lengths(total: usize, lens: &[u16]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut left = total;
    let mut idle_rounds = 0;
    let mut i = 0usize;
    while left > 0 {
        let v = usize::from(lens.get(i % lens.len().max(1)).copied().unwrap_or(0));
        let n = v % (left + 1);
        out.push(n);
        left -= n;
        i += 1;
        if i.is_multiple_of(lens.len().max(1)) {
            // A whole round of zero-length chunks makes no progress: take the rest.
            if n == 0 {
                idle_rounds += 1;
            }
            if idle_rounds > 2 || i > 4096 {
                out.push(left);
                left = 0;
            }
        }
    }
    if out.is_empty() {
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything() {
        for total in [0usize, 1, 15, 16, 17, 1000] {
            for lens in [&[0u16, 0, 0][..], &[1, 2, 3], &[65535], &[], &[16, 0, 7]] {
                let c = chunk_lengths(total, lens);
                assert_eq!(c.iter().sum::<usize>(), total, "{total} {lens:?}");
            }
        }
    }

    #[test]
    fn file_key_parts_round_trip() {
        let k = plain_file_key(&[1; 32], &[2; 12], &[3; 16]);
        assert_eq!(plain_file_key_parts(&k), ([1; 32], [2; 12], [3; 16]));
    }
}
