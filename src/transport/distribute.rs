//! Missing-file-key distribution (FORMAT.md §6.1) and the key ring it unwraps with.

use std::collections::{HashMap, HashSet};
use std::fmt;

use http::Method;

use super::Transport;
use super::client::{Call, Client, Event};
use super::models::{
    Lenient, MissingKeysResponse, UserFileKeySetBatchRequest, UserFileKeySetRequest,
};
use super::overlap::overlapped;
use crate::error::{Error, Result};
use crate::file_key::{EncryptedFileKey, PlainFileKey};
use crate::keys::{UserKeyPair, UserPublicKey};
use crate::version::{EncryptedFileKeyVersion, UserKeyPairVersion};

/// Items per `GET /nodes/missingFileKeys` (the server's enforced maximum).
pub(crate) const PAGE: i64 = 100;
/// Keys per `POST /nodes/files/keys`.
const POST_BATCH: usize = 500;
/// The most wrapped file keys tried (and kept) per file in [`Client::distribute_missing_keys`]:
/// a server listing a file's key many times over cannot multiply the RSA work.
pub const MAX_CANDIDATE_KEYS_PER_FILE: usize = 4;
/// The most public keys of one user that [`Client::distribute_missing_keys`] wraps each file
/// key for (the API keeps at most one per key pair version; users listed with more have the
/// rest ignored, reported once as [`SkipReason::MalformedEntry`]): a server listing a user
/// with many keys cannot multiply the RSA work either.
pub const MAX_PUBLIC_KEYS_PER_USER: usize = 4;

/// Unlocked key pairs to unwrap file keys with: the user's own key pairs (current and
/// previous), or a room's or the system's rescue key pairs. Each key pair is unlocked once, when
/// the ring is built.
///
/// A file key is unwrapped with a key pair of the matching version (FORMAT.md §1.2); when
/// several match (a preserved previous key pair of the same version), each is tried.
#[derive(Clone)]
pub struct KeyRing {
    /// Shared, so that offloaded RSA work can hold the ring without copying private keys.
    pairs: std::sync::Arc<Vec<UserKeyPair>>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field(
                "versions",
                &self
                    .pairs
                    .iter()
                    .map(UserKeyPair::version)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyRing {
    /// A ring of already unlocked key pairs.
    #[must_use]
    pub fn new(pairs: Vec<UserKeyPair>) -> Self {
        KeyRing {
            pairs: std::sync::Arc::new(pairs),
        }
    }

    /// The key pairs.
    #[must_use]
    pub fn pairs(&self) -> &[UserKeyPair] {
        &self.pairs
    }

    /// Whether the ring has a key pair that can unwrap file keys of `version`.
    #[must_use]
    pub fn can_unwrap(&self, version: EncryptedFileKeyVersion) -> bool {
        self.pairs
            .iter()
            .any(|p| p.version() == version.key_pair_version())
    }

    /// The public key new file keys are wrapped for: the RSA-4096 one if there is one.
    #[must_use]
    pub fn preferred_public_key(&self) -> Option<&UserPublicKey> {
        self.pairs
            .iter()
            .find(|p| p.version() == UserKeyPairVersion::Rsa4096)
            .or_else(|| self.pairs.first())
            .map(UserKeyPair::public_key)
    }

    /// Unwraps `file_key` with the first key pair of its version that can.
    pub fn unwrap_file_key(&self, file_key: &EncryptedFileKey) -> Result<PlainFileKey> {
        let mut last = None;
        for pair in self.pairs.iter() {
            if pair.version() != file_key.version().key_pair_version() {
                continue;
            }
            match pair.private_key().unwrap_file_key(file_key) {
                Ok(k) => return Ok(k),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(Error::VersionMismatch(
            crate::error::VersionMismatch::FileKey {
                key_pair: self
                    .pairs
                    .first()
                    .map_or(UserKeyPairVersion::Rsa4096, UserKeyPair::version),
                file_key: file_key.version(),
            },
        )))
    }
}

/// Which key the server wraps the listed file keys for (`use_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UseKey {
    /// The room's rescue key pair (needs `room_id`).
    RoomRescueKey,
    /// The system rescue key pair.
    SystemRescueKey,
    /// The user's preserved previous key pair.
    PreviousUserKey,
    /// The room's previous rescue key pair.
    PreviousRoomRescueKey,
    /// The previous system rescue key pair.
    PreviousSystemRescueKey,
}

impl UseKey {
    /// The API's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            UseKey::RoomRescueKey => "room_rescue_key",
            UseKey::SystemRescueKey => "system_rescue_key",
            UseKey::PreviousUserKey => "previous_user_key",
            UseKey::PreviousRoomRescueKey => "previous_room_rescue_key",
            UseKey::PreviousSystemRescueKey => "previous_system_rescue_key",
        }
    }
}

impl std::str::FromStr for UseKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "room_rescue_key" => UseKey::RoomRescueKey,
            "system_rescue_key" => UseKey::SystemRescueKey,
            "previous_user_key" => UseKey::PreviousUserKey,
            "previous_room_rescue_key" => UseKey::PreviousRoomRescueKey,
            "previous_system_rescue_key" => UseKey::PreviousSystemRescueKey,
            _ => return Err(Error::InvalidArgument("unknown use_key value")),
        })
    }
}

/// Filters of `GET /nodes/missingFileKeys`, and a bound on the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingKeysFilter {
    /// Only files in this room.
    pub room_id: Option<i64>,
    /// Only this file.
    pub file_id: Option<i64>,
    /// Only this target user.
    pub user_id: Option<i64>,
    /// Which key the listed file keys are wrapped for.
    pub use_key: Option<UseKey>,
    /// At most this many list requests (default 100,000): a bound against a server whose list
    /// never ends. When reached the report says `complete: false`.
    pub max_requests: Option<u32>,
}

impl MissingKeysFilter {
    /// No filter.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Only files in `room_id`.
    #[must_use]
    pub fn room(mut self, room_id: i64) -> Self {
        self.room_id = Some(room_id);
        self
    }

    /// Only `file_id`.
    #[must_use]
    pub fn file(mut self, file_id: i64) -> Self {
        self.file_id = Some(file_id);
        self
    }

    /// Only target `user_id`.
    #[must_use]
    pub fn user(mut self, user_id: i64) -> Self {
        self.user_id = Some(user_id);
        self
    }

    /// With `use_key`.
    #[must_use]
    pub fn use_key(mut self, key: UseKey) -> Self {
        self.use_key = Some(key);
        self
    }

    /// At most `n` list requests.
    #[must_use]
    pub fn max_requests(mut self, n: u32) -> Self {
        self.max_requests = Some(n);
        self
    }

    fn query(&self, offset: i64) -> String {
        let mut q = format!("/nodes/missingFileKeys?offset={offset}&limit={PAGE}");
        if let Some(id) = self.room_id {
            q.push_str(&format!("&room_id={id}"));
        }
        if let Some(id) = self.file_id {
            q.push_str(&format!("&file_id={id}"));
        }
        if let Some(id) = self.user_id {
            q.push_str(&format!("&user_id={id}"));
        }
        if let Some(k) = self.use_key {
            q.push_str("&use_key=");
            q.push_str(k.as_str());
        }
        q
    }
}

/// Why a missing (file, user) entry was not served.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The answer listed no file key for the file.
    FileKeyNotListed,
    /// The file key is wrapped for a key pair version the key ring does not have.
    NoKeyPairForVersion(EncryptedFileKeyVersion),
    /// The file key could not be unwrapped with the key ring.
    UnwrapFailed,
    /// The file key entry could not be read (e.g. an unknown version).
    UnreadableFileKey(String),
    /// The answer listed no public key for the user.
    NoPublicKey,
    /// None of the user's public keys could be read (e.g. an unknown version).
    UnreadablePublicKey(String),
    /// Wrapping for the user's public keys failed.
    WrapFailed,
    /// The server still lists the entry after its key was set.
    StillMissingAfterSet,
    /// A list entry without usable ids.
    MalformedEntry(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::FileKeyNotListed => f.write_str("no file key listed for the file"),
            SkipReason::NoKeyPairForVersion(v) => {
                write!(f, "no own key pair for file key version {v}")
            }
            SkipReason::UnwrapFailed => f.write_str("the file key could not be unwrapped"),
            SkipReason::UnreadableFileKey(r) => write!(f, "unreadable file key: {r}"),
            SkipReason::NoPublicKey => f.write_str("no public key listed for the user"),
            SkipReason::UnreadablePublicKey(r) => write!(f, "unreadable public key: {r}"),
            SkipReason::WrapFailed => f.write_str("wrapping for the user's public key failed"),
            SkipReason::StillMissingAfterSet => {
                f.write_str("the server still lists it after its key was set")
            }
            SkipReason::MalformedEntry(r) => write!(f, "malformed entry: {r}"),
        }
    }
}

/// A skipped entry of the missing-keys list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// File id, if known.
    pub file_id: Option<i64>,
    /// User id, if known.
    pub user_id: Option<i64>,
    /// Why.
    pub reason: SkipReason,
}

/// What a distribution run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DistributionReport {
    /// (file, user) pairs that received their key.
    pub distributed: u64,
    /// Keys set (one per public key of each served user).
    pub keys_set: u64,
    /// Entries that could not be served, each reported once.
    pub skipped: Vec<Skipped>,
    /// List requests made.
    pub list_requests: u32,
    /// `false` when the run stopped at [`MissingKeysFilter::max_requests`], or because the
    /// server answered with the same page again at another offset.
    pub complete: bool,
}

/// Applies `f` to every item on scoped threads across the available cores.
pub(crate) fn par_map<I: Sync, O: Send>(items: &[I], f: impl Fn(&I) -> O + Sync) -> Vec<O> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|chunk| s.spawn(move || chunk.iter().map(f).collect::<Vec<O>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        out
    })
}

/// Where a round's job gets its file key from.
enum FileKeySource {
    /// Unwrapped in an earlier round.
    Known(PlainFileKey),
    /// To unwrap now: the usable candidates, tried in order.
    Unwrap(Vec<EncryptedFileKey>),
}

/// The RSA work of one file in a round: its key, and the (user, public key) pairs to wrap it for.
struct FileJob {
    file: i64,
    key: FileKeySource,
    targets: Vec<(i64, UserPublicKey)>,
}

impl FileJob {
    fn new(file: i64, key: FileKeySource) -> Self {
        FileJob {
            file,
            key,
            targets: Vec::new(),
        }
    }
}

/// What [`run_round`] did for one [`FileJob`].
#[derive(Default)]
struct JobOutcome {
    /// The unwrap's result, for a key that was to be unwrapped (`Some(None)`: no candidate
    /// could be unwrapped).
    unwrapped: Option<Option<PlainFileKey>>,
    /// One entry per target, in order (empty when there was no key to wrap).
    wrapped: Vec<Option<EncryptedFileKey>>,
}

/// Runs a round's RSA work on scoped threads across the available cores. The threads take
/// the unwraps first (the long private-key operations) and then the wraps of every file whose
/// key is known, so a core that is done with its unwraps wraps keys while another finishes
/// the last unwrap, instead of idling until the slowest unwrap of the round is done.
fn run_round(jobs: &[FileJob], ring: &KeyRing) -> Vec<JobOutcome> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, PoisonError};

    let to_unwrap: Vec<(usize, &[EncryptedFileKey])> = jobs
        .iter()
        .enumerate()
        .filter_map(|(i, job)| match &job.key {
            FileKeySource::Unwrap(candidates) => Some((i, candidates.as_slice())),
            FileKeySource::Known(_) => None,
        })
        .collect();
    // Files whose key is known and whose wraps no thread has taken yet.
    let ready: Mutex<Vec<(usize, PlainFileKey)>> = Mutex::new(
        jobs.iter()
            .enumerate()
            .filter_map(|(i, job)| match &job.key {
                FileKeySource::Known(key) => Some((i, key.clone())),
                FileKeySource::Unwrap(_) => None,
            })
            .collect(),
    );
    let next_unwrap = AtomicUsize::new(0);
    let worker = || {
        let mut done: Vec<(usize, JobOutcome)> = Vec::new();
        loop {
            let n = next_unwrap.fetch_add(1, Ordering::Relaxed);
            if let Some(&(i, candidates)) = to_unwrap.get(n) {
                let key = candidates.iter().find_map(|k| ring.unwrap_file_key(k).ok());
                if let Some(key) = &key {
                    ready
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((i, key.clone()));
                }
                done.push((
                    i,
                    JobOutcome {
                        unwrapped: Some(key),
                        wrapped: Vec::new(),
                    },
                ));
                continue;
            }
            // No unwrap is left to take. A thread still unwrapping queues that key and then
            // comes here itself, so nothing queued is left behind when this thread stops.
            let next = ready.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let Some((i, key)) = next else {
                return done;
            };
            let wrapped = jobs[i]
                .targets
                .iter()
                .map(|(_, pk)| pk.wrap_file_key(&key).ok())
                .collect();
            done.push((
                i,
                JobOutcome {
                    unwrapped: None,
                    wrapped,
                },
            ));
        }
    };
    let work = to_unwrap.len() + jobs.iter().filter(|j| !j.targets.is_empty()).count();
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(work)
        .max(1);
    let parts: Vec<Vec<(usize, JobOutcome)>> = if threads == 1 {
        vec![worker()]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    let mut outcomes: Vec<JobOutcome> = std::iter::repeat_with(JobOutcome::default)
        .take(jobs.len())
        .collect();
    for (i, part) in parts.into_iter().flatten() {
        let slot = &mut outcomes[i];
        if part.unwrapped.is_some() {
            slot.unwrapped = part.unwrapped;
        }
        if !part.wrapped.is_empty() {
            slot.wrapped = part.wrapped;
        }
    }
    outcomes
}

/// A round's keys, waiting to be set.
struct PendingKeys {
    items: Vec<UserFileKeySetRequest>,
    /// The (file, user) pairs they serve.
    pairs: u64,
}

/// The list request for the page at `offset`.
fn list_call(filter: &MissingKeysFilter, offset: i64) -> Call {
    Call::api(Method::GET, filter.query(offset), "list missing file keys")
}

/// One round's page, indexed.
struct Page {
    pairs: Vec<(i64, i64)>,
    users: HashMap<i64, Vec<UserPublicKey>>,
    user_problems: HashMap<i64, String>,
    files: HashMap<i64, Vec<EncryptedFileKey>>,
    file_problems: HashMap<i64, String>,
    malformed: Vec<String>,
}

fn index_page(resp: MissingKeysResponse) -> Page {
    let mut page = Page {
        pairs: Vec::with_capacity(resp.items.len()),
        users: HashMap::new(),
        user_problems: HashMap::new(),
        files: HashMap::new(),
        file_problems: HashMap::new(),
        malformed: Vec::new(),
    };
    let mut seen = HashSet::new();
    for item in resp.items {
        match (item.file_id, item.user_id) {
            (Some(f), Some(u)) => {
                if seen.insert((f, u)) {
                    page.pairs.push((f, u));
                }
            }
            _ => page
                .malformed
                .push("missing-keys item without fileId or userId".into()),
        }
    }
    let mut seen_keys: HashSet<(i64, String)> = HashSet::new();
    for user in resp.users {
        match user {
            // The same key listed twice (once per item) is wrapped for once.
            Lenient::Valid(u)
                if !seen_keys.insert((u.id, u.public_key_container.public_key.clone())) => {}
            Lenient::Valid(u)
                if page
                    .users
                    .get(&u.id)
                    .is_some_and(|keys| keys.len() >= MAX_PUBLIC_KEYS_PER_USER) =>
            {
                page.malformed.push(format!(
                    "user {}: more than {MAX_PUBLIC_KEYS_PER_USER} public keys listed, the others are ignored",
                    u.id
                ));
            }
            Lenient::Valid(u) => match UserPublicKey::from_container(&u.public_key_container) {
                Ok(k) => page.users.entry(u.id).or_default().push(k),
                Err(e) => {
                    page.user_problems.insert(u.id, e.to_string());
                }
            },
            Lenient::Invalid {
                id: Some(id),
                reason,
            } => {
                page.user_problems.insert(id, reason);
            }
            Lenient::Invalid { id: None, reason } => page.malformed.push(reason),
        }
    }
    for file in resp.files {
        match file {
            Lenient::Valid(f) => {
                let keys = page.files.entry(f.id).or_default();
                if keys.len() < MAX_CANDIDATE_KEYS_PER_FILE && !keys.contains(&f.file_key_container)
                {
                    keys.push(f.file_key_container);
                }
            }
            Lenient::Invalid {
                id: Some(id),
                reason,
            } => {
                page.file_problems.insert(id, reason);
            }
            Lenient::Invalid { id: None, reason } => page.malformed.push(reason),
        }
    }
    page
}

impl<T: Transport> Client<T> {
    /// Distributes missing file keys: pages through `GET /nodes/missingFileKeys` (100 per
    /// request), unwraps each file key once with `keys`, wraps it for **every** public key of
    /// each listed user (in that key's version), and sets them with `POST /nodes/files/keys`,
    /// until a list made after the last keys were set shows nothing that can be served. While
    /// a page's RSA work runs, the last page's keys are set and then the next page is listed,
    /// at the offset where it will start once this page's keys are set (so while progress is
    /// made, the pages are the ones a list from offset 0 after each round would show); a pass
    /// that made progress ends with a list from offset 0. Entries that cannot be served are skipped once and reported (with an
    /// [`Event::Skipped`]); the run then moves past them, so it never loops on them. RSA work
    /// runs in parallel across cores, through [`Transport::offload`]. A server cannot multiply
    /// that work: at most [`MAX_CANDIDATE_KEYS_PER_FILE`] wrapped keys are tried per
    /// file and at most [`MAX_PUBLIC_KEYS_PER_USER`] public keys served per user.
    ///
    /// Build `keys` with [`Client::key_ring`] (own key pairs, or rescue key pairs for
    /// [`MissingKeysFilter::use_key`]).
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "dracoon.distribute_missing_keys", level = "info", skip_all)
    )]
    pub async fn distribute_missing_keys(
        &self,
        keys: &KeyRing,
        filter: &MissingKeysFilter,
    ) -> Result<DistributionReport> {
        self.distribute_inner(keys, filter, HashMap::new()).await
    }

    pub(crate) async fn distribute_inner(
        &self,
        keys: &KeyRing,
        filter: &MissingKeysFilter,
        known: HashMap<i64, PlainFileKey>,
    ) -> Result<DistributionReport> {
        let max_requests = filter.max_requests.unwrap_or(100_000);
        let mut report = DistributionReport::default();
        // Plain keys by file: Some = unwrapped, None = cannot be unwrapped.
        let mut plain: HashMap<i64, Option<PlainFileKey>> =
            known.into_iter().map(|(id, k)| (id, Some(k))).collect();
        let mut unservable: HashSet<(i64, i64)> = HashSet::new();
        let mut served: HashSet<(i64, i64)> = HashSet::new();
        let mut malformed_seen: HashSet<String> = HashSet::new();
        let mut offset: i64 = 0;
        let mut progress_in_pass = false;
        // The pages of this pass since the last progress: the same page twice means the
        // server ignores the offset (nothing on it can change: its pairs are all unservable
        // now), so the run stops instead of walking on to `max_requests`.
        let mut stale_pages: HashSet<Vec<(i64, i64)>> = HashSet::new();
        // The next page, listed while the last round's RSA work ran (before its keys were set),
        // and the pairs that round served.
        let mut prefetched: Option<Result<MissingKeysResponse>> = None;
        let mut last_served: HashSet<(i64, i64)> = HashSet::new();
        // The last round's keys, not set yet.
        let mut pending: Option<PendingKeys> = None;
        loop {
            let fresh = prefetched.is_none();
            let resp = if let Some(listed) = prefetched.take() {
                listed?
            } else {
                // A list from here sees every key computed so far.
                self.flush_keys(&mut report, &mut pending).await?;
                if report.list_requests >= max_requests {
                    report.complete = false;
                    return Ok(report);
                }
                report.list_requests += 1;
                self.call_json(&list_call(filter, offset)).await?
            };
            let full = resp.items.len() >= PAGE as usize;
            let page = index_page(resp);
            for reason in &page.malformed {
                if malformed_seen.insert(reason.clone()) {
                    self.skip(
                        &mut report,
                        None,
                        None,
                        SkipReason::MalformedEntry(reason.clone()),
                    );
                }
            }
            if page.pairs.is_empty() {
                if !fresh {
                    // Listed before the last keys were set: only a list after them can say
                    // that nothing is left.
                    continue;
                }
                if offset == 0 || !progress_in_pass {
                    report.complete = true;
                    return Ok(report);
                }
                // End of a pass that made progress: check once more from the start, in case
                // entries appeared before the offset while we were working.
                offset = 0;
                progress_in_pass = false;
                stale_pages.clear();
                continue;
            }
            let page_len = i64::try_from(page.pairs.len()).unwrap_or(PAGE);

            // What is new on this page?
            let mut todo: Vec<(i64, i64)> = Vec::new();
            for &pair in &page.pairs {
                if unservable.contains(&pair) || (!fresh && last_served.contains(&pair)) {
                    // Known, or listed before its key was set (a list that changed order).
                    continue;
                }
                if served.contains(&pair) {
                    unservable.insert(pair);
                    self.skip(
                        &mut report,
                        Some(pair.0),
                        Some(pair.1),
                        SkipReason::StillMissingAfterSet,
                    );
                    continue;
                }
                todo.push(pair);
            }

            // One RSA job per file of this round: unwrap its key unless known, and wrap it for
            // every public key of its users on this page (in parallel, off the executor).
            let mut jobs: Vec<FileJob> = Vec::new();
            let mut job_of: HashMap<i64, usize> = HashMap::new();
            for &(file, user) in &todo {
                if plain.contains_key(&file) || job_of.contains_key(&file) {
                    continue;
                }
                let listed = page.files.get(&file).map(Vec::as_slice).unwrap_or_default();
                let usable: Vec<EncryptedFileKey> = listed
                    .iter()
                    .filter(|k| keys.can_unwrap(k.version()))
                    .take(MAX_CANDIDATE_KEYS_PER_FILE)
                    .cloned()
                    .collect();
                if usable.is_empty() {
                    let reason = if let Some(k) = listed.first() {
                        SkipReason::NoKeyPairForVersion(k.version())
                    } else if let Some(p) = page.file_problems.get(&file) {
                        SkipReason::UnreadableFileKey(p.clone())
                    } else {
                        SkipReason::FileKeyNotListed
                    };
                    // Not cached: a later page may list a usable key for this file.
                    unservable.insert((file, user));
                    self.skip(&mut report, Some(file), Some(user), reason);
                    continue;
                }
                job_of.insert(file, jobs.len());
                jobs.push(FileJob::new(file, FileKeySource::Unwrap(usable)));
            }
            for &(file, user) in &todo {
                if unservable.contains(&(file, user)) {
                    continue;
                }
                let Some(pubs) = page.users.get(&user).filter(|v| !v.is_empty()) else {
                    continue;
                };
                let job = match (job_of.get(&file), plain.get(&file)) {
                    (Some(&i), _) => i,
                    (None, Some(Some(key))) => {
                        job_of.insert(file, jobs.len());
                        jobs.push(FileJob::new(file, FileKeySource::Known(key.clone())));
                        jobs.len() - 1
                    }
                    (None, _) => continue,
                };
                jobs[job]
                    .targets
                    .extend(pubs.iter().map(|pk| (user, pk.clone())));
            }
            // While this page's RSA work runs, the last round's keys are set and then the next
            // page is listed: at the offset after this page, which is where it will start once
            // this page's keys are set and gone from the list. Only a full page can have one
            // after it.
            let prefetch = full && !jobs.is_empty() && report.list_requests < max_requests;
            let next_offset = offset.saturating_add(page_len);
            let (jobs, outcomes) = if jobs.is_empty() {
                self.flush_keys(&mut report, &mut pending).await?;
                (jobs, Vec::new())
            } else {
                let ring = keys.clone();
                let rsa = self.offload(move || {
                    let outcomes = run_round(&jobs, &ring);
                    (jobs, outcomes)
                });
                let last = pending.take();
                let list = prefetch.then(|| list_call(filter, next_offset));
                if last.is_none() && list.is_none() {
                    rsa.await?
                } else {
                    let send = async {
                        if let Some(last) = &last {
                            self.set_keys(&last.items).await?;
                        }
                        Ok(match &list {
                            Some(call) => Some(self.call_json::<MissingKeysResponse>(call).await),
                            None => None,
                        })
                    };
                    report.list_requests += u32::from(prefetch);
                    // RSA work always outweighs a thread.
                    let (sent, done) = overlapped(self.transport(), usize::MAX, send, rsa).await;
                    prefetched = sent?;
                    if let Some(last) = last {
                        self.count_set(&mut report, &last);
                    }
                    done?
                }
            };
            // The wrapped keys by pair, in the order of each user's public keys.
            let mut wrapped: HashMap<(i64, i64), Vec<EncryptedFileKey>> = HashMap::new();
            for (job, outcome) in jobs.iter().zip(outcomes) {
                if let Some(key) = outcome.unwrapped {
                    plain.insert(job.file, key);
                }
                for ((user, _), key) in job.targets.iter().zip(outcome.wrapped) {
                    wrapped.entry((job.file, *user)).or_default().extend(key);
                }
            }

            let mut pairs_in_round: Vec<(i64, i64)> = Vec::new();
            for &(file, user) in &todo {
                if unservable.contains(&(file, user)) {
                    continue;
                }
                match plain.get(&file) {
                    Some(Some(_)) => {}
                    Some(None) => {
                        unservable.insert((file, user));
                        self.skip(
                            &mut report,
                            Some(file),
                            Some(user),
                            SkipReason::UnwrapFailed,
                        );
                        continue;
                    }
                    None => continue,
                }
                if page.users.get(&user).is_none_or(Vec::is_empty) {
                    let reason = match page.user_problems.get(&user) {
                        Some(p) => SkipReason::UnreadablePublicKey(p.clone()),
                        None => SkipReason::NoPublicKey,
                    };
                    unservable.insert((file, user));
                    self.skip(&mut report, Some(file), Some(user), reason);
                    continue;
                }
                pairs_in_round.push((file, user));
            }
            let mut items = Vec::new();
            let mut ok_pairs: HashSet<(i64, i64)> = HashSet::new();
            for &(file, user) in &pairs_in_round {
                let keys = wrapped.remove(&(file, user)).unwrap_or_default();
                if keys.is_empty() {
                    unservable.insert((file, user));
                    self.skip(&mut report, Some(file), Some(user), SkipReason::WrapFailed);
                    continue;
                }
                ok_pairs.insert((file, user));
                items.extend(keys.into_iter().map(|file_key| UserFileKeySetRequest {
                    file_id: file,
                    user_id: user,
                    file_key,
                }));
            }

            let progress = !ok_pairs.is_empty();
            if progress {
                // Set while the next round's RSA runs, or before the next list from here.
                pending = Some(PendingKeys {
                    items,
                    pairs: ok_pairs.len() as u64,
                });
            }
            served.extend(ok_pairs.iter().copied());
            if progress {
                progress_in_pass = true;
                stale_pages.clear();
                if prefetched.is_some() {
                    // The prefetched page starts after the pairs of this page that are still
                    // listed (those just served are gone); a list that changed meanwhile is
                    // caught by the pass from offset 0 that ends every pass with progress.
                    let served_here = i64::try_from(ok_pairs.len()).unwrap_or(page_len);
                    offset = next_offset.saturating_sub(served_here).max(offset);
                }
            } else if !stale_pages.insert(page.pairs) {
                self.flush_keys(&mut report, &mut pending).await?;
                report.complete = false;
                return Ok(report);
            } else {
                // Nothing on this page can be served: move past it.
                offset = next_offset;
            }
            last_served = ok_pairs;
        }
    }

    /// Sets keys with `POST /nodes/files/keys`, in batches.
    async fn set_keys(&self, items: &[UserFileKeySetRequest]) -> Result<()> {
        for batch in items.chunks(POST_BATCH) {
            let body = UserFileKeySetBatchRequest {
                items: batch.to_vec(),
            };
            let call = Call::api(Method::POST, "/nodes/files/keys".into(), "set file keys")
                .idempotent(true)
                .json(&body)?;
            self.call_empty(&call).await?;
        }
        Ok(())
    }

    /// Counts keys that were set, and reports the progress.
    fn count_set(&self, report: &mut DistributionReport, set: &PendingKeys) {
        report.keys_set += set.items.len() as u64;
        report.distributed += set.pairs;
        self.emit(Event::Distributed {
            pairs: report.distributed,
        });
    }

    /// Sets the pending keys, if any, now.
    async fn flush_keys(
        &self,
        report: &mut DistributionReport,
        pending: &mut Option<PendingKeys>,
    ) -> Result<()> {
        if let Some(keys) = pending.take() {
            self.set_keys(&keys.items).await?;
            self.count_set(report, &keys);
        }
        Ok(())
    }

    fn skip(
        &self,
        report: &mut DistributionReport,
        file_id: Option<i64>,
        user_id: Option<i64>,
        reason: SkipReason,
    ) {
        let s = Skipped {
            file_id,
            user_id,
            reason,
        };
        self.emit(Event::Skipped(s.clone()));
        report.skipped.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every job of a round gets exactly its own work done, whichever thread took it: known
    /// keys are wrapped without an unwrap, keys to unwrap are tried candidate by candidate, a
    /// key that cannot be unwrapped is wrapped for nobody, and every wrap is of the right key.
    #[test]
    fn a_round_does_each_jobs_own_work_and_nothing_else() {
        let mine = UserKeyPair::generate(UserKeyPairVersion::Rsa2048).unwrap();
        let theirs = UserKeyPair::generate(UserKeyPairVersion::Rsa2048).unwrap();
        let ring = KeyRing::new(vec![mine.clone()]);
        let foreign = |key: &PlainFileKey| theirs.public_key().wrap_file_key(key).unwrap();
        let mut jobs = Vec::new();
        let mut expected = Vec::new();
        for i in 0..9 {
            let (_, key) = crate::encrypt_bytes(format!("file {i}").as_bytes()).unwrap();
            let for_me = mine.public_key().wrap_file_key(&key).unwrap();
            let source = match i % 4 {
                0 => FileKeySource::Known(key.clone()),
                1 => FileKeySource::Unwrap(vec![for_me]),
                // The first candidate is not for this ring; the second is.
                2 => FileKeySource::Unwrap(vec![foreign(&key), for_me]),
                _ => FileKeySource::Unwrap(vec![foreign(&key)]),
            };
            let mut job = FileJob::new(i, source);
            // One job without targets; the others for one or two users.
            for user in 0..(i % 3) {
                job.targets.push((user, theirs.public_key().clone()));
            }
            jobs.push(job);
            expected.push((i % 4, key));
        }
        let outcomes = run_round(&jobs, &ring);
        assert_eq!(outcomes.len(), jobs.len());
        for ((kind, key), (job, outcome)) in expected.iter().zip(jobs.iter().zip(&outcomes)) {
            let json = key.to_json();
            match kind {
                0 => assert!(outcome.unwrapped.is_none(), "a known key is not unwrapped"),
                1 | 2 => {
                    let got = outcome.unwrapped.as_ref().unwrap().as_ref().unwrap();
                    assert_eq!(got.to_json(), json);
                }
                _ => {
                    assert!(matches!(outcome.unwrapped, Some(None)));
                    assert!(outcome.wrapped.is_empty(), "nothing to wrap without a key");
                    continue;
                }
            }
            assert_eq!(outcome.wrapped.len(), job.targets.len());
            for wrapped in &outcome.wrapped {
                let back = theirs
                    .private_key()
                    .unwrap_file_key(wrapped.as_ref().unwrap())
                    .unwrap();
                assert_eq!(back.to_json(), json);
            }
        }
    }

    /// A page listing one file with `n` distinct wrapped keys of version A.
    fn page_with_keys(n: usize) -> MissingKeysResponse {
        let files: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"id":1,"fileKeyContainer":{{"key":"{}","iv":"AAAAAAAAAAAAAAAA","version":"A","tag":"AAAAAAAAAAAAAAAAAAAAAA=="}}}}"#,
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [i as u8; 256])
                )
            })
            .collect();
        let json = format!(
            r#"{{"items":[{{"fileId":1,"userId":2}},{{"fileId":1,"userId":2}}],"users":[],"files":[{}]}}"#,
            files.join(",")
        );
        serde_json::from_str(&json).unwrap()
    }

    /// A page listing user 2 with `n` distinct (well-formed) public keys.
    fn page_with_public_keys(n: usize) -> MissingKeysResponse {
        static PEMS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        let pems = PEMS.get_or_init(|| {
            (0..6)
                .map(|_| {
                    let pair = UserKeyPair::generate(UserKeyPairVersion::Rsa2048).unwrap();
                    serde_json::to_string(&pair.public_key().to_container().unwrap()).unwrap()
                })
                .collect()
        });
        let users: Vec<String> = pems
            .iter()
            .take(n)
            .map(|c| format!(r#"{{"id":2,"publicKeyContainer":{c}}}"#))
            .collect();
        let json = format!(
            r#"{{"items":[{{"fileId":1,"userId":2}}],"users":[{}],"files":[]}}"#,
            users.join(",")
        );
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn a_page_keeps_few_public_keys_per_user() {
        let page = index_page(page_with_public_keys(6));
        assert_eq!(page.users[&2].len(), MAX_PUBLIC_KEYS_PER_USER);
        assert_eq!(page.malformed.len(), 2, "{:?}", page.malformed);
        assert!(page.malformed[0].contains("more than 4 public keys"));
        let page = index_page(page_with_public_keys(3));
        assert_eq!(page.users[&2].len(), 3);
        assert!(page.malformed.is_empty());
    }

    #[test]
    fn a_page_keeps_few_candidate_keys_per_file_and_no_duplicate_pairs() {
        let page = index_page(page_with_keys(50));
        assert_eq!(page.files[&1].len(), MAX_CANDIDATE_KEYS_PER_FILE);
        assert_eq!(page.pairs, vec![(1, 2)], "duplicate items are dropped");
        let page = index_page(page_with_keys(2));
        assert_eq!(page.files[&1].len(), 2);
    }
}
