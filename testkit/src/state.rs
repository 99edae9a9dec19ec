//! The server's in-memory world: users and their key pairs, rooms, files with their file keys,
//! upload channels, shares, faults, and what the server observed (requests, violations).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::content::Content;
use super::json::{self, ApiError, ApiResult, code};
use super::{Fault, RecordedRequest};
use dracoon_crypto::{
    EncryptedFileKey, Password, PlainFileKey, UserKeyPair, UserKeyPairContainer, UserKeyPairVersion,
};

/// Pseudo user id of the system rescue key in missing-key lists and `POST /nodes/files/keys`.
pub(crate) const SYSTEM_RESCUE_ID: i64 = -1;

/// Who a file key is for: a user, a room's rescue key pair or the system rescue key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Holder {
    SystemRescue,
    RoomRescue(i64),
    User(i64),
}

impl Holder {
    /// The id under which this holder appears as `userId` (rescue keys: `-1` for the system,
    /// `-room_id` for a room).
    pub(crate) fn pseudo_id(self) -> i64 {
        match self {
            Holder::SystemRescue => SYSTEM_RESCUE_ID,
            Holder::RoomRescue(room) => -room,
            Holder::User(id) => id,
        }
    }

    pub(crate) fn describe(self) -> String {
        match self {
            Holder::SystemRescue => "the system rescue key (userId -1)".to_string(),
            Holder::RoomRescue(room) => {
                format!("the rescue key of room {room} (userId {})", -room)
            }
            Holder::User(id) => format!("user {id}"),
        }
    }
}

/// One registered key pair.
#[derive(Debug, Clone)]
pub(crate) struct KeyPairEntry {
    /// Unique across the server; file keys are stored under it.
    pub(crate) id: u64,
    pub(crate) version: UserKeyPairVersion,
    pub(crate) container: UserKeyPairContainer,
    /// The unlocked key pair, when the test registered it: lets the server check file keys.
    pub(crate) unlocked: Option<Arc<UserKeyPair>>,
    /// A preserved old key pair (`previous_*` in `use_key`).
    pub(crate) previous: bool,
}

/// The key pairs of one holder.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyRing {
    pub(crate) entries: Vec<KeyPairEntry>,
}

impl KeyRing {
    pub(crate) fn current(&self) -> impl Iterator<Item = &KeyPairEntry> {
        self.entries.iter().filter(|e| !e.previous)
    }

    pub(crate) fn previous(&self) -> impl Iterator<Item = &KeyPairEntry> {
        self.entries.iter().filter(|e| e.previous)
    }

    pub(crate) fn has_current(&self) -> bool {
        self.current().next().is_some()
    }

    pub(crate) fn current_of(&self, version: UserKeyPairVersion) -> Option<&KeyPairEntry> {
        self.current().find(|e| e.version == version)
    }

    /// The current key pair of `version`, or without a version the preferred one (RSA-4096
    /// before A).
    pub(crate) fn preferred(&self, version: Option<UserKeyPairVersion>) -> Option<&KeyPairEntry> {
        match version {
            Some(v) => self.current_of(v),
            None => self
                .current_of(UserKeyPairVersion::Rsa4096)
                .or_else(|| self.current_of(UserKeyPairVersion::Rsa2048)),
        }
    }

    /// Current versions, preferred first.
    pub(crate) fn current_sorted(&self) -> Vec<&KeyPairEntry> {
        let mut v: Vec<&KeyPairEntry> = self.current().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.version));
        v
    }
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: i64,
    pub(crate) login: String,
    pub(crate) keys: KeyRing,
}

#[derive(Debug, Clone)]
pub(crate) struct Room {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) encrypted: bool,
    pub(crate) members: BTreeSet<i64>,
    pub(crate) rescue: KeyRing,
    /// Whether files in this room get keys for the system rescue key pair.
    pub(crate) use_system_rescue: bool,
    pub(crate) created_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct FileNode {
    pub(crate) id: i64,
    pub(crate) room_id: i64,
    pub(crate) name: String,
    pub(crate) content: Content,
    pub(crate) encrypted: bool,
    /// What distributed keys are checked against (known from `put_file`, or derived from a key
    /// that unwrapped with a registered private key and decrypted the content).
    pub(crate) plain_key: Option<PlainFileKey>,
    /// File keys by key pair id.
    pub(crate) keys: HashMap<u64, EncryptedFileKey>,
    pub(crate) created_at: String,
    pub(crate) created_by: Option<i64>,
    pub(crate) classification: i32,
    pub(crate) timestamp_creation: Option<String>,
    pub(crate) timestamp_modification: Option<String>,
}

/// Who opened an upload channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    User(i64),
    Share(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Open,
    /// S3 upload completed; status polls left that still say `finishing`.
    Finishing {
        node: i64,
        polls_left: u32,
    },
    Done {
        node: i64,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub(crate) id: String,
    pub(crate) token: String,
    pub(crate) room_id: i64,
    pub(crate) name: String,
    pub(crate) declared_size: Option<u64>,
    pub(crate) origin: Origin,
    pub(crate) s3: bool,
    pub(crate) classification: Option<i32>,
    pub(crate) timestamp_creation: Option<String>,
    pub(crate) timestamp_modification: Option<String>,
    /// Chunks by start offset.
    pub(crate) chunks: BTreeMap<u64, Bytes>,
    /// The total announced in Content-Range headers, once one announced it.
    pub(crate) announced_total: Option<u64>,
    /// S3 parts by part number: data and ETag (without quotes).
    pub(crate) parts: BTreeMap<u32, (Bytes, String)>,
    /// Presigned URL signatures: signature -> (part number, size).
    pub(crate) presigned: HashMap<String, (u32, u64)>,
    pub(crate) phase: Phase,
    /// Size of the finished file (for status answers).
    pub(crate) final_size: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct DownloadShare {
    pub(crate) id: i64,
    pub(crate) access_key: String,
    pub(crate) node_id: i64,
    pub(crate) name: String,
    pub(crate) creator: i64,
    pub(crate) created_at: String,
    pub(crate) key_pair: Option<UserKeyPairContainer>,
    pub(crate) file_key: Option<EncryptedFileKey>,
    pub(crate) password: Option<String>,
    pub(crate) max_downloads: Option<i32>,
    pub(crate) downloads: i32,
    pub(crate) notes: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct UploadShare {
    pub(crate) room_id: i64,
    pub(crate) name: String,
    pub(crate) created_at: String,
}

/// What a `GET /downloads/{token}` (or public share download token) serves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DownloadToken {
    pub(crate) file_id: i64,
}

/// An injected fault, with what is left of it.
#[derive(Debug, Clone)]
pub(crate) enum FaultAction {
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    Drop {
        after_bytes: usize,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) base_url: String,
    next_id: i64,
    next_key_pair: u64,
    pub(crate) users: BTreeMap<i64, User>,
    pub(crate) tokens: HashMap<String, i64>,
    pub(crate) rooms: BTreeMap<i64, Room>,
    pub(crate) files: BTreeMap<i64, FileNode>,
    pub(crate) system_rescue: KeyRing,
    pub(crate) uploads: HashMap<String, Upload>,
    /// Upload token -> upload id.
    pub(crate) upload_tokens: HashMap<String, String>,
    pub(crate) downloads: HashMap<String, DownloadToken>,
    /// Public share download tokens: token -> access key.
    pub(crate) share_downloads: HashMap<String, String>,
    pub(crate) download_shares: Vec<DownloadShare>,
    pub(crate) upload_shares: HashMap<String, UploadShare>,
    pub(crate) s3_enabled: bool,
    pub(crate) key_checks: bool,
    pub(crate) share_passwords: Vec<Password>,
    pub(crate) faults: Vec<Fault>,
    /// `AddRoomMemberAfterMissingKeysPage` faults waiting for their page.
    pub(crate) member_adds: Vec<(i64, i64)>,
    pub(crate) violations: Vec<String>,
    pub(crate) requests: Vec<RecordedRequest>,
}

impl State {
    pub(crate) fn new(base_url: String) -> Self {
        State {
            base_url,
            // Ids start at 2, so that the room-rescue pseudo ids (-room_id) never meet the
            // system rescue's -1.
            next_id: 2,
            next_key_pair: 1,
            users: BTreeMap::new(),
            tokens: HashMap::new(),
            rooms: BTreeMap::new(),
            files: BTreeMap::new(),
            system_rescue: KeyRing::default(),
            uploads: HashMap::new(),
            upload_tokens: HashMap::new(),
            downloads: HashMap::new(),
            share_downloads: HashMap::new(),
            download_shares: Vec::new(),
            upload_shares: HashMap::new(),
            s3_enabled: true,
            key_checks: true,
            share_passwords: Vec::new(),
            faults: Vec::new(),
            member_adds: Vec::new(),
            violations: Vec::new(),
            requests: Vec::new(),
        }
    }

    pub(crate) fn next_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Ids handed out next start at `next`, or later.
    pub(crate) fn skip_ids_to(&mut self, next: i64) {
        self.next_id = self.next_id.max(next);
    }

    /// Becomes a copy of `other`, but keeps its own request log and violations.
    pub(crate) fn clone_from_except_log(&mut self, other: &State) {
        let requests = std::mem::take(&mut self.requests);
        let violations = std::mem::take(&mut self.violations);
        let State {
            base_url,
            next_id,
            next_key_pair,
            users,
            tokens,
            rooms,
            files,
            system_rescue,
            uploads,
            upload_tokens,
            downloads,
            share_downloads,
            download_shares,
            upload_shares,
            s3_enabled,
            key_checks,
            share_passwords,
            faults,
            member_adds,
            violations: _,
            requests: _,
        } = other;
        *self = State {
            base_url: base_url.clone(),
            next_id: *next_id,
            next_key_pair: *next_key_pair,
            users: users.clone(),
            tokens: tokens.clone(),
            rooms: rooms.clone(),
            files: files.clone(),
            system_rescue: system_rescue.clone(),
            uploads: uploads.clone(),
            upload_tokens: upload_tokens.clone(),
            downloads: downloads.clone(),
            share_downloads: share_downloads.clone(),
            download_shares: download_shares.clone(),
            upload_shares: upload_shares.clone(),
            s3_enabled: *s3_enabled,
            key_checks: *key_checks,
            share_passwords: share_passwords.clone(),
            faults: faults.clone(),
            member_adds: member_adds.clone(),
            violations,
            requests,
        };
    }

    pub(crate) fn violation(&mut self, text: impl Into<String>) {
        self.violations.push(text.into());
    }

    // -------------------------------------------------------------------------------------
    // Key pairs

    pub(crate) fn ring(&self, holder: Holder) -> Option<&KeyRing> {
        match holder {
            Holder::SystemRescue => Some(&self.system_rescue),
            Holder::RoomRescue(room) => self.rooms.get(&room).map(|r| &r.rescue),
            Holder::User(id) => self.users.get(&id).map(|u| &u.keys),
        }
    }

    fn ring_mut(&mut self, holder: Holder) -> Option<&mut KeyRing> {
        match holder {
            Holder::SystemRescue => Some(&mut self.system_rescue),
            Holder::RoomRescue(room) => self.rooms.get_mut(&room).map(|r| &mut r.rescue),
            Holder::User(id) => self.users.get_mut(&id).map(|u| &mut u.keys),
        }
    }

    /// Which holder a `userId` of a file key names.
    pub(crate) fn holder_of(&self, pseudo_id: i64) -> Option<Holder> {
        if pseudo_id == SYSTEM_RESCUE_ID {
            Some(Holder::SystemRescue)
        } else if pseudo_id < 0 {
            self.rooms
                .contains_key(&-pseudo_id)
                .then_some(Holder::RoomRescue(-pseudo_id))
        } else {
            self.users
                .contains_key(&pseudo_id)
                .then_some(Holder::User(pseudo_id))
        }
    }

    /// Registers a key pair for `holder`. A current key pair of the same version is replaced;
    /// if it holds the same public key its file keys stay valid (the id is kept).
    pub(crate) fn set_key_pair(
        &mut self,
        holder: Holder,
        mut container: UserKeyPairContainer,
        unlocked: Option<Arc<UserKeyPair>>,
        creator: Option<i64>,
    ) -> Result<u64, String> {
        let version = container
            .version()
            .map_err(|e| format!("key pair versions disagree: {e}"))?;
        let now = json::now();
        for half in [
            &mut container.private_key_container.created_at,
            &mut container.public_key_container.created_at,
        ] {
            half.get_or_insert_with(|| now.clone());
        }
        if let Some(creator) = creator {
            container
                .private_key_container
                .created_by
                .get_or_insert(creator);
            container
                .public_key_container
                .created_by
                .get_or_insert(creator);
        }
        let fresh_id = self.next_key_pair;
        let Some(ring) = self.ring_mut(holder) else {
            return Err(format!("{} does not exist", holder.describe()));
        };
        if let Some(existing) = ring
            .entries
            .iter_mut()
            .find(|e| !e.previous && e.version == version)
        {
            let same_key = existing.container.public_key_container.public_key
                == container.public_key_container.public_key;
            existing.container = container;
            existing.unlocked = unlocked;
            if same_key {
                return Ok(existing.id);
            }
            let old = existing.id;
            existing.id = fresh_id;
            self.next_key_pair += 1;
            self.drop_file_keys(old);
            return Ok(fresh_id);
        }
        ring.entries.push(KeyPairEntry {
            id: fresh_id,
            version,
            container,
            unlocked,
            previous: false,
        });
        self.next_key_pair += 1;
        Ok(fresh_id)
    }

    /// Adds a key pair as a new entry (no replacement).
    pub(crate) fn push_key_pair(
        &mut self,
        holder: Holder,
        container: UserKeyPairContainer,
        creator: Option<i64>,
    ) -> Result<u64, String> {
        let id = self.next_key_pair;
        let version = container
            .version()
            .map_err(|e| format!("key pair versions disagree: {e}"))?;
        let now = json::now();
        let mut container = container;
        container
            .private_key_container
            .created_at
            .get_or_insert_with(|| now.clone());
        container.public_key_container.created_at.get_or_insert(now);
        if let Some(creator) = creator {
            container
                .private_key_container
                .created_by
                .get_or_insert(creator);
            container
                .public_key_container
                .created_by
                .get_or_insert(creator);
        }
        let ring = self
            .ring_mut(holder)
            .ok_or_else(|| format!("{} does not exist", holder.describe()))?;
        ring.entries.push(KeyPairEntry {
            id,
            version,
            container,
            unlocked: None,
            previous: false,
        });
        self.next_key_pair += 1;
        Ok(id)
    }

    /// Removes a key pair and every file key stored for it.
    pub(crate) fn remove_key_pair(&mut self, holder: Holder, id: u64) {
        if let Some(ring) = self.ring_mut(holder) {
            ring.entries.retain(|e| e.id != id);
        }
        self.drop_file_keys(id);
    }

    fn drop_file_keys(&mut self, key_pair: u64) {
        for file in self.files.values_mut() {
            file.keys.remove(&key_pair);
        }
    }

    /// Marks the current key pair of `version` as previous; false if there is none.
    pub(crate) fn mark_previous(&mut self, holder: Holder, version: UserKeyPairVersion) -> bool {
        let Some(ring) = self.ring_mut(holder) else {
            return false;
        };
        match ring
            .entries
            .iter_mut()
            .find(|e| !e.previous && e.version == version)
        {
            Some(e) => {
                e.previous = true;
                true
            }
            None => false,
        }
    }

    /// Finds the owner of a key pair id.
    pub(crate) fn key_pair(&self, id: u64) -> Option<(Holder, &KeyPairEntry)> {
        if let Some(e) = self.system_rescue.entries.iter().find(|e| e.id == id) {
            return Some((Holder::SystemRescue, e));
        }
        for room in self.rooms.values() {
            if let Some(e) = room.rescue.entries.iter().find(|e| e.id == id) {
                return Some((Holder::RoomRescue(room.id), e));
            }
        }
        for user in self.users.values() {
            if let Some(e) = user.keys.entries.iter().find(|e| e.id == id) {
                return Some((Holder::User(user.id), e));
            }
        }
        None
    }

    // -------------------------------------------------------------------------------------
    // Files and keys

    /// Whether `holder` has a file key for one of its current key pairs.
    pub(crate) fn has_current_key(&self, file: &FileNode, holder: Holder) -> bool {
        self.ring(holder)
            .is_some_and(|ring| ring.current().any(|e| file.keys.contains_key(&e.id)))
    }

    /// The holders that should have a key for `file`: the system rescue key pair (if set and
    /// used by the room), the room's rescue key pair, and every member with a key pair.
    pub(crate) fn key_holders(&self, file: &FileNode) -> Vec<Holder> {
        let mut out = Vec::new();
        let Some(room) = self.rooms.get(&file.room_id) else {
            return out;
        };
        if !room.encrypted {
            return out;
        }
        if room.use_system_rescue && self.system_rescue.has_current() {
            out.push(Holder::SystemRescue);
        }
        if room.rescue.has_current() {
            out.push(Holder::RoomRescue(room.id));
        }
        for member in &room.members {
            if self.users.get(member).is_some_and(|u| u.keys.has_current()) {
                out.push(Holder::User(*member));
            }
        }
        out
    }

    /// Every (file, holder) pair without a key, rescue keys first, then by file and user id.
    pub(crate) fn missing_pairs(&self) -> Vec<(i64, Holder)> {
        let mut out = Vec::new();
        for file in self.files.values() {
            for holder in self.key_holders(file) {
                if !self.has_current_key(file, holder) {
                    out.push((file.id, holder));
                }
            }
        }
        out.sort_by_key(|(file, holder)| {
            let rank = match holder {
                Holder::SystemRescue => 0,
                Holder::RoomRescue(_) => 1,
                Holder::User(_) => 2,
            };
            (rank, *file, holder.pseudo_id().abs())
        });
        out
    }

    /// The stored key of `holder` for `file` that a client would get: the preferred current
    /// key pair's (or the one of `version`), else a previous key pair's.
    pub(crate) fn file_key_for<'f>(
        &self,
        file: &'f FileNode,
        holder: Holder,
        version: Option<UserKeyPairVersion>,
    ) -> Option<&'f EncryptedFileKey> {
        let ring = self.ring(holder)?;
        let mut candidates: Vec<&KeyPairEntry> = ring.current_sorted();
        candidates.extend(ring.previous());
        candidates
            .into_iter()
            .filter(|e| version.is_none_or(|v| e.version == v))
            .find_map(|e| file.keys.get(&e.id))
    }

    /// Stores a file key for `holder` under its current key pair of the key's version.
    /// Idempotent: an existing key stays. Returns the key pair id, or an error when the holder
    /// has no key pair of that version.
    pub(crate) fn store_file_key(
        &mut self,
        file_id: i64,
        holder: Holder,
        key: EncryptedFileKey,
    ) -> ApiResult<u64> {
        let version = key.version().key_pair_version();
        let entry = self
            .ring(holder)
            .and_then(|r| r.current_of(version))
            .map(|e| e.id)
            .ok_or_else(|| {
                ApiError::new(
                    403,
                    code::NO_KEY_PAIR,
                    format!("{} has no key pair of version {version}", holder.describe()),
                )
            })?;
        let file = self
            .files
            .get_mut(&file_id)
            .ok_or_else(|| ApiError::not_found(code::FILE_NOT_FOUND, "file not found"))?;
        file.keys.entry(entry).or_insert(key);
        Ok(entry)
    }

    /// A file name in `room` that does not clash: `name`, then `name (1).ext`, ...
    pub(crate) fn free_name(&self, room: i64, name: &str) -> String {
        let taken = |n: &str| {
            self.files
                .values()
                .any(|f| f.room_id == room && f.name == n)
        };
        if !taken(name) {
            return name.to_string();
        }
        let (stem, ext) = match name.rfind('.') {
            Some(dot) if dot > 0 => (&name[..dot], &name[dot..]),
            _ => (name, ""),
        };
        (1..)
            .map(|i| format!("{stem} ({i}){ext}"))
            .find(|n| !taken(n))
            .unwrap_or_else(|| name.to_string())
    }

    pub(crate) fn find_file(&self, room: i64, name: &str) -> Option<i64> {
        self.files
            .values()
            .find(|f| f.room_id == room && f.name == name)
            .map(|f| f.id)
    }

    // -------------------------------------------------------------------------------------
    // JSON

    pub(crate) fn user_info(&self, id: i64) -> Value {
        let login = self
            .users
            .get(&id)
            .map_or_else(|| format!("user{id}"), |u| u.login.clone());
        json!({
            "id": id,
            "userName": login,
            "firstName": login,
            "lastName": "Test",
            "avatarUuid": format!("{id:08x}-0000-4000-8000-000000000000"),
            "userType": "internal",
            "email": format!("{login}@testkit.invalid"),
        })
    }

    pub(crate) fn room_json(&self, room: &Room) -> Value {
        let room_key = if room.rescue.has_current() {
            "available"
        } else {
            "none"
        };
        let space_key = if room.use_system_rescue && self.system_rescue.has_current() {
            "available"
        } else {
            "none"
        };
        json!({
            "id": room.id,
            "referenceId": room.id,
            "type": "room",
            "name": room.name,
            "parentPath": "/",
            "isEncrypted": room.encrypted,
            "cntFiles": self.files.values().filter(|f| f.room_id == room.id).count(),
            "createdAt": room.created_at,
            "encryptionInfo": {
                "userKeyState": "none",
                "roomKeyState": room_key,
                "dataSpaceKeyState": space_key,
            },
        })
    }

    pub(crate) fn file_json(&self, file: &FileNode) -> Value {
        let room_name = self
            .rooms
            .get(&file.room_id)
            .map_or("", |r| r.name.as_str());
        let ext = file.name.rfind('.').map_or("", |dot| &file.name[dot + 1..]);
        let mut node = json!({
            "id": file.id,
            "referenceId": file.id,
            "type": "file",
            "name": file.name,
            "parentId": file.room_id,
            "authParentId": file.room_id,
            "parentPath": format!("/{room_name}/"),
            "size": file.content.len(),
            "classification": file.classification,
            "isEncrypted": file.encrypted,
            "fileType": ext,
            "mediaType": "application/octet-stream",
            "createdAt": file.created_at,
            "updatedAt": file.created_at,
            "timestampCreation": file.timestamp_creation.clone().unwrap_or_else(|| file.created_at.clone()),
            "timestampModification": file.timestamp_modification.clone().unwrap_or_else(|| file.created_at.clone()),
        });
        if let (Some(creator), Value::Object(map)) = (file.created_by, &mut node) {
            map.insert("createdBy".to_string(), self.user_info(creator));
        }
        node
    }

    // -------------------------------------------------------------------------------------
    // Faults

    /// The fault to apply to this request, if one matches (its count is used up here).
    pub(crate) fn take_fault(&mut self, method: &str, path: &str) -> Option<FaultAction> {
        let index = self.faults.iter().position(|f| match f {
            Fault::Status {
                method: m,
                path_prefix,
                count,
                ..
            }
            | Fault::DropConnection {
                method: m,
                path_prefix,
                count,
                ..
            } => *count > 0 && method_matches(m, method) && path_matches(path_prefix, path),
            Fault::AddRoomMemberAfterMissingKeysPage { .. } => false,
        })?;
        let fault = self.faults.get_mut(index)?;
        let action = match fault {
            Fault::Status {
                status,
                retry_after,
                count,
                ..
            } => {
                *count -= 1;
                FaultAction::Status {
                    status: *status,
                    retry_after: *retry_after,
                }
            }
            Fault::DropConnection {
                after_bytes, count, ..
            } => {
                *count -= 1;
                FaultAction::Drop {
                    after_bytes: *after_bytes,
                }
            }
            Fault::AddRoomMemberAfterMissingKeysPage { .. } => return None,
        };
        self.faults.retain(|f| match f {
            Fault::Status { count, .. } | Fault::DropConnection { count, .. } => *count > 0,
            Fault::AddRoomMemberAfterMissingKeysPage { .. } => true,
        });
        Some(action)
    }
}

fn method_matches(pattern: &str, method: &str) -> bool {
    pattern == "*" || pattern.eq_ignore_ascii_case(method)
}

/// `prefix` is compared with the full path and, unless it starts with `/api/`, also with the
/// path after `/api/v4` (so `/uploads/` matches `/api/v4/uploads/...`).
fn path_matches(prefix: &str, path: &str) -> bool {
    if path.starts_with(prefix) {
        return true;
    }
    !prefix.starts_with("/api/")
        && path
            .strip_prefix("/api/v4")
            .is_some_and(|rest| rest.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert!(path_matches("/api/v4/uploads/", "/api/v4/uploads/abc"));
        assert!(path_matches("/uploads/", "/api/v4/uploads/abc"));
        assert!(path_matches("/s3/", "/s3/u/1"));
        assert!(!path_matches("/api/uploads/", "/api/v4/uploads/abc"));
        assert!(!path_matches("/downloads/", "/api/v4/uploads/abc"));
        assert!(method_matches("*", "PUT"));
        assert!(method_matches("get", "GET"));
        assert!(!method_matches("POST", "GET"));
    }

    #[test]
    fn names_are_made_free() {
        let mut s = State::new(String::new());
        let room = s.next_id();
        for name in ["a.txt", "a (1).txt", "noext"] {
            let id = s.next_id();
            s.files.insert(
                id,
                FileNode {
                    id,
                    room_id: room,
                    name: name.to_string(),
                    content: Content::default(),
                    encrypted: false,
                    plain_key: None,
                    keys: HashMap::new(),
                    created_at: String::new(),
                    created_by: None,
                    classification: 1,
                    timestamp_creation: None,
                    timestamp_modification: None,
                },
            );
        }
        assert_eq!(s.free_name(room, "a.txt"), "a (2).txt");
        assert_eq!(s.free_name(room, "noext"), "noext (1)");
        assert_eq!(s.free_name(room, "b.txt"), "b.txt");
        assert_eq!(s.free_name(room + 100, "a.txt"), "a.txt");
    }
}
