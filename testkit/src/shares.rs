//! Shares: `POST /shares/downloads`, the public download share endpoints, and the public
//! information of upload shares.

use std::sync::Arc;

use serde_json::{Value, json};

use super::Shared;
use super::checks::{self, Truth};
use super::json::{self, ApiError, ApiResult, Obj, code};
use super::keypairs::{parse_file_key, parse_key_pair};
use super::model::{Reply, Req};
use super::state::DownloadShare;
use super::transfers::{ranged, readable_file};

/// `POST /shares/downloads` (`CreateDownloadShareRequest`) -> 201 `DownloadShare`.
pub(crate) fn create_download_share(
    shared: &Arc<Shared>,
    req: &Req,
    user: i64,
) -> ApiResult<Reply> {
    let body = json::parse_object(&req.body, false)?;
    let o = Obj::new(&body, "");
    let node_id = o.req_i64("nodeId")?;
    let name = o.opt_str("name")?;
    let password = o.opt_str("password")?;
    let notes = o.opt_str("notes")?;
    o.opt_str("internalNotes")?;
    let max_downloads = o.opt_i32("maxDownloads")?;
    for flag in [
        "showCreatorName",
        "showCreatorUsername",
        "notifyCreator",
        "sendMail",
        "sendSms",
    ] {
        o.opt_bool(flag)?;
    }
    if let Some(expiration) = o.opt_obj("expiration")? {
        let e = Obj::new(expiration, "expiration");
        e.req_bool("enableExpiration")?;
        e.opt_date_time("expireAt")?;
    }
    let key_pair = o
        .opt_obj("keyPair")?
        .map(|m| parse_key_pair(m, "keyPair"))
        .transpose()?;

    let (reply, check) = {
        let mut st = shared.lock();
        let file_key = match o.opt_obj("fileKey")? {
            Some(m) => Some(parse_file_key(&mut st, m, "fileKey")?),
            None => None,
        };
        let file = st.files.get(&node_id).ok_or_else(|| {
            ApiError::not_found(code::NODE_NOT_FOUND, format!("no node {node_id}"))
        })?;
        readable_file(&st, user, node_id)?;
        let encrypted = file.encrypted;
        if encrypted {
            if password.is_some() {
                return Err(ApiError::bad_request(
                    code::SHARE_PASSWORD_ON_ENCRYPTED,
                    "password for encrypted Download Shares not allowed",
                ));
            }
            if key_pair.is_none() {
                return Err(ApiError::bad_request(
                    code::SHARE_KEY_PAIR_REQUIRED,
                    "keyPair must be set on Download Shares in encrypted rooms",
                ));
            }
            if file_key.is_none() {
                return Err(ApiError::bad_request(
                    code::SHARE_FILE_KEY_REQUIRED,
                    "fileKey must be set on Download Shares in encrypted rooms",
                ));
            }
        } else if key_pair.is_some() || file_key.is_some() {
            return Err(ApiError::bad_request(
                code::SHARE_KEYS_IN_UNENCRYPTED_ROOM,
                "Download Shares in unencrypted rooms must not have keys",
            ));
        }
        if let (Some(kp), Some(fk)) = (&key_pair, &file_key) {
            let pair_version = kp.public_key_container.version;
            if fk.version().key_pair_version() != pair_version {
                let problem = format!(
                    "POST /shares/downloads: fileKey version {} does not fit the share key pair version {pair_version}",
                    fk.version()
                );
                st.violation(problem.clone());
                return Err(ApiError::bad_request(code::INVALID_FILE_KEY, problem));
            }
        }
        let share_name = name.map_or_else(|| file.name.clone(), str::to_string);
        let truth = Truth {
            expected: file.plain_key.clone(),
            content: file.content.clone(),
        };
        let id = st.next_id();
        let access_key = json::random_hex(16);
        let share = DownloadShare {
            id,
            access_key: access_key.clone(),
            node_id,
            name: share_name,
            creator: user,
            created_at: json::now(),
            key_pair: key_pair.clone(),
            file_key: file_key.clone(),
            password: password.map(str::to_string),
            max_downloads,
            downloads: 0,
            notes: notes.map(str::to_string),
        };
        let reply = Reply::json(201, &download_share_json(&st, &share));
        st.download_shares.push(share);
        let check = match (key_pair, file_key, st.key_checks) {
            (Some(kp), Some(fk), true) => Some((
                format!("POST /shares/downloads: fileKey of share {id} (file {node_id})"),
                kp,
                fk,
                st.share_passwords.clone(),
                truth,
            )),
            _ => None,
        };
        (reply, check)
    };
    if let Some((what, kp, fk, passwords, truth)) = check {
        let problems = checks::share(what, kp, fk, passwords, truth);
        shared.lock().violations.extend(problems);
    }
    Ok(reply)
}

fn download_share_json(st: &super::state::State, share: &DownloadShare) -> Value {
    let mut v = json!({
        "id": share.id,
        "accessKey": share.access_key,
        "name": share.name,
        "nodeId": share.node_id,
        "nodeType": "file",
        "cntDownloads": share.downloads,
        "createdAt": share.created_at,
        "createdBy": st.user_info(share.creator),
        "notifyCreator": false,
        "isProtected": share.password.is_some(),
        "isEncrypted": share.key_pair.is_some(),
        "showCreatorName": false,
        "showCreatorUsername": false,
        "dataUrl": format!("{}/public/download-shares/{}", st.base_url, share.access_key),
    });
    if let Value::Object(map) = &mut v {
        if let Some(max) = share.max_downloads {
            map.insert("maxDownloads".to_string(), json!(max));
        }
        if let Some(notes) = &share.notes {
            map.insert("notes".to_string(), json!(notes));
        }
    }
    v
}

fn find_share<'s>(st: &'s super::state::State, key: &str) -> ApiResult<&'s DownloadShare> {
    st.download_shares
        .iter()
        .find(|s| s.access_key == key)
        .ok_or_else(|| {
            ApiError::not_found(
                code::DOWNLOAD_SHARE_NOT_FOUND,
                "download access key not found",
            )
        })
}

/// `GET /public/shares/downloads/{access_key}` -> `PublicDownloadShare`.
pub(crate) fn public_download_share(shared: &Shared, key: &str) -> ApiResult<Reply> {
    let st = shared.lock();
    let share = find_share(&st, key)?;
    let file = st
        .files
        .get(&share.node_id)
        .ok_or_else(|| ApiError::not_found(code::FILE_NOT_FOUND, "the shared file is gone"))?;
    let limit_reached = share.max_downloads.is_some_and(|m| share.downloads >= m);
    let mut v = json!({
        "isProtected": share.password.is_some(),
        "fileName": file.name,
        "size": file.content.len(),
        "limitReached": limit_reached,
        "creatorName": st.users.get(&share.creator).map_or("unknown", |u| u.login.as_str()),
        "creatorUsername": st.users.get(&share.creator).map_or("unknown", |u| u.login.as_str()),
        "createdAt": share.created_at,
        "hasDownloadLimit": share.max_downloads.is_some(),
        "mediaType": "application/octet-stream",
        "name": share.name,
        "isEncrypted": share.key_pair.is_some(),
    });
    if let Value::Object(map) = &mut v {
        if let Some(kp) = &share.key_pair {
            map.insert(
                "privateKeyContainer".to_string(),
                serde_json::to_value(&kp.private_key_container).unwrap_or_default(),
            );
        }
        if let Some(fk) = &share.file_key {
            map.insert(
                "fileKey".to_string(),
                serde_json::to_value(fk).unwrap_or_default(),
            );
        }
        if let Some(notes) = &share.notes {
            map.insert("notes".to_string(), json!(notes));
        }
    }
    Ok(Reply::json(200, &v))
}

/// `POST /public/shares/downloads/{access_key}` (`PublicDownloadTokenGenerateRequest`, body
/// optional) -> 201 `{downloadUrl}`.
pub(crate) fn public_download_url(shared: &Shared, req: &Req, key: &str) -> ApiResult<Reply> {
    let body = json::parse_object(&req.body, true)?;
    let password = Obj::new(&body, "").opt_str("password")?;
    let mut st = shared.lock();
    let share = find_share(&st, key)?;
    if share.key_pair.is_some() && password.is_some() {
        return Err(ApiError::bad_request(
            code::ENCRYPTION_PASSWORD_SENT,
            "client-side encryption passwords must not be sent to the server",
        ));
    }
    if let Some(expected) = &share.password
        && password != Some(expected.as_str())
    {
        return Err(ApiError::new(
            401,
            code::WRONG_SHARE_PASSWORD,
            "wrong password for Download Share link",
        ));
    }
    if share.max_downloads.is_some_and(|m| share.downloads >= m) {
        return Err(ApiError::not_found(
            code::DOWNLOADS_LIMIT_REACHED,
            "downloads limit reached",
        ));
    }
    let token = json::random_hex(24);
    st.share_downloads.insert(token.clone(), key.to_string());
    let url = format!(
        "{}/api/v4/public/shares/downloads/{key}/{token}",
        st.base_url
    );
    Ok(Reply::json(201, &json!({"downloadUrl": url})))
}

/// `GET /public/shares/downloads/{access_key}/{token}` with Range support. Every request with
/// a token counts as one download.
pub(crate) fn public_download(
    shared: &Shared,
    req: &Req,
    key: &str,
    token: &str,
) -> ApiResult<Reply> {
    let content = {
        let mut st = shared.lock();
        if st.share_downloads.get(token).map(String::as_str) != Some(key) {
            return Err(ApiError::not_found(-50001, "download token not found"));
        }
        let share = find_share(&st, key)?;
        let node = share.node_id;
        let content = st
            .files
            .get(&node)
            .ok_or_else(|| ApiError::not_found(code::FILE_NOT_FOUND, "the shared file is gone"))?
            .content
            .clone();
        if let Some(share) = st.download_shares.iter_mut().find(|s| s.access_key == key) {
            share.downloads = share.downloads.saturating_add(1);
        }
        content
    };
    ranged(content, req.header("range"))
}

/// `GET /public/shares/uploads/{access_key}` -> `PublicUploadShare` with
/// `userUserPublicKeyList` (members with key pairs, one item per public key).
pub(crate) fn public_upload_share(shared: &Shared, key: &str) -> ApiResult<Reply> {
    let st = shared.lock();
    let share = st.upload_shares.get(key).ok_or_else(|| {
        ApiError::not_found(code::UPLOAD_SHARE_NOT_FOUND, "upload access key not found")
    })?;
    let room = st
        .rooms
        .get(&share.room_id)
        .ok_or_else(|| ApiError::not_found(code::NODE_NOT_FOUND, "the share's room is gone"))?;
    let mut items = Vec::new();
    for member in &room.members {
        if let Some(user) = st.users.get(member) {
            for entry in user.keys.current_sorted() {
                items.push(json!({
                    "id": user.id,
                    "publicKeyContainer": entry.container.public_key_container,
                }));
            }
        }
    }
    if room.encrypted && items.is_empty() {
        return Err(ApiError::bad_request(
            code::NO_ROOM_USER_HAS_KEY_PAIR,
            "no room user has a keypair",
        ));
    }
    let mut v = json!({
        "name": share.name,
        "createdAt": share.created_at,
        "creatorName": "testkit",
        "creatorUsername": "testkit",
        "isProtected": false,
        "isEncrypted": room.encrypted,
        "showUploadedFiles": false,
    });
    if let (true, Value::Object(map)) = (room.encrypted, &mut v) {
        map.insert("userUserPublicKeyList".to_string(), json!({"items": items}));
    }
    Ok(Reply::json(200, &v))
}
