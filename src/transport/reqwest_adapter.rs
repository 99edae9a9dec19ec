//! The async adapter: reqwest with rustls.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::Transport;
use crate::error::{TransportError, TransportErrorKind};

/// A [`Transport`] over an async `reqwest::Client` (rustls TLS, no system OpenSSL). Needs a
/// tokio runtime (with timers) to run in.
///
/// Errors carry no URL: reqwest's errors are stripped of it before they are turned into a
/// [`TransportError`].
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport with a default client: 30 s connect timeout, 5 min per request.
    pub fn new() -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(map_error)?;
        Ok(ReqwestTransport { client })
    }

    /// A transport over a client configured by the caller.
    #[must_use]
    pub fn with_client(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }
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
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    TransportError::new(kind, strip_urls(&message))
}

/// Belt and braces: removes anything that looks like a URL from a message.
pub(crate) fn strip_urls(message: &str) -> String {
    message
        .split(' ')
        .map(|w| if w.contains("://") { "<url>" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Transport for ReqwestTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Bytes>, TransportError>> + Send {
        let client = self.client.clone();
        async move {
            let request = reqwest::Request::try_from(request).map_err(map_error)?;
            let response = client.execute(request).await.map_err(map_error)?;
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(h) = builder.headers_mut() {
                h.extend(response.headers().clone());
            }
            let body = response.bytes().await.map_err(map_error)?;
            builder
                .body(body)
                .map_err(|_| TransportError::new(TransportErrorKind::InvalidResponse, "bad answer"))
        }
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}
