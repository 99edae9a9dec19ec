//! Request validation against the spec's shapes, the DRACOON `ErrorResponse`, and the small
//! JSON helpers (timestamps, ids) the handlers share.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// DRACOON error codes used by the server (all from `dracoon-crypto-api.yaml`).
pub(crate) mod code {
    pub(crate) const NOT_AUTHORIZED: i32 = -10006;
    pub(crate) const WRONG_TOKEN: i32 = -10012;
    pub(crate) const UPLOAD_NOT_FOUND: i32 = -20501;
    pub(crate) const INVALID_TOKEN: i32 = -20502;
    pub(crate) const UPLOAD_CLOSED: i32 = -20503;
    pub(crate) const CONTAINER_NOT_FOUND: i32 = -40000;
    pub(crate) const ROOM_NOT_ENCRYPTED: i32 = -40001;
    pub(crate) const ROOM_WITH_FILES_CANNOT_BE_UNENCRYPTED: i32 = -40003;
    pub(crate) const ONE_ROOM_RESCUE_KEY: i32 = -40004;
    pub(crate) const NO_ROOM_RESCUE_KEY: i32 = -40007;
    pub(crate) const ROOM_WITH_FILES_CANNOT_BE_ENCRYPTED: i32 = -40008;
    pub(crate) const CANNOT_OVERWRITE: i32 = -40010;
    pub(crate) const ROOM_RESCUE_KEY_NOT_CONFIGURED: i32 = -40024;
    pub(crate) const FILE_NOT_FOUND: i32 = -40751;
    pub(crate) const BAD_NODE_NAME: i32 = -40755;
    pub(crate) const BAD_CLASSIFICATION: i32 = -40756;
    pub(crate) const FILE_KEY_NOT_FOUND: i32 = -40761;
    pub(crate) const FILE_KEY_REQUIRED: i32 = -40763;
    pub(crate) const NODE_NOT_FOUND: i32 = -41000;
    pub(crate) const DOWNLOAD_SHARE_NOT_FOUND: i32 = -50000;
    pub(crate) const DOWNLOADS_LIMIT_REACHED: i32 = -50002;
    pub(crate) const SHARE_PASSWORD_ON_ENCRYPTED: i32 = -50003;
    pub(crate) const SHARE_FILE_KEY_REQUIRED: i32 = -50005;
    pub(crate) const SHARE_KEY_PAIR_REQUIRED: i32 = -50006;
    pub(crate) const SHARE_KEYS_IN_UNENCRYPTED_ROOM: i32 = -50007;
    pub(crate) const ENCRYPTION_PASSWORD_SENT: i32 = -50008;
    pub(crate) const WRONG_SHARE_PASSWORD: i32 = -50009;
    pub(crate) const UPLOAD_SHARE_NOT_FOUND: i32 = -50501;
    pub(crate) const ILLEGAL_RESOLUTION_STRATEGY: i32 = -50503;
    pub(crate) const NO_ROOM_USER_HAS_KEY_PAIR: i32 = -50505;
    pub(crate) const NO_KEY_PAIR: i32 = -70020;
    pub(crate) const ALREADY_HAS_KEY_PAIR: i32 = -70021;
    pub(crate) const INVALID_PUBLIC_KEY: i32 = -70022;
    pub(crate) const INVALID_PRIVATE_KEY: i32 = -70023;
    pub(crate) const CUSTOMER_ENCRYPTION_ALREADY_ENABLED: i32 = -70025;
    pub(crate) const USER_NOT_FOUND: i32 = -70501;
    pub(crate) const MANDATORY_FIELD: i32 = -80000;
    pub(crate) const INVALID_POSITIVE_NUMBER: i32 = -80001;
    pub(crate) const INVALID_NUMBER: i32 = -80002;
    pub(crate) const INVALID_BOOLEAN: i32 = -80005;
    pub(crate) const MAX_LENGTH: i32 = -80007;
    pub(crate) const BAD_CONTENT_RANGE: i32 = -80021;
    pub(crate) const INVALID_RANGE_PARAMETERS: i32 = -80024;
    pub(crate) const KEEP_SHARE_LINKS_NEEDS_OVERWRITE: i32 = -80034;
    pub(crate) const EXCEEDS_GCM_LIMIT: i32 = -80037;
    pub(crate) const INVALID_ETAGS: i32 = -80045;
    pub(crate) const INVALID_SIZE: i32 = -80046;
    pub(crate) const INVALID_FILE_KEY: i32 = -80062;
    pub(crate) const S3_DISABLED: i32 = -90030;
    pub(crate) const S3_ENFORCED: i32 = -90033;
    pub(crate) const S3_UPLOAD_NOT_FOUND: i32 = -90034;
    pub(crate) const INVALID_PARAMETER: i32 = -92001;
}

/// An error answer: HTTP status plus DRACOON `errorCode` (`None` where the spec says `null`).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) error_code: Option<i32>,
    pub(crate) debug: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, error_code: i32, debug: impl Into<String>) -> Self {
        ApiError {
            status,
            error_code: Some(error_code),
            debug: debug.into(),
        }
    }

    /// An error whose `errorCode` is `null`.
    pub(crate) fn plain(status: u16, debug: impl Into<String>) -> Self {
        ApiError {
            status,
            error_code: None,
            debug: debug.into(),
        }
    }

    pub(crate) fn bad_request(error_code: i32, debug: impl Into<String>) -> Self {
        Self::new(400, error_code, debug)
    }

    pub(crate) fn not_found(error_code: i32, debug: impl Into<String>) -> Self {
        Self::new(404, error_code, debug)
    }

    /// 403 "Insufficient rights to perform the operation" (`errorCode` null).
    pub(crate) fn forbidden(debug: impl Into<String>) -> Self {
        Self::plain(403, debug)
    }

    /// The `ErrorResponse` body.
    pub(crate) fn body(&self) -> Value {
        error_body(self.status, self.error_code, &self.debug)
    }
}

/// A DRACOON `ErrorResponse`: `{code, message, debugInfo, errorCode}`.
pub(crate) fn error_body(status: u16, error_code: Option<i32>, debug: &str) -> Value {
    json!({
        "code": status,
        "message": reason(status),
        "debugInfo": debug,
        "errorCode": error_code,
    })
}

/// The HTTP status description DRACOON puts into `message`.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        507 => "Insufficient Storage",
        _ => "Error",
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Parses a request body that must be a JSON object. An empty body is an error unless
/// `optional`, in which case it reads as `{}`.
pub(crate) fn parse_object(body: &[u8], optional: bool) -> ApiResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if optional {
            Ok(Map::new())
        } else {
            Err(ApiError::bad_request(
                code::MANDATORY_FIELD,
                "request body (JSON object) is required",
            ))
        };
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::plain(400, "request body must be a JSON object")),
        Err(e) => Err(ApiError::plain(400, format!("malformed JSON: {e}"))),
    }
}

/// Typed access to the fields of a JSON object, with the spec's error codes: a missing required
/// field is `-80000`, a value that is not an integer `-80002`, not a boolean `-80005`; `null`
/// counts as absent; unknown fields are ignored.
#[derive(Clone, Copy)]
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    /// Path of this object in the request, for messages (`""` for the body itself).
    at: &'a str,
}

impl<'a> Obj<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>, at: &'a str) -> Self {
        Obj { map, at }
    }

    fn name(&self, field: &str) -> String {
        if self.at.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.at)
        }
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn missing(&self, field: &str) -> ApiError {
        ApiError::bad_request(
            code::MANDATORY_FIELD,
            format!("{} is required", self.name(field)),
        )
    }

    pub(crate) fn opt_i64(&self, field: &str) -> ApiResult<Option<i64>> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                ApiError::bad_request(
                    code::INVALID_NUMBER,
                    format!("{} must be an int64 integer", self.name(field)),
                )
            }),
        }
    }

    pub(crate) fn req_i64(&self, field: &str) -> ApiResult<i64> {
        self.opt_i64(field)?.ok_or_else(|| self.missing(field))
    }

    pub(crate) fn opt_i32(&self, field: &str) -> ApiResult<Option<i32>> {
        match self.opt_i64(field)? {
            None => Ok(None),
            Some(v) => i32::try_from(v).map(Some).map_err(|_| {
                ApiError::bad_request(
                    code::INVALID_NUMBER,
                    format!("{} must be an int32 integer", self.name(field)),
                )
            }),
        }
    }

    pub(crate) fn req_i32(&self, field: &str) -> ApiResult<i32> {
        self.opt_i32(field)?.ok_or_else(|| self.missing(field))
    }

    /// An optional int64 that must not be negative (`-80001`).
    pub(crate) fn opt_size(&self, field: &str) -> ApiResult<Option<u64>> {
        match self.opt_i64(field)? {
            None => Ok(None),
            Some(v) => u64::try_from(v).map(Some).map_err(|_| {
                ApiError::bad_request(
                    code::INVALID_POSITIVE_NUMBER,
                    format!("{} must not be negative", self.name(field)),
                )
            }),
        }
    }

    pub(crate) fn opt_str(&self, field: &str) -> ApiResult<Option<&'a str>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(ApiError::plain(
                400,
                format!("{} must be a string", self.name(field)),
            )),
        }
    }

    pub(crate) fn req_str(&self, field: &str) -> ApiResult<&'a str> {
        self.opt_str(field)?.ok_or_else(|| self.missing(field))
    }

    pub(crate) fn opt_bool(&self, field: &str) -> ApiResult<Option<bool>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::bad_request(
                code::INVALID_BOOLEAN,
                format!("{} must be a boolean", self.name(field)),
            )),
        }
    }

    pub(crate) fn req_bool(&self, field: &str) -> ApiResult<bool> {
        self.opt_bool(field)?.ok_or_else(|| self.missing(field))
    }

    pub(crate) fn opt_obj(&self, field: &str) -> ApiResult<Option<&'a Map<String, Value>>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(ApiError::plain(
                400,
                format!("{} must be an object", self.name(field)),
            )),
        }
    }

    pub(crate) fn req_obj(&self, field: &str) -> ApiResult<&'a Map<String, Value>> {
        self.opt_obj(field)?.ok_or_else(|| self.missing(field))
    }

    pub(crate) fn opt_array(&self, field: &str) -> ApiResult<Option<&'a Vec<Value>>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(ApiError::plain(
                400,
                format!("{} must be an array", self.name(field)),
            )),
        }
    }

    pub(crate) fn req_array(&self, field: &str) -> ApiResult<&'a Vec<Value>> {
        self.opt_array(field)?.ok_or_else(|| self.missing(field))
    }

    /// An optional string that must be one of `allowed`; otherwise `error_code`.
    pub(crate) fn opt_enum(
        &self,
        field: &str,
        allowed: &[&'static str],
        error_code: i32,
    ) -> ApiResult<Option<&'static str>> {
        match self.opt_str(field)? {
            None => Ok(None),
            Some(s) => allowed
                .iter()
                .find(|a| **a == s)
                .copied()
                .map(Some)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        error_code,
                        format!("{} must be one of {allowed:?}", self.name(field)),
                    )
                }),
        }
    }

    /// An optional RFC 3339 `date-time` string.
    pub(crate) fn opt_date_time(&self, field: &str) -> ApiResult<Option<&'a str>> {
        let s = self.opt_str(field)?;
        if let Some(s) = s
            && !is_date_time(s)
        {
            return Err(ApiError::plain(
                400,
                format!("{} must be an RFC 3339 date-time", self.name(field)),
            ));
        }
        Ok(s)
    }
}

/// Elements of a JSON array that must all be objects.
pub(crate) fn objects<'a>(items: &'a [Value], at: &str) -> ApiResult<Vec<&'a Map<String, Value>>> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(m) => Ok(m),
            _ => Err(ApiError::plain(400, format!("{at}[{i}] must be an object"))),
        })
        .collect()
}

/// Whether `s` has the RFC 3339 `date-time` shape (`2024-05-01T12:00:00Z`, optional fraction,
/// `Z` or `±hh:mm`).
pub(crate) fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len() && digits(i + 1..i + 3) && b[i + 3] == b':' && digits(i + 4..i + 6)
        }
        _ => false,
    }
}

/// The current time as RFC 3339 UTC with milliseconds, as DRACOON writes it.
pub(crate) fn now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// Parses a query string into decoded `(name, value)` pairs.
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters of one request, with typed access and the spec's error codes.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(query: &str) -> Self {
        Query(query_pairs(query))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An optional integer parameter (`-80002` when it is not one).
    pub(crate) fn opt_i64(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(
                    code::INVALID_NUMBER,
                    format!("query parameter {name} must be an integer"),
                )
            }),
        }
    }
}

/// A fresh random lower-case hex string of `bytes` random bytes.
pub(crate) fn random_hex(bytes: usize) -> String {
    use rand::TryRng as _;
    let mut buf = vec![0u8; bytes];
    if rand::rngs::SysRng.try_fill_bytes(&mut buf).is_err() {
        // The OS RNG failing is not worth a panic in a test server: fall back to time + counter.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> ((i % 16) * 8)) as u8 ^ (n >> ((i % 8) * 8)) as u8;
        }
    }
    hex(&buf)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times() {
        for ok in [
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00.123Z",
            "2024-05-01T12:00:00+02:00",
            "2024-05-01t12:00:00.5-01:30",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00.Z",
            "2024-05-01 12:00:00Z",
            "2024-05-01T12:00:00+0200",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
        assert!(is_date_time(&now()), "{}", now());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn queries() {
        let q = Query::parse("offset=0&limit=100&use_key=room_rescue_key&x=%41%2");
        assert_eq!(q.get("use_key"), Some("room_rescue_key"));
        assert_eq!(q.opt_i64("limit").ok(), Some(Some(100)));
        assert_eq!(q.get("x"), Some("A%2"));
        assert!(q.opt_i64("use_key").is_err());
        assert_eq!(q.opt_i64("missing").ok(), Some(None));
    }
}
