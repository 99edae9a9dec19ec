//! The documented error classes of each public API, and leak checks.
//!
//! Every `check_*` function panics (a fuzz finding) when an error is not one the API documents
//! for that kind of input: e.g. an I/O or RNG error from a pure parser, a file-key error from a
//! key-pair parser, a `WrongPassword` from a parser that never sees a password.

use dracoon_crypto::Error;
use dracoon_crypto::error::{FileKeyProblem, KeyPairProblem, Limit, VersionKind, VersionMismatch};

/// Every class string `Error::class` documents.
pub const CLASSES: [&str; 10] = [
    "wrong_password",
    "invalid_key_pair",
    "invalid_file_key",
    "bad_file",
    "unknown_version",
    "version_mismatch",
    "limit_exceeded",
    "invalid_argument",
    "random",
    "io",
];

/// `MAX_CONTAINER_JSON` of the crate (key container JSON).
pub const MAX_CONTAINER_JSON: usize = 128 * 1024;
/// `MAX_PEM_LEN` of the crate.
pub const MAX_PEM_LEN: usize = 64 * 1024;
/// `MAX_FILE_KEY_JSON` of the crate.
pub const MAX_FILE_KEY_JSON: usize = 16 * 1024;
/// `MAX_ENCRYPTED_DATA` of the crate (PBES2 ciphertext).
pub const MAX_ENCRYPTED_DATA: usize = 16 * 1024;

fn undocumented(api: &str, e: &Error) -> ! {
    panic!("{api}: undocumented error {e:?} ({e})")
}

/// Checks what every error must satisfy: a documented class string and a non-empty message.
pub fn check_common(api: &str, e: &Error) {
    assert!(
        CLASSES.contains(&e.class()),
        "{api}: class {:?} is not documented",
        e.class()
    );
    assert!(!e.to_string().is_empty(), "{api}: empty Display for {e:?}");
}

/// Errors of `PrivateKeyContainer::from_json` / `UserKeyPairContainer::from_json`.
pub fn check_key_container_json(api: &str, e: &Error, json_len: usize) {
    check_common(api, e);
    match e {
        Error::UnsupportedVersion {
            kind: VersionKind::KeyPair,
            value,
        } => assert!(value.chars().count() <= 40, "{api}: version not shortened"),
        Error::InvalidKeyPair(KeyPairProblem::Json) => {}
        Error::LimitExceeded(Limit::InputSize { max }) => {
            assert_eq!(*max, MAX_CONTAINER_JSON, "{api}: wrong limit");
            assert!(json_len > *max, "{api}: limit reported below the limit");
        }
        _ => undocumented(api, e),
    }
}

/// Errors of `PublicKeyContainer::from_json`.
pub fn check_public_container_json(api: &str, e: &Error, json_len: usize) {
    check_key_container_json(api, e, json_len);
}

/// Errors of `UserPublicKey::from_container`.
pub fn check_public_key(api: &str, e: &Error, pem_len: usize) {
    check_common(api, e);
    match e {
        Error::InvalidKeyPair(
            KeyPairProblem::Pem
            | KeyPairProblem::Base64
            | KeyPairProblem::Asn1
            | KeyPairProblem::UnsupportedAlgorithm
            | KeyPairProblem::InvalidKey,
        ) => {}
        Error::InvalidKeyPair(KeyPairProblem::ModulusSize { expected, found }) => {
            assert!(
                *expected == 2048 || *expected == 4096,
                "{api}: expected {expected}"
            );
            assert_ne!(expected, found, "{api}: modulus error without a difference");
        }
        Error::LimitExceeded(Limit::InputSize { max }) => {
            assert_eq!(*max, MAX_PEM_LEN, "{api}: wrong limit");
            assert!(pem_len > *max, "{api}: limit reported below the limit");
        }
        _ => undocumented(api, e),
    }
}

/// Errors of `UserPrivateKey::unlock` / `PrivateKeyContainer::unlock`.
pub fn check_unlock(api: &str, e: &Error, pem_len: usize) {
    check_common(api, e);
    match e {
        Error::WrongPassword => {}
        Error::InvalidKeyPair(
            KeyPairProblem::Pem
            | KeyPairProblem::Base64
            | KeyPairProblem::Asn1
            | KeyPairProblem::UnsupportedAlgorithm
            | KeyPairProblem::NotEncrypted
            | KeyPairProblem::InvalidKey,
        ) => {}
        Error::InvalidKeyPair(KeyPairProblem::ModulusSize { expected, found }) => {
            assert!(*expected == 2048 || *expected == 4096);
            assert_ne!(expected, found);
        }
        Error::LimitExceeded(Limit::IterationCount { found }) => {
            assert!(
                *found == 0 || *found > 10_000_000,
                "{api}: iteration count {found} is within the documented range"
            );
        }
        Error::LimitExceeded(Limit::SaltLength { found }) => {
            assert!(
                !(8..=1024).contains(found),
                "{api}: salt length {found} is within the documented range"
            );
        }
        Error::LimitExceeded(Limit::InputSize { max }) => {
            assert!(
                (*max == MAX_PEM_LEN && pem_len > MAX_PEM_LEN) || *max == MAX_ENCRYPTED_DATA,
                "{api}: input size limit {max} for a PEM of {pem_len} bytes"
            );
        }
        _ => undocumented(api, e),
    }
}

/// Errors of `UserPrivateKey::from_plain_container`.
pub fn check_plain(api: &str, e: &Error, pem_len: usize) {
    check_common(api, e);
    match e {
        Error::InvalidKeyPair(
            KeyPairProblem::Pem
            | KeyPairProblem::Base64
            | KeyPairProblem::Asn1
            | KeyPairProblem::UnsupportedAlgorithm
            | KeyPairProblem::Encrypted
            | KeyPairProblem::InvalidKey,
        ) => {}
        Error::InvalidKeyPair(KeyPairProblem::ModulusSize { expected, found }) => {
            assert!(*expected == 2048 || *expected == 4096);
            assert_ne!(expected, found);
        }
        Error::LimitExceeded(Limit::InputSize { max }) => {
            assert!(*max == MAX_PEM_LEN && pem_len > MAX_PEM_LEN);
        }
        _ => undocumented(api, e),
    }
}

/// Errors of `UserKeyPairContainer::unlock`: the private and public key errors, plus
/// mismatched halves (versions or keys).
pub fn check_key_pair_unlock(api: &str, e: &Error, pem_len: usize) {
    match e {
        Error::VersionMismatch(VersionMismatch::KeyPair { private, public }) => {
            check_common(api, e);
            assert_ne!(private, public, "{api}: mismatch of equal versions");
        }
        Error::InvalidKeyPair(KeyPairProblem::Mismatch) => check_common(api, e),
        _ => check_unlock(api, e, pem_len),
    }
}

/// Errors of `EncryptedFileKey::from_json` (`plain == false`) and `PlainFileKey::from_json`.
pub fn check_file_key_json(api: &str, e: &Error, plain: bool, json_len: usize) {
    check_common(api, e);
    match e {
        Error::UnsupportedVersion { kind, value } => {
            let want = if plain {
                VersionKind::PlainFileKey
            } else {
                VersionKind::EncryptedFileKey
            };
            assert_eq!(*kind, want, "{api}: wrong version kind");
            assert!(value.chars().count() <= 40, "{api}: version not shortened");
        }
        Error::InvalidFileKey(
            FileKeyProblem::Json | FileKeyProblem::Base64(_) | FileKeyProblem::Missing(_),
        ) => {}
        Error::InvalidFileKey(FileKeyProblem::Length {
            expected, found, ..
        }) => {
            assert_ne!(expected, found, "{api}: length error without a difference");
            assert!(
                [32, 12, 16, 256, 512].contains(expected),
                "{api}: undocumented length {expected}"
            );
        }
        Error::LimitExceeded(Limit::InputSize { max }) => {
            assert_eq!(*max, MAX_FILE_KEY_JSON);
            assert!(json_len > *max);
        }
        _ => undocumented(api, e),
    }
}

/// Whether a password is distinctive enough that finding it in a message means a leak: at
/// least four characters and one that no message of the crate contains (non-ASCII, or one of
/// `# ~ | @ $ % & * \ ` `).
#[must_use]
pub fn is_marked(password: &str) -> bool {
    password.chars().count() >= 4
        && password
            .chars()
            .any(|c| !c.is_ascii() || "#~|@$%&*\\`".contains(c))
}

/// Panics when `Debug` or `Display` of `value` contains `secret` (checked only for marked
/// secrets, see [`is_marked`]).
pub fn assert_no_leak<T: std::fmt::Debug + std::fmt::Display>(what: &str, value: &T, secret: &str) {
    if !is_marked(secret) {
        return;
    }
    let debug = format!("{value:?}");
    let display = value.to_string();
    assert!(
        !debug.contains(secret) && !display.contains(secret),
        "{what} prints the password"
    );
}

/// Panics when `Debug` of `value` contains `secret` (for types without `Display`).
pub fn assert_debug_no_leak<T: std::fmt::Debug>(what: &str, value: &T, secret: &str) {
    if secret.len() >= 4 {
        assert!(
            !format!("{value:?}").contains(secret),
            "{what}: Debug prints secret material"
        );
    }
}

/// Checks that a PEM string is in the canonical form the crate writes: LF line endings,
/// 64-character base64 lines (the last may be shorter), the right label, a final newline.
pub fn assert_canonical_pem(what: &str, pem: &str, label: &str) {
    let begin = format!("-----BEGIN {label}-----\n");
    let end = format!("-----END {label}-----\n");
    assert!(pem.starts_with(&begin), "{what}: wrong BEGIN line");
    assert!(pem.ends_with(&end), "{what}: wrong END line");
    assert!(!pem.contains('\r'), "{what}: CR in output PEM");
    let body = &pem[begin.len()..pem.len() - end.len()];
    let lines: Vec<&str> = body.lines().collect();
    assert!(!lines.is_empty(), "{what}: empty PEM body");
    for (i, line) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        assert!(
            line.len() == 64 || (last && !line.is_empty() && line.len() <= 64),
            "{what}: PEM line {i} has {} characters",
            line.len()
        );
    }
}
