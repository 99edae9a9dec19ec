//! `GET /nodes/missingFileKeys` and `POST /nodes/files/keys`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use super::Shared;
use super::checks::{self, KeyCheck, Truth};
use super::json::{self, ApiError, ApiResult, Obj, Query, code};
use super::keypairs::parse_file_key;
use super::model::{Reply, Req};
use super::state::{Holder, State};

/// Most items one missing-keys answer carries, whatever `limit` says.
pub(crate) const PAGE_MAX: i64 = 100;

/// The `use_key` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UseKey {
    Own,
    RoomRescue,
    SystemRescue,
    PreviousUser,
    PreviousRoomRescue,
    PreviousSystemRescue,
}

impl UseKey {
    fn parse(value: Option<&str>) -> ApiResult<Self> {
        Ok(match value {
            None | Some("") => UseKey::Own,
            Some("room_rescue_key") => UseKey::RoomRescue,
            Some("system_rescue_key") => UseKey::SystemRescue,
            Some("previous_user_key") => UseKey::PreviousUser,
            Some("previous_room_rescue_key") => UseKey::PreviousRoomRescue,
            Some("previous_system_rescue_key") => UseKey::PreviousSystemRescue,
            Some(other) => {
                return Err(ApiError::bad_request(
                    code::INVALID_PARAMETER,
                    format!("use_key {other:?} is not one of the spec's values"),
                ));
            }
        })
    }

    /// Whose keys serve the files of `room`, and whether its previous key pairs are meant.
    fn source(self, caller: i64, room: i64) -> (Holder, bool) {
        match self {
            UseKey::Own => (Holder::User(caller), false),
            UseKey::PreviousUser => (Holder::User(caller), true),
            UseKey::RoomRescue => (Holder::RoomRescue(room), false),
            UseKey::PreviousRoomRescue => (Holder::RoomRescue(room), true),
            UseKey::SystemRescue => (Holder::SystemRescue, false),
            UseKey::PreviousSystemRescue => (Holder::SystemRescue, true),
        }
    }

    /// Whether the caller must be a member of the file's room.
    fn needs_membership(self) -> bool {
        !matches!(self, UseKey::SystemRescue | UseKey::PreviousSystemRescue)
    }
}

/// The caller's source keys for `file`: (key pair id) of every source key pair holding a key.
fn source_keys(st: &State, file_id: i64, source: (Holder, bool)) -> Vec<u64> {
    let (holder, previous) = source;
    let (Some(file), Some(ring)) = (st.files.get(&file_id), st.ring(holder)) else {
        return Vec::new();
    };
    let mut entries: Vec<_> = if previous {
        ring.previous().collect()
    } else {
        ring.current().collect()
    };
    entries.sort_by_key(|e| std::cmp::Reverse(e.version));
    entries
        .into_iter()
        .filter(|e| file.keys.contains_key(&e.id))
        .map(|e| e.id)
        .collect()
}

/// `GET /nodes/missingFileKeys`.
pub(crate) fn missing_file_keys(shared: &Shared, req: &Req, caller: i64) -> ApiResult<Reply> {
    let q = Query::parse(&req.query);
    let offset = q.opt_i64("offset")?.unwrap_or(0);
    let limit = q.opt_i64("limit")?.unwrap_or(PAGE_MAX);
    if !(0..=i64::from(i32::MAX)).contains(&offset) || !(1..=i64::from(i32::MAX)).contains(&limit) {
        return Err(ApiError::bad_request(
            code::INVALID_RANGE_PARAMETERS,
            format!("invalid range offset={offset} limit={limit}"),
        ));
    }
    let limit = limit.min(PAGE_MAX);
    let room_filter = q.opt_i64("room_id")?;
    let file_filter = q.opt_i64("file_id")?;
    let user_filter = q.opt_i64("user_id")?;
    let use_key = UseKey::parse(q.get("use_key"))?;

    let mut st = shared.lock();
    if let Some(room) = room_filter {
        let r = st
            .rooms
            .get(&room)
            .ok_or_else(|| ApiError::not_found(code::NODE_NOT_FOUND, format!("no room {room}")))?;
        if !r.encrypted {
            return Err(ApiError::bad_request(
                code::ROOM_NOT_ENCRYPTED,
                format!("room {room} is not encrypted"),
            ));
        }
        if matches!(use_key, UseKey::RoomRescue) && !r.rescue.has_current() {
            return Err(ApiError::bad_request(
                code::ROOM_RESCUE_KEY_NOT_CONFIGURED,
                format!("room {room} has no rescue key pair"),
            ));
        }
    }
    if let Some(file) = file_filter
        && !st.files.contains_key(&file)
    {
        return Err(ApiError::not_found(
            code::FILE_NOT_FOUND,
            format!("no file {file}"),
        ));
    }
    if let Some(user) = user_filter
        && st.holder_of(user).is_none()
    {
        return Err(ApiError::not_found(
            code::USER_NOT_FOUND,
            format!("no user {user}"),
        ));
    }
    let has_key_pair = st
        .users
        .get(&caller)
        .is_some_and(|u| !u.keys.entries.is_empty());
    if matches!(use_key, UseKey::Own | UseKey::PreviousUser) && !has_key_pair {
        return Err(ApiError::new(
            403,
            code::NO_KEY_PAIR,
            "the caller does not have a keypair",
        ));
    }

    // Every pair the caller can serve, in the server's order (rescue keys first).
    let mut served: Vec<(i64, Holder, Vec<u64>)> = Vec::new();
    for (file_id, holder) in st.missing_pairs() {
        let Some(file) = st.files.get(&file_id) else {
            continue;
        };
        let room = file.room_id;
        if room_filter.is_some_and(|r| r != room)
            || file_filter.is_some_and(|f| f != file_id)
            || user_filter.is_some_and(|u| u != holder.pseudo_id())
        {
            continue;
        }
        if use_key.needs_membership()
            && !st
                .rooms
                .get(&room)
                .is_some_and(|r| r.members.contains(&caller))
        {
            continue;
        }
        let source = use_key.source(caller, room);
        let keys = source_keys(&st, file_id, source);
        if !keys.is_empty() {
            served.push((file_id, holder, keys));
        }
    }

    let total = served.len();
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(total);
    let end = start
        .saturating_add(usize::try_from(limit).unwrap_or(0))
        .min(total);
    let page = &served[start..end];

    let items: Vec<Value> = page
        .iter()
        .map(|(file, holder, _)| json!({"userId": holder.pseudo_id(), "fileId": file}))
        .collect();
    let mut users = Vec::new();
    let mut seen_holders = BTreeSet::new();
    for (_, holder, _) in page {
        if !seen_holders.insert(*holder) {
            continue;
        }
        if let Some(ring) = st.ring(*holder) {
            for entry in ring.current_sorted() {
                users.push(json!({
                    "id": holder.pseudo_id(),
                    "publicKeyContainer": entry.container.public_key_container,
                }));
            }
        }
    }
    let mut files = Vec::new();
    let mut seen_files = BTreeSet::new();
    for (file_id, _, keys) in page {
        if !seen_files.insert(*file_id) {
            continue;
        }
        let Some(file) = st.files.get(file_id) else {
            continue;
        };
        for key in keys.iter().filter_map(|id| file.keys.get(id)) {
            files.push(json!({"id": file_id, "fileKeyContainer": key}));
        }
    }
    let body = json!({
        "range": {"offset": offset, "limit": limit, "total": total},
        "items": items,
        "users": users,
        "files": files,
    });

    // The list changes between pages when a test asked for it.
    for (room, user) in std::mem::take(&mut st.member_adds) {
        let known = st.users.contains_key(&user);
        match st.rooms.get_mut(&room) {
            Some(r) if known => {
                r.members.insert(user);
            }
            _ => st.violation(format!(
                "testkit misuse: AddRoomMemberAfterMissingKeysPage: no room {room} or user {user}"
            )),
        }
    }
    Ok(Reply::json(200, &body))
}

/// `POST /nodes/files/keys` (`UserFileKeySetBatchRequest`) -> 204. All items are validated
/// before any is stored; existing keys are kept; every sent key is checked.
pub(crate) fn set_file_keys(shared: &Arc<Shared>, req: &Req, caller: i64) -> ApiResult<Reply> {
    let body = json::parse_object(&req.body, false)?;
    let items = Obj::new(&body, "").req_array("items")?;
    let items = json::objects(items, "items")?;

    let (checks, truths) = {
        let mut st = shared.lock();
        let mut parsed = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("items[{i}]");
            let o = Obj::new(item, &at);
            let user = o.req_i64("userId")?;
            let file_id = o.req_i64("fileId")?;
            let key = parse_file_key(&mut st, o.req_obj("fileKey")?, &format!("{at}.fileKey"))?;
            let file = st.files.get(&file_id).ok_or_else(|| {
                ApiError::not_found(code::FILE_NOT_FOUND, format!("{at}: no file {file_id}"))
            })?;
            if !file.encrypted {
                return Err(ApiError::bad_request(
                    code::ROOM_NOT_ENCRYPTED,
                    format!("{at}: file {file_id} is not in an encrypted room"),
                ));
            }
            let room = file.room_id;
            if !st
                .rooms
                .get(&room)
                .is_some_and(|r| r.members.contains(&caller))
            {
                return Err(ApiError::forbidden(format!(
                    "{at}: the caller is not a member of room {room}"
                )));
            }
            let holder = st.holder_of(user).ok_or_else(|| {
                ApiError::not_found(code::USER_NOT_FOUND, format!("{at}: no user {user}"))
            })?;
            if !st.key_holders(file).contains(&holder) {
                return Err(ApiError::new(
                    403,
                    code::NOT_AUTHORIZED,
                    format!(
                        "{at}: {} has no access to file {file_id}",
                        holder.describe()
                    ),
                ));
            }
            let version = key.version().key_pair_version();
            if st
                .ring(holder)
                .and_then(|r| r.current_of(version))
                .is_none()
            {
                return Err(ApiError::new(
                    403,
                    code::NO_KEY_PAIR,
                    format!(
                        "{at}: {} has no key pair of version {version}",
                        holder.describe()
                    ),
                ));
            }
            parsed.push((file_id, holder, key));
        }

        let mut checks = Vec::new();
        let mut truths = HashMap::new();
        for (file_id, holder, key) in parsed {
            let entry = st.store_file_key(file_id, holder, key.clone())?;
            if !st.key_checks {
                continue;
            }
            let unlocked = st.key_pair(entry).and_then(|(_, e)| e.unlocked.clone());
            let Some(unlocked) = unlocked else {
                continue;
            };
            if let Some(file) = st.files.get(&file_id) {
                truths.entry(file_id).or_insert_with(|| Truth {
                    expected: file.plain_key.clone(),
                    content: file.content.clone(),
                });
            }
            checks.push(KeyCheck {
                what: format!(
                    "POST /nodes/files/keys: key for {} on file {file_id}",
                    holder.describe()
                ),
                file_id,
                key,
                unlocked,
            });
        }
        (checks, truths)
    };

    let outcome = checks::run(checks, truths);
    let mut st = shared.lock();
    st.violations.extend(outcome.violations);
    for (file_id, plain) in outcome.derived {
        if let Some(file) = st.files.get_mut(&file_id) {
            file.plain_key.get_or_insert(plain);
        }
    }
    Ok(Reply::empty(204))
}
