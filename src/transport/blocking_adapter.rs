//! The blocking adapter: reqwest's blocking client with rustls.

use std::io::Read;

use bytes::Bytes;

use super::reqwest_common::{chain_error, default_client, map_error};
use super::{BlockingTransport, BodyLimit};
use crate::error::{TransportError, TransportErrorKind};

/// A [`BlockingTransport`] over `reqwest::blocking::Client` (rustls TLS). Use it as
/// `Blocking(BlockingReqwestTransport::new()?)` and drive workflows with
/// [`super::block_on`]. Do not create or use it inside an async runtime.
#[derive(Debug, Clone)]
pub struct BlockingReqwestTransport {
    client: reqwest::blocking::Client,
}

impl BlockingReqwestTransport {
    /// A transport with a default client: 30 s connect timeout, 5 min per request, no
    /// `Referer`, redirects followed only within the same origin
    /// ([`same_origin_redirects`](super::same_origin_redirects)). Bodies stop at the step's
    /// [`BodyLimit`].
    pub fn new() -> Result<Self, TransportError> {
        let client = default_client!(reqwest::blocking::Client::builder())?;
        Ok(BlockingReqwestTransport { client })
    }

    /// A transport over a client configured by the caller.
    ///
    /// **The client's redirect and `Referer` settings are the caller's**: reqwest's defaults
    /// follow redirects to any host and send the previous URL (with its token) as `Referer`.
    /// Build it with `.referer(false)` and
    /// `.redirect(`[`same_origin_redirects`](super::same_origin_redirects)`())` (or
    /// `reqwest::redirect::Policy::none()`). Body limits apply whatever the client.
    #[must_use]
    pub fn with_client(client: reqwest::blocking::Client) -> Self {
        BlockingReqwestTransport { client }
    }
}

impl BlockingTransport for BlockingReqwestTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
        limit: BodyLimit,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let (parts, body) = request.into_parts();
        let url = parts.uri.to_string();
        let mut builder = self.client.request(parts.method, url.as_str());
        builder = builder.headers(parts.headers).body(body);
        let response = builder.send().map_err(map_error)?;
        let mut out = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(h) = out.headers_mut() {
            h.extend(response.headers().clone());
        }
        if let Some(n) = response.content_length() {
            limit.check(n)?;
        }
        let mut body = Vec::new();
        response
            .take(limit.get().saturating_add(1))
            .read_to_end(&mut body)
            // reqwest's errors come back inside `std::io::Error`, with their URL.
            .map_err(|e| {
                let kind = if e.kind() == std::io::ErrorKind::TimedOut {
                    TransportErrorKind::Timeout
                } else {
                    TransportErrorKind::Io
                };
                chain_error(kind, &e)
            })?;
        limit.check(body.len() as u64)?;
        out.body(Bytes::from(body))
            .map_err(|_| TransportError::new(TransportErrorKind::InvalidResponse, "bad answer"))
    }
}
