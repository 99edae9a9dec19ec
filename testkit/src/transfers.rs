//! File keys for readers and downloads: `GET /nodes/files/{id}/user_file_key`, the deprecated
//! rescue-key variants, `POST /nodes/files/{id}/downloads` and `GET /downloads/{token}` with
//! Range support.

use serde_json::json;

use super::Shared;
use super::content::Content;
use super::json::{self, ApiError, ApiResult, code};
use super::keypairs::version_param;
use super::model::{Reply, Req};
use super::state::{DownloadToken, FileNode, Holder, State};

/// The file, which the caller must be allowed to read (member of its room).
pub(crate) fn readable_file(st: &State, user: i64, file_id: i64) -> ApiResult<&FileNode> {
    let file = st
        .files
        .get(&file_id)
        .ok_or_else(|| ApiError::not_found(code::FILE_NOT_FOUND, format!("no file {file_id}")))?;
    if !st
        .rooms
        .get(&file.room_id)
        .is_some_and(|r| r.members.contains(&user))
    {
        return Err(ApiError::forbidden(format!(
            "user {user} may not read file {file_id}"
        )));
    }
    Ok(file)
}

fn key_reply(st: &State, file: &FileNode, holder: Holder, req: &Req) -> ApiResult<Reply> {
    let version = version_param(req)?;
    let key = st.file_key_for(file, holder, version).ok_or_else(|| {
        ApiError::not_found(
            code::FILE_KEY_NOT_FOUND,
            format!("no file key for {} on file {}", holder.describe(), file.id),
        )
    })?;
    Ok(Reply::json(
        200,
        &serde_json::to_value(key).unwrap_or_default(),
    ))
}

/// `GET /nodes/files/{file_id}/user_file_key[?version=]`.
pub(crate) fn user_file_key(
    shared: &Shared,
    req: &Req,
    user: i64,
    file_id: i64,
) -> ApiResult<Reply> {
    let st = shared.lock();
    let file = readable_file(&st, user, file_id)?;
    if st
        .users
        .get(&user)
        .is_none_or(|u| u.keys.entries.is_empty())
    {
        return Err(ApiError::new(
            403,
            code::NO_KEY_PAIR,
            "user does not have a keypair",
        ));
    }
    key_reply(&st, file, Holder::User(user), req)
}

/// `GET /nodes/files/{file_id}/data_room_file_key` / `data_space_file_key` (deprecated).
pub(crate) fn rescue_file_key(
    shared: &Shared,
    req: &Req,
    user: i64,
    file_id: i64,
    room: bool,
) -> ApiResult<Reply> {
    let st = shared.lock();
    let file = readable_file(&st, user, file_id)?;
    let holder = if room {
        Holder::RoomRescue(file.room_id)
    } else {
        Holder::SystemRescue
    };
    key_reply(&st, file, holder, req)
}

/// `POST /nodes/files/{file_id}/downloads` -> `{downloadUrl}`.
pub(crate) fn create_download(shared: &Shared, user: i64, file_id: i64) -> ApiResult<Reply> {
    let mut st = shared.lock();
    readable_file(&st, user, file_id)?;
    let token = json::random_hex(24);
    st.downloads
        .insert(token.clone(), DownloadToken { file_id });
    let url = format!("{}/api/v4/downloads/{token}", st.base_url);
    Ok(Reply::json(200, &json!({"downloadUrl": url})))
}

/// `GET /downloads/{token}`.
pub(crate) fn download(shared: &Shared, req: &Req, token: &str) -> ApiResult<Reply> {
    let content = {
        let st = shared.lock();
        let target = st
            .downloads
            .get(token)
            .ok_or_else(|| ApiError::new(401, code::INVALID_TOKEN, "invalid download token"))?;
        st.files
            .get(&target.file_id)
            .ok_or_else(|| ApiError::not_found(code::FILE_NOT_FOUND, "the file is gone"))?
            .content
            .clone()
    };
    ranged(content, req.header("range"))
}

/// Serves `content` whole (200) or the one range asked for (206 with Content-Range);
/// `bytes=a-b`, `bytes=a-` and `bytes=-n` are understood; anything else, several ranges, or
/// a range outside the content is 416.
pub(crate) fn ranged(content: Content, range: Option<&str>) -> ApiResult<Reply> {
    let len = content.len();
    let Some(range) = range else {
        return Ok(Reply::binary(200, content.to_bytes())
            .with_header("accept-ranges", "bytes")
            .with_header("content-disposition", "attachment"));
    };
    let unsatisfiable =
        |why: &str| Err::<Reply, _>(ApiError::plain(416, format!("Range {range:?}: {why}")));
    let Some(spec) = range.trim().strip_prefix("bytes=") else {
        return unsatisfiable("only byte ranges are supported");
    };
    if spec.contains(',') {
        return unsatisfiable("only one range per request is supported");
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return unsatisfiable("malformed range");
    };
    let parse = |s: &str| s.trim().parse::<usize>().ok();
    let (start, end) = match (a.trim().is_empty(), b.trim().is_empty()) {
        // bytes=-n: the last n bytes.
        (true, false) => match parse(b) {
            Some(n) if n > 0 && len > 0 => (len.saturating_sub(n), len - 1),
            _ => return unsatisfiable("empty suffix range"),
        },
        (false, true) => match parse(a) {
            Some(start) => (start, len.saturating_sub(1)),
            None => return unsatisfiable("malformed range"),
        },
        (false, false) => match (parse(a), parse(b)) {
            (Some(start), Some(end)) if start <= end => (start, end.min(len.saturating_sub(1))),
            _ => return unsatisfiable("malformed range"),
        },
        (true, true) => return unsatisfiable("malformed range"),
    };
    if start >= len {
        let error = ApiError::plain(416, format!("Range {range:?} starts beyond {len} bytes"));
        return Ok(Reply::error(&error).with_header("content-range", format!("bytes */{len}")));
    }
    Ok(Reply::binary(206, content.slice(start, end + 1))
        .with_header("accept-ranges", "bytes")
        .with_header("content-range", format!("bytes {start}-{end}/{len}"))
        .with_header("content-disposition", "attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn header<'a>(r: &'a Reply, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn ranges() {
        // In two pieces, as a chunked upload stores it: ranges may cross them.
        let content =
            Content::from_parts([Bytes::from_static(b"0123"), Bytes::from_static(b"456789")]);
        let r = ranged(content.clone(), None).ok().unwrap();
        assert_eq!((r.status, &r.body[..]), (200, &b"0123456789"[..]));
        let r = ranged(content.clone(), Some("bytes=2-4")).ok().unwrap();
        assert_eq!((r.status, &r.body[..]), (206, &b"234"[..]));
        assert_eq!(header(&r, "content-range"), Some("bytes 2-4/10"));
        let r = ranged(content.clone(), Some("bytes=7-")).ok().unwrap();
        assert_eq!(&r.body[..], b"789");
        let r = ranged(content.clone(), Some("bytes=-3")).ok().unwrap();
        assert_eq!(&r.body[..], b"789");
        let r = ranged(content.clone(), Some("bytes=8-100")).ok().unwrap();
        assert_eq!(header(&r, "content-range"), Some("bytes 8-9/10"));
        let r = ranged(content.clone(), Some("bytes=10-")).ok().unwrap();
        assert_eq!(r.status, 416);
        assert_eq!(header(&r, "content-range"), Some("bytes */10"));
        for bad in [
            "bytes=4-2",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=-",
            "bytes=x-",
        ] {
            assert_eq!(
                ranged(content.clone(), Some(bad)).err().map(|e| e.status),
                Some(416),
                "{bad}"
            );
        }
        assert_eq!(
            ranged(Content::default(), Some("bytes=0-0"))
                .ok()
                .map(|r| r.status),
            Some(416)
        );
    }
}
