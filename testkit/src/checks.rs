//! The cryptographic checks of what clients store: file keys must unwrap with the target's
//! registered private key to the file's plain key; an uploaded ciphertext must verify under it.
//! The RSA and AES work of a batch is spread over the cores on scoped threads; no runtime is
//! involved, so the model stays sans-I/O (the HTTP driver runs a whole request on tokio's
//! blocking pool).

use std::collections::HashMap;
use std::sync::Arc;

use super::content::Content;
use dracoon_crypto::{
    EncryptedFileKey, Password, PlainFileKey, UserKeyPair, UserKeyPairContainer, verify_stream,
};

/// One stored key to check.
#[derive(Debug)]
pub(crate) struct KeyCheck {
    /// What was stored, for the violation text (never key material).
    pub(crate) what: String,
    pub(crate) file_id: i64,
    pub(crate) key: EncryptedFileKey,
    /// The target's registered key pair of the key's version.
    pub(crate) unlocked: Arc<UserKeyPair>,
}

/// What a file's keys are checked against: its plain key if known, else its content (the first
/// key that unwraps and verifies the content becomes the plain key).
#[derive(Debug, Clone)]
pub(crate) struct Truth {
    pub(crate) expected: Option<PlainFileKey>,
    pub(crate) content: Content,
}

#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) violations: Vec<String>,
    /// Plain keys learnt for files whose plain key was unknown.
    pub(crate) derived: Vec<(i64, PlainFileKey)>,
}

/// Runs the checks. Checks are taken in order, so for a file whose plain key is unknown the
/// first check decides it (put the uploader's own key first).
pub(crate) fn run(checks: Vec<KeyCheck>, truths: HashMap<i64, Truth>) -> Outcome {
    if checks.is_empty() {
        return Outcome::default();
    }
    // 1. Learn unknown plain keys (sequential: each file needs one success).
    let (mut outcome, rest, truths) = derive(checks, truths);
    // 2. Compare the rest with the plain keys, in parallel.
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let per_thread = rest.len().div_ceil(threads).max(1);
    let expected = |c: &KeyCheck| truths.get(&c.file_id).and_then(|t| t.expected.as_ref());
    let found: Vec<Vec<String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = rest
            .chunks(per_thread)
            .map(|batch| {
                scope.spawn(move || {
                    batch
                        .iter()
                        .filter_map(|c| compare(c, expected(c)))
                        .collect::<Vec<String>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec!["testkit: a key check panicked".to_string()])
            })
            .collect()
    });
    outcome.violations.extend(found.into_iter().flatten());
    outcome
}

type Derived = (Outcome, Vec<KeyCheck>, HashMap<i64, Truth>);

fn derive(checks: Vec<KeyCheck>, mut truths: HashMap<i64, Truth>) -> Derived {
    let mut outcome = Outcome::default();
    let mut rest = Vec::with_capacity(checks.len());
    for check in checks {
        let Some(truth) = truths.get_mut(&check.file_id) else {
            rest.push(check);
            continue;
        };
        if truth.expected.is_some() {
            rest.push(check);
            continue;
        }
        match check.unlocked.private_key().unwrap_file_key(&check.key) {
            Err(e) => outcome.violations.push(format!(
                "{}: does not unwrap with the target's registered private key ({})",
                check.what,
                e.class()
            )),
            Ok(plain) => match verify_stream(truth.content.reader(), &plain) {
                Ok(_) => {
                    truth.expected = Some(plain.clone());
                    outcome.derived.push((check.file_id, plain));
                }
                Err(_) => outcome.violations.push(format!(
                    "{}: unwraps, but the stored ciphertext does not decrypt and verify under it \
                     (wrong file key, or a corrupted upload)",
                    check.what
                )),
            },
        }
    }
    (outcome, rest, truths)
}

/// A violation text if `check` is wrong.
fn compare(check: &KeyCheck, expected: Option<&PlainFileKey>) -> Option<String> {
    match check.unlocked.private_key().unwrap_file_key(&check.key) {
        Err(e) => Some(format!(
            "{}: does not unwrap with the target's registered private key ({})",
            check.what,
            e.class()
        )),
        Ok(plain) => match expected {
            Some(expected) if &plain != expected => Some(format!(
                "{}: unwraps to a different file key (or IV/tag) than the file's",
                check.what
            )),
            _ => None,
        },
    }
}

/// Checks a download share's `fileKey` by unlocking the share key pair with the registered
/// share passwords. Returns violation texts.
pub(crate) fn share(
    what: String,
    key_pair: UserKeyPairContainer,
    file_key: EncryptedFileKey,
    passwords: Vec<Password>,
    truth: Truth,
) -> Vec<String> {
    if passwords.is_empty() {
        return Vec::new();
    }
    let Some(unlocked) = passwords.iter().find_map(|p| key_pair.unlock(p).ok()) else {
        return vec![format!(
            "{what}: the share key pair does not unlock with any registered share password"
        )];
    };
    let check = KeyCheck {
        what,
        file_id: 0,
        key: file_key,
        unlocked: Arc::new(unlocked),
    };
    match truth.expected {
        Some(expected) => compare(&check, Some(&expected)).into_iter().collect(),
        None => {
            let truths = HashMap::from([(0, truth)]);
            derive(vec![check], truths).0.violations
        }
    }
}
