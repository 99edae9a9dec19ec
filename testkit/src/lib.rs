//! An in-process HTTP/1.1 server that imitates the DRACOON API subset of
//! `dracoon-crypto-api.yaml`, for tests, demos and benchmarks (feature `testkit`).
//!
//! The server runs on `127.0.0.1` on an ephemeral port, on its own thread with its own tokio
//! runtime, and stops when the [`TestServer`](crate::TestServer) is dropped. It reads
//! and writes the API's JSON itself (an independent second reading of the spec, sharing no
//! models with the client side), validates requests against the spec's shapes, answers errors
//! as DRACOON `ErrorResponse`s with the spec's `errorCode`s, and checks the cryptography
//! clients hand it:
//!
//! * every file key stored for a user or rescue key (`POST /nodes/files/keys`, upload completion,
//!   share creation) must unwrap, with the private key the test registered for the target, to
//!   the file's plain key; an upload's ciphertext must verify under the key the uploader wrapped
//!   for themselves;
//! * public, token and presigned S3 endpoints must not receive an `Authorization` header;
//! * chunk uploads must carry a `Content-Range` matching the body, and must not rewrite a byte
//!   range with different bytes.
//!
//! Whatever is wrong ends up in
//! [`TestServer::violations`](crate::TestServer::violations), which tests assert to be
//! empty. Faults (5xx/429 answers, connections dropped mid-body, a missing-keys list that
//! changes between pages) are injected with
//! [`TestServer::inject`](crate::TestServer::inject).
//!
//! The Rust API and the HTTP behaviour are fixed in `docs/contract.md` of this crate.
//!
//! ```no_run
//! use dracoon_crypto_testkit::TestServer;
//!
//! let server = TestServer::start()?;
//! let alice = server.create_user("alice");
//! let room = server.create_room("Finance", true, &[alice.id]);
//! println!("API at {}/api/v4, token {}, room {room}", server.base_url(), alice.token);
//! assert!(server.violations().is_empty());
//! # Ok::<(), std::io::Error>(())
//! ```

mod api;
mod checks;
mod content;
pub mod der;
mod json;
mod keypairs;
mod memory;
mod missing;
mod model;
#[cfg(feature = "server")]
mod pool;
#[cfg(feature = "server")]
mod server;
mod shares;
mod state;
mod transfers;
mod uploads;

pub use memory::InMemoryTransport;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
#[cfg(feature = "server")]
use tokio::sync::oneshot;

use content::Content;
use dracoon_crypto::{
    EncryptedFileKey, Password, PlainFileKey, UserKeyPair, UserKeyPairContainer,
    UserKeyPairVersion, UserPublicKey,
};
use state::{FileNode, Holder, Room, State, UploadShare, User};

/// The DRACOON model: users, rooms, key pairs, files and their keys, uploads and shares, and
/// the checks of what clients store (see [`Model::violations`]). Set it up with the methods
/// below, then talk to it through [`Model::transport`] (in memory), a [`TestServer`] (HTTP on
/// 127.0.0.1, feature `server`) or [`Model::dispatch`] (one request, one answer). Clones share
/// the same state.
#[derive(Debug, Clone)]
pub struct Model {
    shared: Arc<Shared>,
    base_url: String,
}

/// A real HTTP/1.1 server on 127.0.0.1 (ephemeral port) serving a [`Model`] (which it derefs
/// to, for setting up and inspecting), on its own thread with its own tokio runtime. Shuts
/// down on drop.
#[cfg(feature = "server")]
#[derive(Debug)]
pub struct TestServer {
    model: Model,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A user of the server: its id, login and bearer token.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The user id (`userId` in the API).
    pub id: i64,
    /// The login name.
    pub login: String,
    /// The token to send as `Authorization: Bearer <token>`.
    pub token: String,
}

/// A request as the server saw it (for assertions).
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `"GET"`, `"POST"`, ...
    pub method: String,
    /// Path without query, e.g. `"/api/v4/nodes/missingFileKeys"`.
    pub path: String,
    /// Raw query string (`""` if none).
    pub query: String,
    /// The `Authorization` header as received, verbatim.
    pub authorization: Option<String>,
    /// All headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Bytes of request body received (for a dropped upload: up to the drop).
    pub body_len: usize,
    /// What the server answered (0 if the connection was dropped).
    pub status: u16,
}

/// Faults injected on demand. Each applies to the next `count` matching requests.
///
/// `method` is an HTTP method (case-insensitive) or `"*"` for any. `path_prefix` is compared
/// with the request path (e.g. `"/api/v4/uploads/"`); a prefix that does not start with
/// `/api/` also matches the path after `/api/v4` (`"/uploads/"`, `"/nodes/files/keys"`), and
/// `"/s3/"` matches presigned S3 part uploads. The first injected fault that matches applies.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with `status` (e.g. 500, 502, 503, 429) and a DRACOON ErrorResponse body;
    /// `retry_after` sets a `Retry-After` header (seconds). The request body is read and
    /// discarded; nothing of the request takes effect.
    Status {
        /// HTTP method to match, or `"*"`.
        method: &'static str,
        /// Path prefix to match.
        path_prefix: String,
        /// Status to answer with.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
        /// How many matching requests get this answer.
        count: usize,
    },
    /// Drop the connection mid-transfer: for requests with a body (chunk uploads, S3 part
    /// PUTs) after reading `after_bytes` of the request body; for downloads after sending the
    /// headers and `after_bytes` of the response body. Nothing of a dropped upload is stored.
    /// (A request with a body shorter than `after_bytes`, or an answer not longer than
    /// `after_bytes`, is dropped without any answer.)
    DropConnection {
        /// HTTP method to match, or `"*"`.
        method: &'static str,
        /// Path prefix to match.
        path_prefix: String,
        /// Bytes of body transferred before the drop.
        after_bytes: usize,
        /// How many matching requests are dropped.
        count: usize,
    },
    /// Missing-keys list changes between pages: after the next GET /nodes/missingFileKeys is
    /// answered, `user_id` becomes a member of `room_id` (so new (file, user) pairs appear).
    AddRoomMemberAfterMissingKeysPage {
        /// The room.
        room_id: i64,
        /// The user who joins it.
        user_id: i64,
    },
}

/// A saved state of a [`Model`] ([`Model::snapshot`], [`Model::restore`]).
#[derive(Debug, Clone)]
pub struct Snapshot(Box<State>);

/// What the server thread and the [`TestServer`] handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn record(&self, request: RecordedRequest) {
        self.lock().requests.push(request);
    }
}

#[cfg(feature = "server")]
impl TestServer {
    /// Binds `127.0.0.1:0` and starts serving a new [`Model`] there (its base URL is
    /// `http://127.0.0.1:PORT`).
    pub fn start() -> std::io::Result<TestServer> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let model = Model::with_base_url(&format!("http://{}", listener.local_addr()?));
        let (stop, thread) = server::start(model.clone(), listener)?;
        Ok(TestServer {
            model,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The model it serves.
    #[must_use]
    pub fn model(&self) -> &Model {
        &self.model
    }
}

#[cfg(feature = "server")]
impl std::ops::Deref for TestServer {
    type Target = Model;

    fn deref(&self) -> &Model {
        &self.model
    }
}

impl Default for Model {
    fn default() -> Self {
        Model::new()
    }
}

impl Model {
    /// The base URL of an in-memory model: a name that no network resolves.
    pub const IN_MEMORY_BASE_URL: &'static str = "https://dracoon.test";

    /// A new, empty model at [`Model::IN_MEMORY_BASE_URL`].
    #[must_use]
    pub fn new() -> Model {
        Model::with_base_url(Model::IN_MEMORY_BASE_URL)
    }

    /// A new, empty model whose answers (upload, download and S3 URLs) point to `base_url`
    /// (scheme, host and port, no trailing slash).
    #[must_use]
    pub fn with_base_url(base_url: &str) -> Model {
        let base_url = base_url.trim_end_matches('/').to_string();
        Model {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(base_url.clone())),
            }),
            base_url,
        }
    }

    /// `"https://dracoon.test"`, or `"http://127.0.0.1:PORT"` for a [`TestServer`] (no trailing
    /// slash); the API lives under `{base_url}/api/v4`.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// A transport that carries requests to this model in memory (async and blocking), for
    /// [`Client::new`](dracoon_crypto::transport::Client::new) with [`Model::base_url`].
    #[must_use]
    pub fn transport(&self) -> InMemoryTransport {
        InMemoryTransport::new(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Creates a user with a fresh random token.
    pub fn create_user(&self, login: &str) -> TestUser {
        self.create_user_with_token(login, &json::random_hex(24))
    }

    /// Creates a user whose bearer token is `token` (for fixtures that must know it in
    /// advance, e.g. to recognise it in logs). A token already in use moves to the new user.
    pub fn create_user_with_token(&self, login: &str, token: &str) -> TestUser {
        let mut st = self.lock();
        let id = st.next_id();
        let token = token.to_string();
        st.users.insert(
            id,
            User {
                id,
                login: login.to_string(),
                keys: state::KeyRing::default(),
            },
        );
        st.tokens.insert(token.clone(), id);
        TestUser {
            id,
            login: login.to_string(),
            token,
        }
    }

    /// Adds a key pair to the user (as POST /user/account/keypair would; a user may hold one
    /// per version, A and RSA-4096; a current key pair of the same version is replaced).
    /// `unlocked` lets the server check every file key that is later set for this user (see
    /// [`TestServer::violations`]).
    pub fn add_user_key_pair(
        &self,
        user_id: i64,
        container: UserKeyPairContainer,
        unlocked: &UserKeyPair,
    ) {
        self.set_key_pair(
            "add_user_key_pair",
            Holder::User(user_id),
            container,
            unlocked,
            Some(user_id),
        );
    }

    fn set_key_pair(
        &self,
        what: &str,
        holder: Holder,
        container: UserKeyPairContainer,
        unlocked: &UserKeyPair,
        creator: Option<i64>,
    ) {
        let matches = UserPublicKey::from_container(&container.public_key_container)
            .is_ok_and(|public| &public == unlocked.public_key());
        let mut st = self.lock();
        if !matches {
            st.violation(format!(
                "testkit misuse: {what}: the container's public key is not the unlocked key pair's"
            ));
            return;
        }
        if let Err(e) =
            st.set_key_pair(holder, container, Some(Arc::new(unlocked.clone())), creator)
        {
            st.violation(format!("testkit misuse: {what}: {e}"));
        }
    }

    /// Adds a key pair to the user without its unlocked form: for a user whose private key the
    /// test cannot (or need not) unlock. File keys later set for this key pair are not checked.
    pub fn add_user_key_pair_unchecked(&self, user_id: i64, container: UserKeyPairContainer) {
        let mut st = self.lock();
        if let Err(e) = st.set_key_pair(Holder::User(user_id), container, None, Some(user_id)) {
            st.violation(format!("testkit misuse: add_user_key_pair_unchecked: {e}"));
        }
    }

    /// Marks the user's key pair of `version` as "previous" (preserved old key pair, returned
    /// by GET /user/account/keypairs and used by use_key=previous_user_key).
    pub fn mark_previous_user_key_pair(&self, user_id: i64, version: UserKeyPairVersion) {
        let mut st = self.lock();
        if !st.mark_previous(Holder::User(user_id), version) {
            st.violation(format!(
                "testkit misuse: mark_previous_user_key_pair: user {user_id} has no current key pair of version {version}"
            ));
        }
    }

    /// A room (a node of type room) with the given members (read+write+manage-download-share
    /// permissions). Returns the room id.
    pub fn create_room(&self, name: &str, encrypted: bool, member_ids: &[i64]) -> i64 {
        let mut st = self.lock();
        let id = st.next_id();
        let unknown: Vec<i64> = member_ids
            .iter()
            .copied()
            .filter(|m| !st.users.contains_key(m))
            .collect();
        if !unknown.is_empty() {
            st.violation(format!(
                "testkit misuse: create_room: unknown members {unknown:?}"
            ));
        }
        let members = member_ids
            .iter()
            .copied()
            .filter(|m| st.users.contains_key(m))
            .collect();
        st.rooms.insert(
            id,
            Room {
                id,
                name: name.to_string(),
                encrypted,
                members,
                rescue: state::KeyRing::default(),
                use_system_rescue: true,
                created_at: json::now(),
            },
        );
        id
    }

    /// Makes `user_id` a member of `room_id`.
    pub fn add_room_member(&self, room_id: i64, user_id: i64) {
        let mut st = self.lock();
        if !st.users.contains_key(&user_id) {
            st.violation(format!(
                "testkit misuse: add_room_member: no user {user_id}"
            ));
            return;
        }
        match st.rooms.get_mut(&room_id) {
            Some(room) => {
                room.members.insert(user_id);
            }
            None => st.violation(format!(
                "testkit misuse: add_room_member: no room {room_id}"
            )),
        }
    }

    /// Sets the room's rescue key pair ("data room emergency password"); `unlocked` lets the
    /// server check the file keys set for it. It takes part in missing keys under the pseudo
    /// user id `-room_id`.
    pub fn set_room_rescue_key_pair(
        &self,
        room_id: i64,
        container: UserKeyPairContainer,
        unlocked: &UserKeyPair,
    ) {
        self.set_key_pair(
            "set_room_rescue_key_pair",
            Holder::RoomRescue(room_id),
            container,
            unlocked,
            None,
        );
    }

    /// Sets the system rescue key pair ("data space emergency password"), used by every
    /// encrypted room unless a room was encrypted with `useDataSpaceRescueKey: false`. It
    /// takes part in missing keys under the pseudo user id `-1`.
    pub fn set_system_rescue_key_pair(
        &self,
        container: UserKeyPairContainer,
        unlocked: &UserKeyPair,
    ) {
        self.set_key_pair(
            "set_system_rescue_key_pair",
            Holder::SystemRescue,
            container,
            unlocked,
            None,
        );
    }

    /// Whether S3 direct upload is offered (`directS3Upload: true` accepted); default true.
    pub fn set_s3_enabled(&self, enabled: bool) {
        self.lock().s3_enabled = enabled;
    }

    /// Whether the server checks file keys with RSA (default true). Benchmarks that distribute
    /// thousands of keys turn it off so the server's RSA work does not count: each check is one
    /// RSA private-key operation, about as costly as the client's own unwrap (10,000 RSA-2048
    /// checks took about a minute of server time on a 2-core machine; without checks the
    /// server spent under a second on the same 10,000 pairs).
    pub fn set_key_checks(&self, enabled: bool) {
        self.lock().key_checks = enabled;
    }

    /// A share password the server may use to unlock the key pairs of encrypted download
    /// shares, so that it can check the share's `fileKey` (the password itself never travels
    /// over HTTP). Without one, share file keys are only checked for their shape and version.
    pub fn add_share_password(&self, password: &Password) {
        self.lock().share_passwords.push(password.clone());
    }

    /// Places an encrypted file without HTTP: ciphertext plus the file keys already present
    /// (user id -> key). Every other member of an encrypted room, and the room's / system's
    /// rescue key pairs if set, then show up in GET /nodes/missingFileKeys. Returns the node id.
    /// `plain_key` is what the server checks distributed keys against. A name that is taken
    /// is auto-renamed (`name (1).ext`).
    pub fn put_file(
        &self,
        room_id: i64,
        name: &str,
        ciphertext: Vec<u8>,
        plain_key: &PlainFileKey,
        keys: &[(i64, EncryptedFileKey)],
    ) -> i64 {
        let mut st = self.lock();
        let Some(room) = st.rooms.get(&room_id) else {
            st.violation(format!("testkit misuse: put_file: no room {room_id}"));
            return 0;
        };
        let encrypted = room.encrypted;
        let id = st.next_id();
        let name = st.free_name(room_id, name);
        let now = json::now();
        st.files.insert(
            id,
            FileNode {
                id,
                room_id,
                name,
                content: Content::from(Bytes::from(ciphertext)),
                encrypted,
                plain_key: encrypted.then(|| plain_key.clone()),
                keys: Default::default(),
                created_at: now,
                created_by: None,
                classification: 2,
                timestamp_creation: None,
                timestamp_modification: None,
            },
        );
        for (user, key) in keys {
            let stored = match st.holder_of(*user) {
                Some(holder) => st
                    .store_file_key(id, holder, key.clone())
                    .map_err(|e| e.debug),
                None => Err(format!("no user {user}")),
            };
            if let Err(e) = stored {
                st.violation(format!("testkit misuse: put_file: {e}"));
            }
        }
        id
    }

    /// Node id of the file named `name` in `room_id` (after an upload), if any.
    #[must_use]
    pub fn find_file(&self, room_id: i64, name: &str) -> Option<i64> {
        self.lock().find_file(room_id, name)
    }

    /// Stored ciphertext of a file.
    #[must_use]
    pub fn file_content(&self, node_id: i64) -> Option<Vec<u8>> {
        self.lock().files.get(&node_id).map(|f| f.content.to_vec())
    }

    /// Stored file key of (file, user): the one for the user's preferred current key pair
    /// (RSA-4096 before A), else one for a previous key pair. Pseudo ids address rescue keys.
    #[must_use]
    pub fn file_key(&self, node_id: i64, user_id: i64) -> Option<EncryptedFileKey> {
        let st = self.lock();
        let holder = st.holder_of(user_id)?;
        let file = st.files.get(&node_id)?;
        st.file_key_for(file, holder, None).cloned()
    }

    /// Remaining (file_id, user_id) pairs without a key, rescue keys excluded.
    #[must_use]
    pub fn missing_keys(&self) -> Vec<(i64, i64)> {
        self.lock()
            .missing_pairs()
            .into_iter()
            .filter_map(|(file, holder)| match holder {
                Holder::User(user) => Some((file, user)),
                _ => None,
            })
            .collect()
    }

    /// Descriptions of problems the server detected in what clients sent: a key set with
    /// POST /nodes/files/keys (or at upload completion) that does not unwrap with the target's
    /// registered private key to the file's plain key; an Authorization header sent to a
    /// presigned S3 URL or a public/token endpoint; a chunk written twice into one range with
    /// different bytes; a Content-Range not matching the body. Tests assert it stays empty.
    /// (Misuse of this API, e.g. an unknown room id, is reported here too, as
    /// `testkit misuse: ...`.)
    #[must_use]
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) {
        let mut st = self.lock();
        match fault {
            Fault::AddRoomMemberAfterMissingKeysPage { room_id, user_id } => {
                st.member_adds.push((room_id, user_id));
            }
            other => st.faults.push(other),
        }
    }

    /// Every request so far, in the order they were answered.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Access keys of the download shares created so far (by POST /shares/downloads), oldest
    /// first.
    #[must_use]
    pub fn share_access_keys(&self) -> Vec<String> {
        self.lock()
            .download_shares
            .iter()
            .map(|s| s.access_key.clone())
            .collect()
    }

    /// Gives the download share and the upload share with access key `old` (there may be one
    /// of each) the access key `new`, for fixtures that need a known one. Returns whether a
    /// share had that key.
    pub fn set_share_access_key(&self, old: &str, new: &str) -> bool {
        let mut st = self.lock();
        let mut found = false;
        for share in st
            .download_shares
            .iter_mut()
            .filter(|s| s.access_key == old)
        {
            share.access_key = new.to_string();
            found = true;
        }
        if let Some(share) = st.upload_shares.remove(old) {
            st.upload_shares.insert(new.to_string(), share);
            found = true;
        }
        found
    }

    /// Makes the ids the model hands out next (users, rooms, files, shares) start at `next`,
    /// if that is higher than the next one, so that a fixture can pin the ids it names.
    pub fn skip_ids_to(&self, next: i64) {
        self.lock().skip_ids_to(next);
    }

    /// An independent copy of the model: the same users, rooms, files, uploads, shares,
    /// settings, faults, recorded requests and violations, changed apart from now on (a
    /// [`Clone`] of a `Model` shares the state instead). Build a fixture once, fork it per
    /// test.
    ///
    /// ```
    /// use dracoon_crypto_testkit::Model;
    ///
    /// let fixture = Model::new();
    /// let room = fixture.create_room("R", true, &[]);
    /// let copy = fixture.fork();
    /// copy.create_room("S", true, &[]);
    /// assert_eq!(copy.find_file(room, "x"), None);
    /// assert_eq!(fixture.base_url(), copy.base_url());
    /// ```
    #[must_use]
    pub fn fork(&self) -> Model {
        let state = self.lock().clone();
        Model {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
            }),
            base_url: self.base_url.clone(),
        }
    }

    /// The model's state as it is now (users, rooms, files, uploads, shares, settings,
    /// faults), for [`Model::restore`]: how a driver takes back what an answer it then
    /// replaced (a lost response, a faked error) would have changed. The recorded requests and
    /// violations are not part of it.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        let st = self.lock();
        let mut copy = State::new(st.base_url.clone());
        copy.clone_from_except_log(&st);
        Snapshot(Box::new(copy))
    }

    /// Returns the model to `snapshot` (which may come from a fork of it); the recorded
    /// requests and violations stay as they are.
    pub fn restore(&self, snapshot: &Snapshot) {
        self.lock().clone_from_except_log(&snapshot.0);
    }

    /// An upload share into `room_id`; returns the access key. Its `userUserPublicKeyList`
    /// lists the room members that have a key pair.
    pub fn create_upload_share(&self, room_id: i64) -> String {
        let mut st = self.lock();
        let Some(room) = st.rooms.get(&room_id) else {
            st.violation(format!(
                "testkit misuse: create_upload_share: no room {room_id}"
            ));
            return String::new();
        };
        let name = format!("Upload to {}", room.name);
        let access_key = json::random_hex(16);
        st.upload_shares.insert(
            access_key.clone(),
            UploadShare {
                room_id,
                name,
                created_at: json::now(),
            },
        );
        access_key
    }
}

#[cfg(feature = "server")]
impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(model: &Model, token: &str, path: &str) -> u16 {
        let request = http::Request::get(format!("{}/api/v4{path}", model.base_url()))
            .header("authorization", format!("Bearer {token}"))
            .body(Bytes::new())
            .expect("a request");
        model.dispatch(request).status().as_u16()
    }

    fn a_file(model: &Model, room: i64) -> i64 {
        let (ciphertext, key) = dracoon_crypto::encrypt_bytes(b"content").expect("encrypted");
        model.put_file(room, "f.bin", ciphertext, &key, &[])
    }

    #[test]
    fn a_chosen_token_authenticates() {
        let model = Model::new();
        let user = model.create_user_with_token("u", "chosen-token");
        assert_eq!(user.token, "chosen-token");
        // (403: authenticated, but the user has no key pair to list missing keys with.)
        assert_eq!(get(&model, "chosen-token", "/nodes/missingFileKeys"), 403);
        assert_eq!(get(&model, "other-token", "/nodes/missingFileKeys"), 401);
    }

    #[test]
    fn ids_can_be_pinned() {
        let model = Model::new();
        model.skip_ids_to(40);
        let room = model.create_room("r", true, &[]);
        assert_eq!(room, 40);
        model.skip_ids_to(10);
        assert_eq!(a_file(&model, room), 41, "ids never go back");
    }

    #[test]
    fn a_fork_is_independent() {
        let model = Model::new();
        let room = model.create_room("r", true, &[]);
        let fork = model.fork();
        let file = a_file(&fork, room);
        assert!(fork.file_content(file).is_some());
        assert_eq!(model.file_content(file), None);
        assert_eq!(a_file(&model, room), file, "both hand out the same next id");
    }

    #[test]
    fn restore_takes_back_the_state_but_not_the_log() {
        let model = Model::new();
        let user = model.create_user("u");
        let room = model.create_room("r", true, &[user.id]);
        let before = model.snapshot();
        let file = a_file(&model, room);
        assert_eq!(get(&model, &user.token, "/nodes/missingFileKeys"), 403);
        model.restore(&before);
        assert_eq!(model.file_content(file), None);
        assert_eq!(model.requests().len(), 1, "the request log stays");
        assert_eq!(a_file(&model, room), file, "the id counter went back too");
    }

    #[test]
    fn a_share_can_get_a_known_access_key() {
        let model = Model::new();
        let room = model.create_room("r", false, &[]);
        let key = model.create_upload_share(room);
        let public = |k: &str| {
            let request = http::Request::get(format!(
                "{}/api/v4/public/shares/uploads/{k}",
                model.base_url()
            ))
            .body(Bytes::new())
            .expect("a request");
            model.dispatch(request).status().as_u16()
        };
        assert_eq!(public(&key), 200);
        assert!(model.set_share_access_key(&key, "KNOWN"));
        assert_eq!(public("KNOWN"), 200);
        assert_eq!(public(&key), 404);
        assert!(!model.set_share_access_key("nothing", "x"));
    }
}
