//! Uploads: channels (authenticated and through upload shares), chunks by `Content-Range`,
//! completion with file keys, S3 presigned part URLs, part PUTs with ETags, S3 completion and
//! status polling, cancellation.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Shared;
use super::api::auth_header_on_s3;
use super::checks::{self, KeyCheck, Truth};
use super::content::Content;
use super::json::{self, ApiError, ApiResult, Obj, Query, code};
use super::keypairs::parse_file_key;
use super::model::{Reply, Req};
use super::state::{FileNode, Holder, Origin, Phase, State, Upload};
use dracoon_crypto::{EncryptedFileKey, MAX_MESSAGE_LEN};

/// S3's minimum size of every part but the last.
pub(crate) const MIN_PART: usize = 5 * 1024 * 1024;

/// How a request names its upload channel.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Channel<'a> {
    /// `/nodes/files/uploads/{upload_id}` with the creator's authentication.
    User { id: &'a str, user: i64 },
    /// `/uploads/{token}`.
    Token(&'a str),
    /// `/public/shares/uploads/{access_key}/{upload_id}`.
    Share { key: &'a str, id: &'a str },
}

fn upload_not_found(what: &str) -> ApiError {
    ApiError::not_found(code::UPLOAD_NOT_FOUND, format!("upload not found: {what}"))
}

/// The upload id a channel names.
fn resolve(st: &State, channel: Channel<'_>) -> ApiResult<String> {
    match channel {
        Channel::User { id, user } => {
            let upload = st.uploads.get(id).ok_or_else(|| upload_not_found(id))?;
            if upload.origin != Origin::User(user) {
                return Err(ApiError::forbidden(
                    "only the creator of an upload channel may use it",
                ));
            }
            Ok(id.to_string())
        }
        Channel::Token(token) => st
            .upload_tokens
            .get(token)
            .cloned()
            .ok_or_else(|| upload_not_found("unknown (or already used) upload token")),
        Channel::Share { key, id } => {
            if !st.upload_shares.contains_key(key) {
                return Err(ApiError::not_found(
                    code::UPLOAD_SHARE_NOT_FOUND,
                    "upload access key not found",
                ));
            }
            match st.uploads.get(id) {
                Some(u) if u.origin == Origin::Share(key.to_string()) => Ok(id.to_string()),
                _ => Err(upload_not_found(id)),
            }
        }
    }
}

fn open_upload<'s>(st: &'s mut State, id: &str) -> ApiResult<&'s mut Upload> {
    let upload = st.uploads.get_mut(id).ok_or_else(|| upload_not_found(id))?;
    if upload.phase != Phase::Open {
        return Err(ApiError::bad_request(
            code::UPLOAD_CLOSED,
            "upload channel is closed",
        ));
    }
    Ok(upload)
}

/// Node names: not empty, no path separators or control characters, at most 150 characters.
fn check_name(name: &str, at: &str) -> ApiResult<()> {
    if name.chars().count() > 150 {
        return Err(ApiError::bad_request(
            code::MAX_LENGTH,
            format!("{at} is longer than 150 characters"),
        ));
    }
    let bad = name.trim().is_empty()
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(ApiError::bad_request(
            code::BAD_NODE_NAME,
            format!("{at} {name:?} is not a valid node name"),
        ));
    }
    Ok(())
}

fn new_upload_id() -> String {
    let h = json::random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The channel fields shared by both channel requests.
struct ChannelRequest<'a> {
    name: &'a str,
    size: Option<u64>,
    s3: bool,
    timestamp_creation: Option<&'a str>,
    timestamp_modification: Option<&'a str>,
}

fn parse_channel_request<'a>(o: &Obj<'a>) -> ApiResult<ChannelRequest<'a>> {
    let name = o.req_str("name")?;
    check_name(name, "name")?;
    Ok(ChannelRequest {
        name,
        size: o.opt_size("size")?,
        s3: o.opt_bool("directS3Upload")?.unwrap_or(false),
        timestamp_creation: o.opt_date_time("timestampCreation")?,
        timestamp_modification: o.opt_date_time("timestampModification")?,
    })
}

fn open_channel(
    st: &mut State,
    room_id: i64,
    request: &ChannelRequest<'_>,
    origin: Origin,
    classification: Option<i32>,
) -> ApiResult<(String, String)> {
    let encrypted = st.rooms.get(&room_id).is_some_and(|r| r.encrypted);
    if encrypted && request.size.is_some_and(|s| s > MAX_MESSAGE_LEN) {
        return Err(ApiError::bad_request(
            code::EXCEEDS_GCM_LIMIT,
            format!("size exceeds {MAX_MESSAGE_LEN} bytes, the AES-GCM limit"),
        ));
    }
    if request.s3 && !st.s3_enabled {
        return Err(ApiError::new(412, code::S3_DISABLED, "S3 storage disabled"));
    }
    let id = new_upload_id();
    let token = json::random_hex(24);
    st.uploads.insert(
        id.clone(),
        Upload {
            id: id.clone(),
            token: token.clone(),
            room_id,
            name: request.name.to_string(),
            declared_size: request.size,
            origin,
            s3: request.s3,
            classification,
            timestamp_creation: request.timestamp_creation.map(str::to_string),
            timestamp_modification: request.timestamp_modification.map(str::to_string),
            chunks: Default::default(),
            announced_total: None,
            parts: Default::default(),
            presigned: HashMap::new(),
            phase: Phase::Open,
            final_size: None,
        },
    );
    st.upload_tokens.insert(token.clone(), id.clone());
    Ok((id, token))
}

/// `POST /nodes/files/uploads` (`CreateFileUploadRequest`) -> 201 `{uploadId, uploadUrl, token}`.
pub(crate) fn create_channel(shared: &Shared, req: &Req, user: i64) -> ApiResult<Reply> {
    let body = json::parse_object(&req.body, false)?;
    let o = Obj::new(&body, "");
    let parent = o.req_i64("parentId")?;
    let request = parse_channel_request(&o)?;
    let classification = o.opt_i32("classification")?;
    if classification.is_some_and(|c| !(1..=4).contains(&c)) {
        return Err(ApiError::bad_request(
            code::BAD_CLASSIFICATION,
            "classification must be 1, 2, 3 or 4",
        ));
    }
    if let Some(expiration) = o.opt_obj("expiration")? {
        let e = Obj::new(expiration, "expiration");
        e.req_bool("enableExpiration")?;
        e.opt_date_time("expireAt")?;
    }
    o.opt_str("notes")?;

    let mut st = shared.lock();
    let room = st
        .rooms
        .get(&parent)
        .ok_or_else(|| ApiError::not_found(code::NODE_NOT_FOUND, format!("no room {parent}")))?;
    if !room.members.contains(&user) {
        return Err(ApiError::forbidden(format!(
            "user {user} may not upload into room {parent}"
        )));
    }
    if room.encrypted && !st.users.get(&user).is_some_and(|u| u.keys.has_current()) {
        return Err(ApiError::new(
            403,
            code::NO_KEY_PAIR,
            "uploads into encrypted rooms need a key pair",
        ));
    }
    let (id, token) = open_channel(
        &mut st,
        parent,
        &request,
        Origin::User(user),
        classification,
    )?;
    let url = format!("{}/api/v4/uploads/{token}", st.base_url);
    Ok(Reply::json(
        201,
        &json!({"uploadId": id, "uploadUrl": url, "token": token}),
    ))
}

/// `POST /public/shares/uploads/{access_key}` (`CreateShareUploadChannelRequest`) -> 201
/// `{uploadId, uploadUrl, token}`.
pub(crate) fn create_share_channel(shared: &Shared, req: &Req, key: &str) -> ApiResult<Reply> {
    let body = json::parse_object(&req.body, false)?;
    let o = Obj::new(&body, "");
    let request = parse_channel_request(&o)?;
    o.opt_str("password")?;
    let mut st = shared.lock();
    let room_id = st
        .upload_shares
        .get(key)
        .map(|s| s.room_id)
        .ok_or_else(|| {
            ApiError::not_found(code::UPLOAD_SHARE_NOT_FOUND, "upload access key not found")
        })?;
    let room = st
        .rooms
        .get(&room_id)
        .ok_or_else(|| ApiError::not_found(code::NODE_NOT_FOUND, "the share's room is gone"))?;
    let anyone_with_keys = room
        .members
        .iter()
        .any(|m| st.users.get(m).is_some_and(|u| u.keys.has_current()));
    if room.encrypted && !anyone_with_keys {
        return Err(ApiError::bad_request(
            code::NO_ROOM_USER_HAS_KEY_PAIR,
            "no room user has a keypair",
        ));
    }
    let (id, token) = open_channel(
        &mut st,
        room_id,
        &request,
        Origin::Share(key.to_string()),
        None,
    )?;
    let url = format!("{}/api/v4/uploads/{token}", st.base_url);
    Ok(Reply::json(
        201,
        &json!({"uploadId": id, "uploadUrl": url, "token": token}),
    ))
}

// ------------------------------------------------------------------------------------------
// Chunks

/// A parsed `Content-Range: bytes start-end/total` (inclusive end; total may be `*`).
#[derive(Debug, PartialEq, Eq)]
struct ContentRange {
    start: u64,
    end: u64,
    total: Option<u64>,
}

fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.trim().split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some(ContentRange {
        start: start.trim().parse().ok()?,
        end: end.trim().parse().ok()?,
        total,
    })
}

/// The `file` part of a multipart/form-data body.
fn multipart_file(content_type: &str, body: &Bytes) -> Option<Bytes> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let find = |from: usize, needle: &[u8]| {
        body.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut at = find(0, delimiter)?;
    loop {
        let part_start = at + delimiter.len();
        if body.get(part_start..part_start + 2) == Some(b"--") {
            return None;
        }
        let headers_end = find(part_start, b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&body[part_start..headers_end]).to_ascii_lowercase();
        let content_start = headers_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(delimiter);
        let next = find(content_start, &closing)?;
        let is_file = headers
            .lines()
            .any(|l| l.starts_with("content-disposition:") && l.contains("name=\"file\""));
        if is_file {
            return Some(body.slice(content_start..next));
        }
        at = next + 2;
    }
}

/// `POST /uploads/{token}` or `POST /public/shares/uploads/{access_key}/{upload_id}`: one
/// chunk, raw or as the `file` part of multipart/form-data, placed by its Content-Range start.
pub(crate) fn chunk(shared: &Shared, req: &Req, channel: &Channel<'_>) -> ApiResult<Reply> {
    let data = match req.header("content-type") {
        Some(ct) if ct.to_ascii_lowercase().starts_with("multipart/form-data") => {
            multipart_file(ct, &req.body).ok_or_else(|| {
                ApiError::bad_request(
                    code::MANDATORY_FIELD,
                    "multipart/form-data body without a `file` part",
                )
            })?
        }
        _ => req.body.clone(),
    };
    let mut st = shared.lock();
    let id = resolve(&st, *channel)?;
    let encrypted = st
        .uploads
        .get(&id)
        .and_then(|u| st.rooms.get(&u.room_id))
        .is_some_and(|r| r.encrypted);
    let mut problems = Vec::new();
    let result = store_chunk(&mut st, &id, req, data, encrypted, &mut problems);
    st.violations.extend(problems);
    result
}

fn store_chunk(
    st: &mut State,
    id: &str,
    req: &Req,
    data: Bytes,
    encrypted: bool,
    problems: &mut Vec<String>,
) -> ApiResult<Reply> {
    let upload = open_upload(st, id)?;
    if upload.s3 {
        return Err(ApiError::bad_request(
            code::S3_ENFORCED,
            "this channel was opened for a direct S3 upload",
        ));
    }
    let len = data.len() as u64;
    let bad_range = |problems: &mut Vec<String>, why: String| {
        problems.push(format!("{} {}: {why}", req.method, req.path));
        ApiError::bad_request(code::BAD_CONTENT_RANGE, why)
    };
    let start = match req.header("content-range") {
        // No Content-Range: the body is the whole file.
        None => 0,
        Some(value) => {
            let Some(range) = parse_content_range(value) else {
                return Err(bad_range(
                    problems,
                    format!("Content-Range {value:?} is not `bytes start-end/total`"),
                ));
            };
            // RD's form for an empty file: `bytes 0-0/0` with an empty body.
            let empty_file =
                len == 0 && range.start == 0 && range.end == 0 && range.total == Some(0);
            if !empty_file {
                if range.end < range.start || range.end - range.start + 1 != len {
                    return Err(bad_range(
                        problems,
                        format!(
                            "Content-Range {value:?} announces {} bytes (the end is inclusive), \
                             the body has {len}",
                            range.end.saturating_sub(range.start).saturating_add(1)
                        ),
                    ));
                }
                if range.total.is_some_and(|t| range.end >= t) {
                    return Err(bad_range(
                        problems,
                        format!("Content-Range {value:?} ends beyond its total"),
                    ));
                }
            }
            if let (Some(total), Some(known)) = (range.total, upload.announced_total)
                && total != known
            {
                return Err(bad_range(
                    problems,
                    format!("Content-Range total {total} differs from the earlier {known}"),
                ));
            }
            if let Some(total) = range.total {
                upload.announced_total = Some(total);
            }
            range.start
        }
    };
    let end = start.saturating_add(len);
    if encrypted && end > MAX_MESSAGE_LEN {
        return Err(ApiError::bad_request(
            code::EXCEEDS_GCM_LIMIT,
            "the upload exceeds the AES-GCM limit",
        ));
    }
    // The same range written twice must carry the same bytes (a resent chunk, not a
    // re-encrypted one).
    for (&other_start, other) in upload.chunks.range(..end) {
        let other_end = other_start + other.len() as u64;
        if other_end <= start || len == 0 {
            continue;
        }
        let from = start.max(other_start);
        let to = end.min(other_end);
        let ours = &data
            [usize::try_from(from - start).unwrap_or(0)..usize::try_from(to - start).unwrap_or(0)];
        let theirs = &other[usize::try_from(from - other_start).unwrap_or(0)
            ..usize::try_from(to - other_start).unwrap_or(0)];
        if ours != theirs {
            problems.push(format!(
                "upload {}: bytes {from}-{} written twice with different content",
                upload.id,
                to - 1
            ));
        }
    }
    upload.chunks.insert(start, data);
    Ok(Reply::json(201, &json!({"size": len})))
}

/// The chunks of an upload in order, without copying them (see [`Content`]); bytes sent twice
/// count once; a gap is `-80021`.
fn assemble_chunks(upload: &Upload) -> ApiResult<Content> {
    let mut pieces: Vec<Bytes> = Vec::with_capacity(upload.chunks.len());
    let mut pos: u64 = 0;
    for (&start, data) in &upload.chunks {
        if start > pos {
            return Err(ApiError::bad_request(
                code::BAD_CONTENT_RANGE,
                format!("bytes {pos}-{} were never uploaded", start - 1),
            ));
        }
        let skip = usize::try_from(pos - start).unwrap_or(usize::MAX);
        if skip < data.len() {
            pieces.push(data.slice(skip..));
            pos = start + data.len() as u64;
        }
    }
    Ok(Content::from_parts(pieces))
}

/// The parts named in an S3 completion, checked (numbers 1..n, ETags, sizes) and put together.
fn assemble_parts(upload: &Upload, parts: &[(u32, String)]) -> ApiResult<Content> {
    let etags = |why: String| ApiError::bad_request(code::INVALID_ETAGS, why);
    let mut sorted: Vec<&(u32, String)> = parts.iter().collect();
    sorted.sort_by_key(|(n, _)| *n);
    let numbers: Vec<u32> = sorted.iter().map(|(n, _)| *n).collect();
    let expected: Vec<u32> = (1..).take(numbers.len()).collect();
    if numbers.is_empty() || numbers != expected {
        return Err(etags(format!(
            "parts must be numbered 1..n without gaps or repeats, got {numbers:?}"
        )));
    }
    let mut out: Vec<Bytes> = Vec::with_capacity(sorted.len());
    let last = numbers.len();
    for (i, (number, etag)) in sorted.iter().enumerate() {
        let (data, stored) = upload
            .parts
            .get(number)
            .ok_or_else(|| etags(format!("part {number} was never uploaded")))?;
        if etag.trim().trim_matches('"') != stored {
            return Err(etags(format!(
                "part {number}: partEtag {etag:?} is not the ETag S3 returned"
            )));
        }
        if i + 1 < last && data.len() < MIN_PART {
            return Err(ApiError::bad_request(
                code::INVALID_SIZE,
                format!(
                    "part {number} has {} bytes; every part but the last needs at least {MIN_PART}",
                    data.len()
                ),
            ));
        }
        out.push(data.clone());
    }
    Ok(Content::from_parts(out))
}

// ------------------------------------------------------------------------------------------
// Completion

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Autorename,
    Overwrite,
    Fail,
}

/// What a completion request asks for.
struct Finish {
    what: &'static str,
    file_name: Option<String>,
    strategy: Strategy,
    keep_share_links: bool,
    own_key: Option<EncryptedFileKey>,
    user_keys: Vec<(i64, EncryptedFileKey)>,
    s3_parts: Option<Vec<(u32, String)>>,
}

fn parse_strategy(o: &Obj<'_>) -> ApiResult<(Strategy, bool)> {
    let strategy = match o.opt_enum(
        "resolutionStrategy",
        &["autorename", "overwrite", "fail"],
        code::ILLEGAL_RESOLUTION_STRATEGY,
    )? {
        Some("overwrite") => Strategy::Overwrite,
        Some("fail") => Strategy::Fail,
        _ => Strategy::Autorename,
    };
    let keep = o.opt_bool("keepShareLinks")?.unwrap_or(false);
    if keep && strategy != Strategy::Overwrite {
        return Err(ApiError::bad_request(
            code::KEEP_SHARE_LINKS_NEEDS_OVERWRITE,
            "keepShareLinks is only allowed with resolutionStrategy overwrite",
        ));
    }
    Ok((strategy, keep))
}

/// `UserFileKey` items: `{userId, fileKey}`.
fn parse_user_file_keys(
    st: &mut State,
    items: &[Value],
    at: &str,
) -> ApiResult<Vec<(i64, EncryptedFileKey)>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in json::objects(items, at)?.into_iter().enumerate() {
        let at = format!("{at}[{i}]");
        let o = Obj::new(item, &at);
        let user = o.req_i64("userId")?;
        let key = parse_file_key(st, o.req_obj("fileKey")?, &format!("{at}.fileKey"))?;
        out.push((user, key));
    }
    Ok(out)
}

fn parse_parts(o: &Obj<'_>) -> ApiResult<Vec<(u32, String)>> {
    let parts = o.req_array("parts")?;
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in json::objects(parts, "parts")?.into_iter().enumerate() {
        let at = format!("parts[{i}]");
        let p = Obj::new(part, &at);
        let etag = p.req_str("partEtag")?;
        let number = p.req_i32("partNumber")?;
        let number = u32::try_from(number)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                ApiError::bad_request(
                    code::INVALID_POSITIVE_NUMBER,
                    format!("{at}.partNumber must be at least 1"),
                )
            })?;
        out.push((number, etag.to_string()));
    }
    Ok(out)
}

/// Reads a completion body (`CompleteUploadRequest`, `UserFileKeyList`,
/// `CompleteS3FileUploadRequest` or `CompleteS3ShareUploadRequest`).
fn parse_finish(
    st: &mut State,
    body: &Map<String, Value>,
    share: bool,
    s3: bool,
) -> ApiResult<Finish> {
    let o = Obj::new(body, "");
    let s3_parts = if s3 { Some(parse_parts(&o)?) } else { None };
    if share {
        // Upload shares: keys for the listed users only; the name is always auto-renamed.
        let user_keys = if s3 {
            match o.opt_array("userFileKeyList")? {
                Some(items) => parse_user_file_keys(st, items, "userFileKeyList")?,
                None => Vec::new(),
            }
        } else if let Some(list) = o.opt_obj("userFileKeyList")? {
            // A share channel completed through PUT /uploads/{token}.
            let l = Obj::new(list, "userFileKeyList");
            match l.opt_array("items")? {
                Some(items) => parse_user_file_keys(st, items, "userFileKeyList.items")?,
                None => Vec::new(),
            }
        } else {
            match o.opt_array("items")? {
                Some(items) => parse_user_file_keys(st, items, "items")?,
                None => Vec::new(),
            }
        };
        return Ok(Finish {
            what: if s3 {
                "PUT /public/shares/uploads/{access_key}/{upload_id}/s3"
            } else {
                "PUT /public/shares/uploads/{access_key}/{upload_id}"
            },
            file_name: None,
            strategy: Strategy::Autorename,
            keep_share_links: false,
            own_key: None,
            user_keys,
            s3_parts,
        });
    }
    let (strategy, keep_share_links) = parse_strategy(&o)?;
    let file_name = o.opt_str("fileName")?.map(str::to_string);
    if let Some(name) = &file_name {
        check_name(name, "fileName")?;
    }
    let own_key = match o.opt_obj("fileKey")? {
        Some(key) => Some(parse_file_key(st, key, "fileKey")?),
        None => None,
    };
    let user_keys = if s3 {
        Vec::new()
    } else {
        match o.opt_obj("userFileKeyList")? {
            Some(list) => {
                let l = Obj::new(list, "userFileKeyList");
                match l.opt_array("items")? {
                    Some(items) => parse_user_file_keys(st, items, "userFileKeyList.items")?,
                    None => Vec::new(),
                }
            }
            None => Vec::new(),
        }
    };
    Ok(Finish {
        what: if s3 {
            "PUT /nodes/files/uploads/{upload_id}/s3"
        } else {
            "PUT /uploads/{token}"
        },
        file_name,
        strategy,
        keep_share_links,
        own_key,
        user_keys,
        s3_parts,
    })
}

/// The holders that may get keys for files of `room`.
fn room_key_holders(st: &State, room: i64) -> Vec<Holder> {
    let probe = FileNode {
        id: 0,
        room_id: room,
        name: String::new(),
        content: Content::default(),
        encrypted: true,
        plain_key: None,
        keys: HashMap::new(),
        created_at: String::new(),
        created_by: None,
        classification: 0,
        timestamp_creation: None,
        timestamp_modification: None,
    };
    st.key_holders(&probe)
}

struct Prepared {
    node: i64,
    checks: Vec<KeyCheck>,
    truths: HashMap<i64, Truth>,
}

/// Validates a completion, then creates the node and stores its keys; returns the checks to run.
fn prepare(st: &mut State, id: &str, finish: Finish) -> ApiResult<Prepared> {
    let upload = open_upload(st, id)?;
    let room_id = upload.room_id;
    let origin = upload.origin.clone();
    let content = match &finish.s3_parts {
        Some(parts) => {
            if !upload.s3 {
                return Err(ApiError::not_found(
                    code::S3_UPLOAD_NOT_FOUND,
                    "this channel was not opened for a direct S3 upload",
                ));
            }
            assemble_parts(upload, parts)?
        }
        None => {
            if upload.s3 {
                return Err(ApiError::bad_request(
                    code::S3_ENFORCED,
                    "this channel was opened for a direct S3 upload",
                ));
            }
            assemble_chunks(upload)?
        }
    };
    if let Some(size) = upload.declared_size
        && size != content.len() as u64
    {
        let error_code = if upload.s3 {
            code::INVALID_SIZE
        } else {
            code::BAD_CONTENT_RANGE
        };
        return Err(ApiError::bad_request(
            error_code,
            format!(
                "the channel was opened with size {size}, {} bytes were uploaded",
                content.len()
            ),
        ));
    }
    let default_name = upload.name.clone();
    let classification = upload.classification;
    let timestamps = (
        upload.timestamp_creation.clone(),
        upload.timestamp_modification.clone(),
    );

    let room = st
        .rooms
        .get(&room_id)
        .ok_or_else(|| ApiError::not_found(code::CONTAINER_NOT_FOUND, "the room is gone"))?;
    let encrypted = room.encrypted;
    let holders = room_key_holders(st, room_id);

    // The keys and whom they are for, the uploader's own first.
    let mut targets: Vec<(Holder, EncryptedFileKey, String)> = Vec::new();
    if let (Origin::User(uploader), Some(key)) = (&origin, finish.own_key) {
        targets.push((
            Holder::User(*uploader),
            key,
            format!("{}: the uploader's fileKey (user {uploader})", finish.what),
        ));
    }
    for (user, key) in finish.user_keys {
        let holder = st
            .holder_of(user)
            .ok_or_else(|| ApiError::not_found(code::USER_NOT_FOUND, format!("no user {user}")))?;
        if !holders.contains(&holder) {
            return Err(ApiError::new(
                403,
                code::NOT_AUTHORIZED,
                format!("{} has no access to room {room_id}", holder.describe()),
            ));
        }
        targets.push((
            holder,
            key,
            format!("{}: the key for {}", finish.what, holder.describe()),
        ));
    }
    let own_missing = match &origin {
        Origin::User(uploader) => !targets
            .iter()
            .any(|(holder, _, _)| *holder == Holder::User(*uploader)),
        Origin::Share(_) => false,
    };
    if encrypted && (targets.is_empty() || own_missing) {
        return Err(ApiError::bad_request(
            code::FILE_KEY_REQUIRED,
            "the file key must be set for an upload into an encrypted room",
        ));
    }
    if !encrypted && !targets.is_empty() {
        return Err(ApiError::bad_request(
            code::ROOM_NOT_ENCRYPTED,
            format!("room {room_id} is not encrypted: no file keys"),
        ));
    }
    for (holder, key, what) in &targets {
        let version = key.version().key_pair_version();
        if st
            .ring(*holder)
            .and_then(|r| r.current_of(version))
            .is_none()
        {
            return Err(ApiError::new(
                403,
                code::NO_KEY_PAIR,
                format!(
                    "{what}: {} has no key pair of version {version}",
                    holder.describe()
                ),
            ));
        }
    }

    // Name conflicts.
    let mut name = finish.file_name.unwrap_or(default_name);
    let existing = st.find_file(room_id, &name);
    let mut replaced = None;
    match (existing, finish.strategy) {
        (Some(node), Strategy::Fail) => {
            return Err(ApiError::new(
                409,
                code::CANNOT_OVERWRITE,
                format!("a node named {name:?} exists already (id {node})"),
            ));
        }
        (Some(node), Strategy::Overwrite) => {
            st.files.remove(&node);
            replaced = Some(node);
        }
        (Some(_), Strategy::Autorename) => name = st.free_name(room_id, &name),
        (None, _) => {}
    }

    // Commit.
    let node = st.next_id();
    let creator = match origin {
        Origin::User(u) => Some(u),
        Origin::Share(_) => None,
    };
    st.files.insert(
        node,
        FileNode {
            id: node,
            room_id,
            name,
            content: content.clone(),
            encrypted,
            plain_key: None,
            keys: HashMap::new(),
            created_at: json::now(),
            created_by: creator,
            classification: classification.unwrap_or(2),
            timestamp_creation: timestamps.0,
            timestamp_modification: timestamps.1,
        },
    );
    if let (Some(old), true) = (replaced, finish.keep_share_links) {
        for share in st.download_shares.iter_mut().filter(|s| s.node_id == old) {
            share.node_id = node;
        }
    }
    let mut checks = Vec::new();
    for (holder, key, what) in targets {
        let entry = st.store_file_key(node, holder, key.clone())?;
        if !st.key_checks {
            continue;
        }
        if let Some(unlocked) = st.key_pair(entry).and_then(|(_, e)| e.unlocked.clone()) {
            checks.push(KeyCheck {
                what,
                file_id: node,
                key,
                unlocked,
            });
        }
    }
    let token = if let Some(upload) = st.uploads.get_mut(id) {
        upload.phase = if upload.s3 {
            Phase::Finishing {
                node,
                polls_left: 1,
            }
        } else {
            Phase::Done { node }
        };
        upload.final_size = Some(content.len() as u64);
        upload.chunks.clear();
        upload.parts.clear();
        upload.presigned.clear();
        Some(upload.token.clone())
    } else {
        None
    };
    if let Some(token) = token {
        st.upload_tokens.remove(&token);
    }
    let truths = HashMap::from([(
        node,
        Truth {
            expected: None,
            content,
        },
    )]);
    Ok(Prepared {
        node,
        checks,
        truths,
    })
}

/// Runs a completion: validation and commit under the lock, key checks outside it.
fn finish(
    shared: &Arc<Shared>,
    channel: Channel<'_>,
    body: &Map<String, Value>,
    s3: bool,
) -> ApiResult<(i64, bool)> {
    let prepared = {
        let mut st = shared.lock();
        let id = resolve(&st, channel)?;
        let share = matches!(
            st.uploads.get(&id).map(|u| &u.origin),
            Some(Origin::Share(_))
        );
        let finish = parse_finish(&mut st, body, share, s3)?;
        let prepared = prepare(&mut st, &id, finish)?;
        (prepared, share)
    };
    let (
        Prepared {
            node,
            checks,
            truths,
        },
        share,
    ) = prepared;
    let outcome = checks::run(checks, truths);
    let mut st = shared.lock();
    st.violations.extend(outcome.violations);
    for (file_id, plain) in outcome.derived {
        if let Some(file) = st.files.get_mut(&file_id) {
            file.plain_key.get_or_insert(plain);
        }
    }
    Ok((node, share))
}

/// `PUT /uploads/{token}` (-> 201 Node) or `PUT /public/shares/uploads/{key}/{id}` (-> 201
/// `PublicUploadedFileData`).
pub(crate) fn complete(shared: &Arc<Shared>, req: &Req, channel: &Channel<'_>) -> ApiResult<Reply> {
    let body = json::parse_object(&req.body, true)?;
    let (node, share) = finish(shared, *channel, &body, false)?;
    let st = shared.lock();
    let file = st
        .files
        .get(&node)
        .ok_or_else(|| ApiError::not_found(code::NODE_NOT_FOUND, "the new node is gone"))?;
    if share {
        return Ok(Reply::json(
            201,
            &json!({"name": file.name, "size": file.content.len(), "createdAt": file.created_at}),
        ));
    }
    Ok(Reply::json(201, &st.file_json(file)))
}

/// `PUT /nodes/files/uploads/{id}/s3` or `PUT /public/shares/uploads/{key}/{id}/s3` -> 202.
pub(crate) fn complete_s3(
    shared: &Arc<Shared>,
    req: &Req,
    channel: &Channel<'_>,
) -> ApiResult<Reply> {
    let body = json::parse_object(&req.body, false)?;
    finish(shared, *channel, &body, true)?;
    Ok(Reply::empty(202))
}

/// `GET /nodes/files/uploads/{id}` (`S3FileUploadStatus`) or
/// `GET /public/shares/uploads/{key}/{id}` (`S3ShareUploadStatus`): `transfer`, then after
/// completion `finishing` once, then `done`.
pub(crate) fn status(shared: &Shared, channel: &Channel<'_>) -> ApiResult<Reply> {
    let mut st = shared.lock();
    let id = resolve(&st, *channel)?;
    let upload = st
        .uploads
        .get_mut(&id)
        .ok_or_else(|| upload_not_found(&id))?;
    let (status, node) = match upload.phase {
        Phase::Open => ("transfer", None),
        Phase::Finishing { node, polls_left } if polls_left > 0 => {
            upload.phase = Phase::Finishing {
                node,
                polls_left: polls_left - 1,
            };
            ("finishing", None)
        }
        Phase::Finishing { node, .. } | Phase::Done { node } => {
            upload.phase = Phase::Done { node };
            ("done", Some(node))
        }
    };
    let upload_name = upload.name.clone();
    let size = upload.final_size.or(upload.declared_size);
    let file = node.and_then(|n| st.files.get(&n));
    let body = match channel {
        Channel::Share { .. } => {
            let mut body = json!({
                "status": status,
                "fileName": file.map_or(upload_name, |f| f.name.clone()),
            });
            if let (Some(size), Value::Object(map)) = (size, &mut body) {
                map.insert("size".to_string(), json!(size));
            }
            body
        }
        _ => match file {
            Some(file) => json!({"status": status, "node": st.file_json(file)}),
            None => json!({"status": status}),
        },
    };
    Ok(Reply::json(200, &body))
}

/// `DELETE` of a channel -> 204; its data is discarded.
pub(crate) fn cancel(shared: &Shared, channel: &Channel<'_>) -> ApiResult<Reply> {
    let mut st = shared.lock();
    let id = resolve(&st, *channel)?;
    open_upload(&mut st, &id)?;
    if let Some(upload) = st.uploads.remove(&id) {
        st.upload_tokens.remove(&upload.token);
    }
    Ok(Reply::empty(204))
}

// ------------------------------------------------------------------------------------------
// S3

/// `POST .../s3_urls` (`GeneratePresignedUrlsRequest`) -> 201 `PresignedUrlList`.
pub(crate) fn s3_urls(shared: &Shared, req: &Req, channel: &Channel<'_>) -> ApiResult<Reply> {
    let body = json::parse_object(&req.body, false)?;
    let o = Obj::new(&body, "");
    let size = o.req_i64("size")?;
    let first = o.req_i32("firstPartNumber")?;
    let last = o.req_i32("lastPartNumber")?;
    let size = u64::try_from(size)
        .map_err(|_| ApiError::bad_request(code::INVALID_SIZE, "size must not be negative"))?;
    if first < 1 || last < first || last > 10_000 {
        return Err(ApiError::bad_request(
            code::INVALID_POSITIVE_NUMBER,
            format!("part numbers {first}..{last}: S3 parts are numbered 1..10000"),
        ));
    }
    let mut st = shared.lock();
    let id = resolve(&st, *channel)?;
    let base = st.base_url.clone();
    let upload = open_upload(&mut st, &id)?;
    if !upload.s3 {
        return Err(ApiError::not_found(
            code::S3_UPLOAD_NOT_FOUND,
            "this channel was not opened with directS3Upload",
        ));
    }
    let mut urls = Vec::new();
    for part in first..=last {
        let part = u32::try_from(part).unwrap_or(1);
        let signature = json::random_hex(32);
        upload.presigned.insert(signature.clone(), (part, size));
        urls.push(json!({
            "url": format!(
                "{base}/s3/{id}/{part}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature={signature}"
            ),
            "partNumber": part,
        }));
    }
    Ok(Reply::json(201, &json!({"urls": urls})))
}

/// An S3-style XML error.
fn s3_error(status: u16, code: &str, message: &str) -> Reply {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    Reply {
        status,
        headers: vec![("content-type", "application/xml".to_string())],
        body: Bytes::from(body),
    }
}

/// `PUT /s3/{upload_id}/{part}?...X-Amz-Signature=...`: stores a part, answers its ETag.
pub(crate) fn s3_part(shared: &Shared, req: &Req, rest: &str) -> ApiResult<Reply> {
    if req.method != "PUT" {
        return Ok(s3_error(
            405,
            "MethodNotAllowed",
            "only PUT goes to a presigned part URL",
        ));
    }
    if auth_header_on_s3(shared, req) {
        return Ok(s3_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter should be specified",
        ));
    }
    let Some((id, part)) = rest.split_once('/') else {
        return Ok(s3_error(404, "NoSuchKey", "not a part URL"));
    };
    let query = Query::parse(&req.query);
    let signature = query.get("X-Amz-Signature").unwrap_or("");
    let mut st = shared.lock();
    let mut problems = Vec::new();
    let reply = match st.uploads.get_mut(id) {
        Some(upload) if upload.phase == Phase::Open && upload.s3 => {
            match upload.presigned.get(signature).copied() {
                Some((number, size)) if part == number.to_string() => {
                    let data = req.body.clone();
                    if data.len() as u64 != size {
                        problems.push(format!(
                            "S3 part {number} of upload {id}: {} bytes sent to a URL presigned for {size}",
                            data.len()
                        ));
                        s3_error(
                            403,
                            "SignatureDoesNotMatch",
                            "Content-Length does not match the signature",
                        )
                    } else {
                        if let Some((old, _)) = upload.parts.get(&number)
                            && old != &data
                        {
                            problems.push(format!(
                                    "S3 part {number} of upload {id} uploaded twice with different bytes"
                                ));
                        }
                        let etag = json::hex(&Sha256::digest(&data)[..16]);
                        upload.parts.insert(number, (data, etag.clone()));
                        Reply::empty(200).with_header("etag", format!("\"{etag}\""))
                    }
                }
                _ => s3_error(
                    403,
                    "SignatureDoesNotMatch",
                    "unknown or mismatched signature",
                ),
            }
        }
        _ => s3_error(
            404,
            "NoSuchUpload",
            "the upload does not exist or is closed",
        ),
    };
    st.violations.extend(problems);
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 0-999/3980"),
            Some(ContentRange {
                start: 0,
                end: 999,
                total: Some(3980)
            })
        );
        assert_eq!(
            parse_content_range("bytes 10-19/*"),
            Some(ContentRange {
                start: 10,
                end: 19,
                total: None
            })
        );
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("0-9/10"), None);
        assert_eq!(parse_content_range("bytes 0-x/10"), None);
    }

    #[test]
    fn multipart() {
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nnope\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n\x02\r\n--XyZ--\r\n",
        );
        let part = multipart_file("multipart/form-data; boundary=XyZ", &body);
        assert_eq!(part.as_deref(), Some(&b"\x00\x01\r\n\x02"[..]));
        assert_eq!(
            multipart_file("multipart/form-data; boundary=Q", &body),
            None
        );
    }

    #[test]
    fn names() {
        assert!(check_name("report.pdf", "name").is_ok());
        for bad in ["", " ", "a/b", "a\\b", "..", "a\nb"] {
            assert!(check_name(bad, "name").is_err(), "{bad:?}");
        }
        assert_eq!(
            check_name(&"x".repeat(151), "name")
                .err()
                .and_then(|e| e.error_code),
            Some(code::MAX_LENGTH)
        );
    }
}
