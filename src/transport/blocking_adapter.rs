//! The blocking adapter: reqwest's blocking client with rustls.

use std::time::Duration;

use bytes::Bytes;

use std::io::Read;

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
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(300))
            .referer(false)
            .redirect(super::same_origin_redirects())
            .build()
            .map_err(map_error)?;
        Ok(BlockingReqwestTransport { client })
    }

    /// A transport over a client configured by the caller: its redirect and `Referer`
    /// settings are the caller's (see [`ReqwestTransport::with_client`](super::ReqwestTransport::with_client)
    /// with feature `reqwest` for what to set).
    #[must_use]
    pub fn with_client(client: reqwest::blocking::Client) -> Self {
        BlockingReqwestTransport { client }
    }
}

fn map_error(e: reqwest::Error) -> TransportError {
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
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    let message = message
        .split(' ')
        .map(|w| if w.contains("://") { "<url>" } else { w })
        .collect::<Vec<_>>()
        .join(" ");
    TransportError::new(kind, message)
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
            .map_err(|e| TransportError::new(TransportErrorKind::Io, e.to_string()))?;
        limit.check(body.len() as u64)?;
        out.body(Bytes::from(body))
            .map_err(|_| TransportError::new(TransportErrorKind::InvalidResponse, "bad answer"))
    }
}
