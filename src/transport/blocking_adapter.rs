//! The blocking adapter: reqwest's blocking client with rustls.

use std::time::Duration;

use bytes::Bytes;

use super::BlockingTransport;
use crate::error::{TransportError, TransportErrorKind};

/// A [`BlockingTransport`] over `reqwest::blocking::Client` (rustls TLS). Use it as
/// `Blocking(BlockingReqwestTransport::new()?)` and drive workflows with
/// [`super::block_on`]. Do not create or use it inside an async runtime.
#[derive(Debug, Clone)]
pub struct BlockingReqwestTransport {
    client: reqwest::blocking::Client,
}

impl BlockingReqwestTransport {
    /// A transport with a default client: 30 s connect timeout, 5 min per request.
    pub fn new() -> Result<Self, TransportError> {
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(map_error)?;
        Ok(BlockingReqwestTransport { client })
    }

    /// A transport over a client configured by the caller.
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
    fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, TransportError> {
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
        let body = response.bytes().map_err(map_error)?;
        out.body(body)
            .map_err(|_| TransportError::new(TransportErrorKind::InvalidResponse, "bad answer"))
    }
}
