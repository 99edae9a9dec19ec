//! Key pair endpoints (user, system rescue, room rescue), room encryption, and the parsers for
//! key and file-key JSON shared by all handlers.

use serde_json::{Map, Value};

use super::Shared;
use super::api::not_allowed;
use super::json::{self, ApiError, ApiResult, Obj, Query, code};
use super::model::{Reply, Req};
use super::state::{Holder, KeyRing, State};
use dracoon_crypto::{
    EncryptedFileKey, EncryptedFileKeyVersion, PrivateKeyContainer, PublicKeyContainer,
    UserKeyPairContainer, UserKeyPairVersion, UserPublicKey,
};

// ------------------------------------------------------------------------------------------
// Parsers

/// A `PrivateKeyContainer`: version and an encrypted PKCS#8 PEM (`-70023` otherwise).
pub(crate) fn parse_private_container(
    map: &Map<String, Value>,
    at: &str,
) -> ApiResult<PrivateKeyContainer> {
    let o = Obj::new(map, at);
    let version = o.req_str("version")?;
    let pem = o.req_str("privateKey")?;
    let version: UserKeyPairVersion = version.parse().map_err(|_| {
        ApiError::bad_request(
            code::INVALID_PRIVATE_KEY,
            format!("{at}.version {version:?} is not a key pair version"),
        )
    })?;
    if !pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(ApiError::bad_request(
            code::INVALID_PRIVATE_KEY,
            format!("{at}.privateKey is not an encrypted PKCS#8 PEM"),
        ));
    }
    Ok(PrivateKeyContainer {
        version,
        private_key: pem.to_string(),
        created_at: o.opt_date_time("createdAt")?.map(str::to_string),
        created_by: o.opt_i64("createdBy")?,
        expire_at: o.opt_date_time("expireAt")?.map(str::to_string),
    })
}

/// A `PublicKeyContainer`: version and an SPKI PEM of the version's size (`-70022`).
pub(crate) fn parse_public_container(
    map: &Map<String, Value>,
    at: &str,
) -> ApiResult<PublicKeyContainer> {
    let o = Obj::new(map, at);
    let version = o.req_str("version")?;
    let pem = o.req_str("publicKey")?;
    let version: UserKeyPairVersion = version.parse().map_err(|_| {
        ApiError::bad_request(
            code::INVALID_PUBLIC_KEY,
            format!("{at}.version {version:?} is not a key pair version"),
        )
    })?;
    let container = PublicKeyContainer {
        version,
        public_key: pem.to_string(),
        created_at: o.opt_date_time("createdAt")?.map(str::to_string),
        created_by: o.opt_i64("createdBy")?,
        expire_at: o.opt_date_time("expireAt")?.map(str::to_string),
    };
    UserPublicKey::from_container(&container).map_err(|e| {
        ApiError::bad_request(
            code::INVALID_PUBLIC_KEY,
            format!("{at}.publicKey is not a usable {version} public key: {e}"),
        )
    })?;
    Ok(container)
}

/// A `UserKeyPairContainer` whose halves agree on the version.
pub(crate) fn parse_key_pair(
    map: &Map<String, Value>,
    at: &str,
) -> ApiResult<UserKeyPairContainer> {
    let o = Obj::new(map, at);
    let name = |field: &str| {
        if at.is_empty() {
            field.to_string()
        } else {
            format!("{at}.{field}")
        }
    };
    let private = parse_private_container(
        o.req_obj("privateKeyContainer")?,
        &name("privateKeyContainer"),
    )?;
    let public = parse_public_container(
        o.req_obj("publicKeyContainer")?,
        &name("publicKeyContainer"),
    )?;
    if private.version != public.version {
        return Err(ApiError::bad_request(
            code::INVALID_PUBLIC_KEY,
            format!(
                "{}: private key version {} and public key version {} differ",
                if at.is_empty() { "key pair" } else { at },
                private.version,
                public.version
            ),
        ));
    }
    Ok(UserKeyPairContainer {
        private_key_container: private,
        public_key_container: public,
    })
}

/// A `FileKey`: all four fields required (`-80000`); a key that is not a well-formed encrypted
/// file key (unknown version, bad base64, wrong lengths) is `-80062` and a violation.
pub(crate) fn parse_file_key(
    st: &mut State,
    map: &Map<String, Value>,
    at: &str,
) -> ApiResult<EncryptedFileKey> {
    let o = Obj::new(map, at);
    for field in ["key", "iv", "tag", "version"] {
        o.req_str(field)?;
    }
    let version = o.req_str("version")?;
    let problem = match version.parse::<EncryptedFileKeyVersion>() {
        Err(_) => format!("{at}.version {version:?} is not an encrypted file key version"),
        Ok(_) => match EncryptedFileKey::from_json(&Value::Object(map.clone()).to_string()) {
            Ok(key) => return Ok(key),
            Err(e) => format!("{at} is not a valid encrypted file key: {e}"),
        },
    };
    st.violation(problem.clone());
    Err(ApiError::bad_request(code::INVALID_FILE_KEY, problem))
}

/// The `version` query parameter of the key pair endpoints (`-70022` if unknown).
pub(crate) fn version_param(req: &Req) -> ApiResult<Option<UserKeyPairVersion>> {
    match Query::parse(&req.query).get("version") {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::bad_request(
                code::INVALID_PUBLIC_KEY,
                format!("version {v:?} is not a key pair version"),
            )
        }),
    }
}

// ------------------------------------------------------------------------------------------
// Generic key pair operations for one holder

fn no_key_pair(holder: Holder) -> ApiError {
    match holder {
        Holder::RoomRescue(room) => ApiError::not_found(
            code::NO_ROOM_RESCUE_KEY,
            format!("room {room} has no rescue key pair"),
        ),
        Holder::SystemRescue => {
            ApiError::not_found(code::NO_KEY_PAIR, "no system rescue key pair is set")
        }
        Holder::User(_) => ApiError::not_found(code::NO_KEY_PAIR, "user does not have a keypair"),
    }
}

fn ring(st: &State, holder: Holder) -> ApiResult<&KeyRing> {
    st.ring(holder).ok_or_else(|| no_key_pair(holder))
}

fn get_one(st: &State, req: &Req, holder: Holder) -> ApiResult<Reply> {
    let version = version_param(req)?;
    let entry = ring(st, holder)?
        .preferred(version)
        .ok_or_else(|| no_key_pair(holder))?;
    Ok(Reply::json(
        200,
        &serde_json::to_value(&entry.container).unwrap_or_default(),
    ))
}

fn get_all(st: &State, holder: Holder, empty_is_error: bool) -> ApiResult<Reply> {
    let ring = ring(st, holder)?;
    if ring.entries.is_empty() && empty_is_error {
        return Err(no_key_pair(holder));
    }
    let mut entries: Vec<_> = ring.entries.iter().collect();
    // Current before previous, RSA-4096 before A.
    entries.sort_by_key(|e| (e.previous, std::cmp::Reverse(e.version)));
    let list: Vec<Value> = entries
        .iter()
        .map(|e| serde_json::to_value(&e.container).unwrap_or_default())
        .collect();
    Ok(Reply::json(200, &Value::Array(list)))
}

fn post_one(st: &mut State, req: &Req, holder: Holder, creator: i64) -> ApiResult<Reply> {
    let body = json::parse_object(&req.body, false)?;
    let container = parse_key_pair(&body, "")?;
    let version = container.public_key_container.version;
    if ring(st, holder)?.current_of(version).is_some() {
        let error_code = match holder {
            Holder::SystemRescue => code::CUSTOMER_ENCRYPTION_ALREADY_ENABLED,
            _ => code::ALREADY_HAS_KEY_PAIR,
        };
        let status = if holder == Holder::SystemRescue {
            400
        } else {
            409
        };
        return Err(ApiError::new(
            status,
            error_code,
            format!(
                "{} already has a key pair of version {version}",
                holder.describe()
            ),
        ));
    }
    st.push_key_pair(holder, container, Some(creator))
        .map_err(|e| ApiError::plain(400, e))?;
    Ok(Reply::empty(204))
}

/// `CreateKeyPairRequest`: the current key pair of `previousPrivateKey`'s version becomes the
/// preserved previous one (with that private key), the new one becomes current.
fn post_preserving(st: &mut State, req: &Req, holder: Holder, creator: i64) -> ApiResult<Reply> {
    let body = json::parse_object(&req.body, false)?;
    let o = Obj::new(&body, "");
    let previous = parse_private_container(o.req_obj("previousPrivateKey")?, "previousPrivateKey")?;
    let private =
        parse_private_container(o.req_obj("privateKeyContainer")?, "privateKeyContainer")?;
    let public = parse_public_container(o.req_obj("publicKeyContainer")?, "publicKeyContainer")?;
    if private.version != public.version {
        return Err(ApiError::bad_request(
            code::INVALID_PUBLIC_KEY,
            "privateKeyContainer and publicKeyContainer versions differ",
        ));
    }
    let version = public.version;
    let old_id = ring(st, holder)?
        .current_of(previous.version)
        .map(|e| e.id)
        .ok_or_else(|| {
            ApiError::bad_request(
                code::INVALID_PRIVATE_KEY,
                format!(
                    "previousPrivateKey: {} has no current key pair of version {}",
                    holder.describe(),
                    previous.version
                ),
            )
        })?;
    let clash = ring(st, holder)?
        .current_of(version)
        .is_some_and(|e| e.id != old_id);
    if clash {
        return Err(ApiError::new(
            409,
            code::ALREADY_HAS_KEY_PAIR,
            format!(
                "{} already has a key pair of version {version}",
                holder.describe()
            ),
        ));
    }
    if let Some(ring) = match holder {
        Holder::SystemRescue => Some(&mut st.system_rescue),
        Holder::RoomRescue(room) => st.rooms.get_mut(&room).map(|r| &mut r.rescue),
        Holder::User(id) => st.users.get_mut(&id).map(|u| &mut u.keys),
    } {
        for entry in ring.entries.iter_mut().filter(|e| e.id == old_id) {
            entry.previous = true;
            entry.container.private_key_container = previous.clone();
        }
    }
    st.push_key_pair(
        holder,
        UserKeyPairContainer {
            private_key_container: private,
            public_key_container: public,
        },
        Some(creator),
    )
    .map_err(|e| ApiError::plain(400, e))?;
    Ok(Reply::empty(204))
}

/// Deletes the key pair of `version`; without a version the one with the lowest preference
/// (A before RSA-4096; previous before current). Its file keys go with it.
fn delete_one(st: &mut State, req: &Req, holder: Holder) -> ApiResult<Reply> {
    let version = version_param(req)?;
    let ring = ring(st, holder)?;
    let mut candidates: Vec<_> = ring
        .entries
        .iter()
        .filter(|e| version.is_none_or(|v| e.version == v))
        .collect();
    candidates.sort_by_key(|e| (e.version, !e.previous));
    let id = candidates
        .first()
        .map(|e| e.id)
        .ok_or_else(|| no_key_pair(holder))?;
    st.remove_key_pair(holder, id);
    Ok(Reply::empty(204))
}

// ------------------------------------------------------------------------------------------
// Endpoints

/// `GET/POST/DELETE /user/account/keypair`.
pub(crate) fn user_key_pair(shared: &Shared, req: &Req, user: i64) -> ApiResult<Reply> {
    let mut st = shared.lock();
    let holder = Holder::User(user);
    match req.method.as_str() {
        "GET" => get_one(&st, req, holder),
        "POST" => post_one(&mut st, req, holder, user),
        "DELETE" => delete_one(&mut st, req, holder),
        m => Err(not_allowed(m)),
    }
}

/// `GET/POST /user/account/keypairs`.
pub(crate) fn user_key_pairs(shared: &Shared, req: &Req, user: i64) -> ApiResult<Reply> {
    let mut st = shared.lock();
    let holder = Holder::User(user);
    match req.method.as_str() {
        "GET" => get_all(&st, holder, true),
        "POST" => post_preserving(&mut st, req, holder, user),
        m => Err(not_allowed(m)),
    }
}

/// `GET/POST/DELETE /settings/keypair`.
pub(crate) fn system_key_pair(shared: &Shared, req: &Req, user: i64) -> ApiResult<Reply> {
    let mut st = shared.lock();
    match req.method.as_str() {
        "GET" => get_one(&st, req, Holder::SystemRescue),
        "POST" => post_one(&mut st, req, Holder::SystemRescue, user),
        "DELETE" => delete_one(&mut st, req, Holder::SystemRescue),
        m => Err(not_allowed(m)),
    }
}

/// `GET/POST /settings/keypairs`.
pub(crate) fn system_key_pairs(shared: &Shared, req: &Req, user: i64) -> ApiResult<Reply> {
    let mut st = shared.lock();
    match req.method.as_str() {
        "GET" => get_all(&st, Holder::SystemRescue, false),
        "POST" => post_preserving(&mut st, req, Holder::SystemRescue, user),
        m => Err(not_allowed(m)),
    }
}

/// The room, which the caller must be a member of and which must be encrypted.
fn encrypted_room(st: &State, user: i64, room: i64) -> ApiResult<()> {
    let r = st
        .rooms
        .get(&room)
        .ok_or_else(|| ApiError::not_found(code::NODE_NOT_FOUND, format!("no room {room}")))?;
    if !r.members.contains(&user) {
        return Err(ApiError::forbidden(format!(
            "user {user} is not a member of room {room}"
        )));
    }
    if !r.encrypted {
        return Err(ApiError::bad_request(
            code::ROOM_NOT_ENCRYPTED,
            format!("room {room} is not encrypted"),
        ));
    }
    Ok(())
}

/// `GET/POST/DELETE /nodes/rooms/{room_id}/keypair`.
pub(crate) fn room_key_pair(shared: &Shared, req: &Req, user: i64, room: i64) -> ApiResult<Reply> {
    let mut st = shared.lock();
    encrypted_room(&st, user, room)?;
    let holder = Holder::RoomRescue(room);
    match req.method.as_str() {
        "GET" => get_one(&st, req, holder),
        "POST" => post_one(&mut st, req, holder, user),
        "DELETE" => delete_one(&mut st, req, holder),
        m => Err(not_allowed(m)),
    }
}

/// `GET/POST /nodes/rooms/{room_id}/keypairs`.
pub(crate) fn room_key_pairs(shared: &Shared, req: &Req, user: i64, room: i64) -> ApiResult<Reply> {
    let mut st = shared.lock();
    encrypted_room(&st, user, room)?;
    let holder = Holder::RoomRescue(room);
    match req.method.as_str() {
        "GET" => get_all(&st, holder, true),
        "POST" => post_preserving(&mut st, req, holder, user),
        m => Err(not_allowed(m)),
    }
}

/// `PUT /nodes/rooms/{room_id}/encrypt` (`EncryptRoomRequest`) -> Node.
pub(crate) fn encrypt_room(shared: &Shared, req: &Req, user: i64, room: i64) -> ApiResult<Reply> {
    let body = json::parse_object(&req.body, false)?;
    let o = Obj::new(&body, "");
    let encrypt = o.req_bool("isEncrypted")?;
    let use_system = o.opt_bool("useDataSpaceRescueKey")?;
    let rescue = o
        .opt_obj("dataRoomRescueKey")?
        .map(|m| parse_key_pair(m, "dataRoomRescueKey"))
        .transpose()?;
    let mut st = shared.lock();
    let r = st
        .rooms
        .get(&room)
        .ok_or_else(|| ApiError::not_found(code::NODE_NOT_FOUND, format!("no room {room}")))?;
    if !r.members.contains(&user) {
        return Err(ApiError::forbidden(format!(
            "user {user} is not a member of room {room}"
        )));
    }
    let has_files = st.files.values().any(|f| f.room_id == room);
    if encrypt != r.encrypted && has_files {
        let (error_code, what) = if encrypt {
            (code::ROOM_WITH_FILES_CANNOT_BE_ENCRYPTED, "encrypted")
        } else {
            (code::ROOM_WITH_FILES_CANNOT_BE_UNENCRYPTED, "unencrypted")
        };
        return Err(ApiError::bad_request(
            error_code,
            format!("room {room} has files and cannot be {what}"),
        ));
    }
    if !encrypt && rescue.is_some() {
        return Err(ApiError::bad_request(
            code::ROOM_NOT_ENCRYPTED,
            "dataRoomRescueKey needs isEncrypted: true",
        ));
    }
    if rescue.is_some() && r.rescue.has_current() {
        return Err(ApiError::bad_request(
            code::ONE_ROOM_RESCUE_KEY,
            format!("room {room} already has a rescue key pair"),
        ));
    }
    if let Some(r) = st.rooms.get_mut(&room) {
        r.encrypted = encrypt;
        if let Some(use_system) = use_system {
            r.use_system_rescue = use_system;
        }
    }
    if let Some(container) = rescue {
        st.push_key_pair(Holder::RoomRescue(room), container, Some(user))
            .map_err(|e| ApiError::plain(400, e))?;
    }
    let node = st
        .rooms
        .get(&room)
        .map(|r| st.room_json(r))
        .unwrap_or_default();
    Ok(Reply::json(200, &node))
}
