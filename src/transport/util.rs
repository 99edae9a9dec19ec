//! Small helpers: path segment encoding, header parsing, RFC 3339 time.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters). The
/// empty segment and the dot segments `.` and `..` are refused: they would turn an
/// authenticated call into one to another API path (`.../uploads/..` is `.../files`), and
/// percent-encoding them does not help against servers that decode before normalising.
pub(crate) fn seg(s: &str) -> crate::error::Result<String> {
    if s.is_empty() || s == "." || s == ".." {
        return Err(crate::error::Error::Transport(
            crate::error::TransportError::new(
                crate::error::TransportErrorKind::InvalidResponse,
                "an identifier for a URL path is empty, `.` or `..`",
            ),
        ));
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Ok(out)
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: then the back-off applies).
pub(crate) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: u64 = v.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

/// Parses `bytes START-END/TOTAL` (TOTAL may be `*`).
pub(crate) fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    if end < start {
        return None;
    }
    Some((start, end, total))
}

/// A point in time as RFC 3339 UTC (`2024-05-06T07:08:09Z`), for upload timestamps.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use dracoon_crypto::transport::rfc3339;
/// assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
/// ```
#[must_use]
pub fn rfc3339(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX / 2),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (proleptic Gregorian), after H. Hinnant's public-domain algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Shortens a server message for an error, and replaces every control character (C0, DEL,
/// C1: terminal escape sequences, line breaks, ...) by a space, so that a server cannot write
/// to the user's terminal through an error message.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_lose_control_characters() {
        let hostile = "ok\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nnext\u{9b}31m\u{7f}";
        let clean = shorten(hostile, 200);
        assert!(!clean.chars().any(char::is_control), "{clean:?}");
        assert_eq!(clean, "ok ]0;pwned  [2J  next 31m ");
        assert_eq!(shorten("äöü", 2), "äö");
    }

    #[test]
    fn segments_and_ranges() {
        assert_eq!(seg("abc-DEF_1.~").unwrap(), "abc-DEF_1.~");
        assert_eq!(seg("a/b c?").unwrap(), "a%2Fb%20c%3F");
        assert_eq!(seg("...").unwrap(), "...");
        assert_eq!(seg("%2e%2e").unwrap(), "%252e%252e");
        for bad in ["", ".", ".."] {
            assert!(
                matches!(seg(bad), Err(crate::Error::Transport(ref e)) if e.kind() == crate::TransportErrorKind::InvalidResponse),
                "{bad:?} must be refused"
            );
        }
        assert_eq!(
            parse_content_range("bytes 0-999/3980"),
            Some((0, 999, Some(3980)))
        );
        assert_eq!(parse_content_range("bytes 5-5/*"), Some((5, 5, None)));
        assert_eq!(parse_content_range("bytes 9-5/10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            "2023-11-14T22:13:20Z"
        );
    }
}
