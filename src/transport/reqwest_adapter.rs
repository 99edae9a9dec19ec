//! The async adapter: reqwest with rustls.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::reqwest_common::{default_client, map_error};
use super::{BodyLimit, Transport};
use crate::error::{TransportError, TransportErrorKind};

/// A [`Transport`] over an async `reqwest::Client` (rustls TLS, no system OpenSSL). Needs a
/// tokio runtime (with timers) to run in.
///
/// Errors carry no URL: reqwest's errors are stripped of it before they are turned into a
/// [`TransportError`]. Bodies are read incrementally and stop at the step's [`BodyLimit`]
/// (an answer whose `Content-Length` exceeds it is refused before its body is read).
/// [`Transport::offload`] runs on `tokio::task::spawn_blocking`.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport with a default client: 30 s connect timeout, 5 min per request, no
    /// `Referer`, redirects followed only within the same origin
    /// ([`same_origin_redirects`](super::same_origin_redirects)).
    pub fn new() -> Result<Self, TransportError> {
        let client = default_client!(reqwest::Client::builder())?;
        Ok(ReqwestTransport { client })
    }

    /// A transport over a client configured by the caller.
    ///
    /// **The client's redirect and `Referer` settings are the caller's.** reqwest's defaults
    /// follow up to 10 redirects to any host and send the previous URL as `Referer`, which
    /// leaks upload and download tokens (they are in the URL's path) to whatever host a
    /// redirect or a later request names. Build the client with `.referer(false)` and
    /// `.redirect(`[`same_origin_redirects`](super::same_origin_redirects)`())` (or
    /// `reqwest::redirect::Policy::none()`), as in the example there. Body limits and
    /// [`Transport::offload`] work whatever the client.
    #[must_use]
    pub fn with_client(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }
}

impl Transport for ReqwestTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
        limit: BodyLimit,
    ) -> impl Future<Output = Result<http::Response<Bytes>, TransportError>> + Send {
        let client = self.client.clone();
        async move {
            let request = reqwest::Request::try_from(request).map_err(map_error)?;
            let mut response = client.execute(request).await.map_err(map_error)?;
            if let Some(n) = response.content_length() {
                limit.check(n)?;
            }
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(h) = builder.headers_mut() {
                h.extend(response.headers().clone());
            }
            let mut body = bytes::BytesMut::new();
            while let Some(piece) = response.chunk().await.map_err(map_error)? {
                limit.check((body.len() + piece.len()) as u64)?;
                body.extend_from_slice(&piece);
            }
            builder
                .body(body.freeze())
                .map_err(|_| TransportError::new(TransportErrorKind::InvalidResponse, "bad answer"))
        }
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    async fn offload<R, F>(&self, work: F) -> Result<R, TransportError>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        // Outside a tokio runtime (where `spawn_blocking` would panic) the work runs inline.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Ok(work());
        };
        runtime.spawn_blocking(work).await.map_err(|e| {
            TransportError::new(
                TransportErrorKind::Other,
                if e.is_cancelled() {
                    "the runtime shut down before the work ran"
                } else {
                    "the offloaded work panicked"
                },
            )
        })
    }
}
