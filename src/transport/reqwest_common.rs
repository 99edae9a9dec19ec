//! What both bundled reqwest adapters share: the redirect policy and the mapping of reqwest's
//! errors to [`TransportError`]s without URLs.

use crate::error::{TransportError, TransportErrorKind};

/// The most redirects the bundled adapters follow for one request (all within its origin).
pub(crate) const MAX_REDIRECTS: usize = 5;

/// Builds the bundled adapters' default client from a reqwest `ClientBuilder` (async or
/// blocking: the same methods): 30 s connect timeout, 5 min per request, no `Referer`,
/// [`same_origin_redirects`]. One place for these settings, so both adapters keep them.
macro_rules! default_client {
    ($builder:expr) => {
        $builder
            .connect_timeout(std::time::Duration::from_secs(30))
            .timeout(std::time::Duration::from_secs(300))
            .referer(false)
            .redirect($crate::transport::reqwest_common::same_origin_redirects())
            .build()
            .map_err($crate::transport::reqwest_common::map_error)
    };
}
pub(crate) use default_client;

/// The redirect policy of the bundled adapters: follow at most 5 redirects, and only to the
/// same origin (scheme, host and port) as the request; any other redirect is not followed
/// (the workflow then sees the 3xx answer and fails with an [`Error::Api`](crate::Error::Api)).
/// So neither the token in a download or upload URL's path nor an `Authorization` header
/// ever reaches another host through a redirect, and an `https://` request is never
/// redirected to `http://`.
///
/// Give it to a client you build yourself for [`ReqwestTransport::with_client`] (or the
/// blocking adapter's `with_client`), together with `.referer(false)`:
///
/// ```
/// # #[cfg(feature = "reqwest")] {
/// use dracoon_crypto::transport::{ReqwestTransport, same_origin_redirects};
///
/// let client = reqwest::Client::builder()
///     .referer(false)
///     .redirect(same_origin_redirects())
///     .build()
///     .unwrap();
/// let transport = ReqwestTransport::with_client(client);
/// # let _ = transport;
/// # }
/// ```
///
/// [`ReqwestTransport::with_client`]: super::ReqwestTransport::with_client
#[must_use]
pub fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt.previous().first().is_some_and(|first| {
            first.scheme() == attempt.url().scheme()
                && first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
        });
        // `previous()` holds the original URL and every hop so far.
        if !same || attempt.previous().len() > MAX_REDIRECTS {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// Maps a reqwest error to a [`TransportError`] without its URL.
pub(crate) fn map_error(e: reqwest::Error) -> TransportError {
    let kind = if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_builder() {
        TransportErrorKind::Other
    } else if e.is_request() || e.is_body() || e.is_decode() {
        TransportErrorKind::Io
    } else {
        TransportErrorKind::Other
    };
    chain_error(kind, &e.without_url())
}

/// A [`TransportError`] of `kind` from an error and its sources, with anything that looks
/// like a URL removed (reqwest errors that reach us through `std::io::Error` keep theirs).
pub(crate) fn chain_error(kind: TransportErrorKind, e: &dyn std::error::Error) -> TransportError {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    TransportError::new(kind, strip_urls(&message))
}

/// Belt and braces: replaces every word that looks like a URL (also in parentheses or
/// quotes) by `<url>`.
pub(crate) fn strip_urls(message: &str) -> String {
    message
        .split(' ')
        .map(|w| if w.contains("://") { "<url>" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_stripped_from_error_chains() {
        let inner = std::io::Error::other(
            "error decoding response body for url (https://h.example/dl/SECRET)",
        );
        let e = chain_error(TransportErrorKind::Io, &inner);
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(e.to_string().contains("<url>"), "{e}");
    }
}
