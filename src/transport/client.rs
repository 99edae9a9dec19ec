//! The client: base URL, token, retry policy, and the one place where requests are sent.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::models::ErrorResponse;
use super::retry::RetryPolicy;
use super::util::{retry_after, shorten};
use super::{BodyLimit, Transport, distribute::Skipped};
use crate::error::{Error, Result, TransportError, TransportErrorKind};

/// Something a workflow reports while it runs (for logs and progress displays).
///
/// Events never contain URLs, tokens, keys or passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A step failed transiently and is retried after `delay`.
    Retry {
        /// The step (e.g. `"upload chunk"`).
        step: &'static str,
        /// The retry number (1 for the first retry).
        attempt: u32,
        /// The back-off before it.
        delay: Duration,
        /// Why (`"HTTP 503"`, `"connection dropped: ..."`).
        reason: String,
    },
    /// A missing-key entry or a server list entry was skipped.
    Skipped(Skipped),
    /// Missing-key distribution progress: (file, user) pairs served so far in this run.
    Distributed {
        /// Pairs served so far.
        pairs: u64,
    },
}

/// Cancels a running upload or download from another thread or task: the workflow stops before
/// its next request, deletes an open upload channel and returns a
/// [`TransportErrorKind::Cancelled`] error.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag that is not set.
    #[must_use]
    pub fn new() -> Self {
        CancelFlag::default()
    }

    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether cancellation was requested.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Transport(TransportError::new(
                TransportErrorKind::Cancelled,
                "cancelled by the caller",
            )))
        } else {
            Ok(())
        }
    }
}

type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// A DRACOON API client over a [`Transport`]: every workflow is a method of it.
///
/// `base_url` is the server's base URL; the API lives under `{base_url}/api/v4`.
pub struct Client<T> {
    transport: T,
    base_url: String,
    api: String,
    token: Option<Zeroizing<String>>,
    pub(crate) retry: RetryPolicy,
    events: Option<EventSink>,
    pub(crate) s3_timeout: Duration,
}

impl<T> fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// The answer limit of steps whose answers only acknowledge (chunk uploads, S3 part uploads,
/// cancellations): 64 KiB, far above the small JSON (or S3 XML) these answers hold.
pub(crate) const ACK_LIMIT: BodyLimit = BodyLimit::bytes(64 * 1024);

/// Where a request goes.
#[derive(Clone)]
pub(crate) enum Target {
    /// A path under `/api/v4` (with query).
    Api(String),
    /// An absolute URL handed out by the server (upload/download URL, presigned S3 URL):
    /// never logged, never sent with the token.
    Url(String),
}

/// A request the client can send (and resend: the body is shared, never rebuilt).
#[derive(Clone)]
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) auth: bool,
    pub(crate) headers: Vec<(header::HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
    pub(crate) json: bool,
    pub(crate) idempotent: bool,
    /// A presigned storage URL: its answers are not DRACOON's and are not parsed.
    pub(crate) presigned: bool,
    /// The most bytes of answer body this step accepts.
    pub(crate) limit: BodyLimit,
    pub(crate) step: &'static str,
}

impl Call {
    /// An authenticated API call without body.
    pub(crate) fn api(method: Method, path: String, step: &'static str) -> Self {
        let idempotent = matches!(method, Method::GET | Method::PUT | Method::DELETE);
        Call {
            method,
            target: Target::Api(path),
            auth: true,
            headers: Vec::new(),
            body: Bytes::new(),
            json: false,
            idempotent,
            presigned: false,
            limit: BodyLimit::JSON,
            step,
        }
    }

    /// A call to an absolute URL from the server (no token).
    pub(crate) fn url(method: Method, url: String, step: &'static str) -> Self {
        Call {
            method,
            target: Target::Url(url),
            auth: false,
            headers: Vec::new(),
            body: Bytes::new(),
            json: false,
            idempotent: true,
            presigned: false,
            limit: BodyLimit::JSON,
            step,
        }
    }

    /// Accepts at most `limit` bytes of answer body.
    pub(crate) fn limit(mut self, limit: BodyLimit) -> Self {
        self.limit = limit;
        self
    }

    pub(crate) fn presigned(mut self) -> Self {
        self.presigned = true;
        self
    }

    pub(crate) fn public(mut self) -> Self {
        self.auth = false;
        self
    }

    pub(crate) fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    pub(crate) fn json<B: Serialize>(mut self, body: &B) -> Result<Self> {
        let v = serde_json::to_vec(body).map_err(|_| {
            Error::Transport(TransportError::new(
                TransportErrorKind::Other,
                "cannot serialize the request body",
            ))
        })?;
        self.body = Bytes::from(v);
        self.json = true;
        Ok(self)
    }

    pub(crate) fn body(mut self, body: Bytes) -> Self {
        self.body = body;
        self
    }

    pub(crate) fn header(mut self, name: header::HeaderName, value: &str) -> Result<Self> {
        let v = HeaderValue::from_str(value).map_err(|_| {
            Error::Transport(TransportError::new(
                TransportErrorKind::Other,
                "invalid header value",
            ))
        })?;
        self.headers.push((name, v));
        Ok(self)
    }
}

/// `https://`, or `http://` to a loopback host.
fn scheme_allowed(uri: &http::Uri) -> bool {
    match uri.scheme_str() {
        Some("https") => true,
        Some("http") => uri.host().is_some_and(is_loopback),
        _ => false,
    }
}

/// `localhost`, `127.0.0.0/8` or `::1` (as `[::1]` in a URI).
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(crate) fn invalid(step: &str, what: &str) -> Error {
    Error::Transport(TransportError::new(
        TransportErrorKind::InvalidResponse,
        format!("{step}: {what}"),
    ))
}

impl<T: Transport> Client<T> {
    /// A client for the server at `base_url` (e.g. `https://dracoon.example`; a trailing `/` is
    /// ignored). Without a token it can only use public endpoints (shares).
    ///
    /// The URL must be `https://`; plain `http://` (which would carry the bearer token and
    /// file keys' traffic in clear) only to a loopback host (`localhost`, `127.0.0.0/8`,
    /// `[::1]`), for tests. URLs the server hands out later (upload, download, S3) follow the
    /// same rule.
    ///
    /// ```
    /// use dracoon_crypto::transport::{Blocking, Client};
    /// use dracoon_crypto::{Error, TransportError};
    /// let t = |_r: http::Request<bytes::Bytes>| -> Result<http::Response<bytes::Bytes>, TransportError> {
    ///     Ok(http::Response::new(bytes::Bytes::new()))
    /// };
    /// assert!(Client::new(Blocking(t), "https://dracoon.example").is_ok());
    /// assert!(Client::new(Blocking(t), "http://127.0.0.1:8080").is_ok());
    /// assert!(matches!(
    ///     Client::new(Blocking(t), "http://dracoon.example"),
    ///     Err(Error::InvalidArgument(_))
    /// ));
    /// ```
    pub fn new(transport: T, base_url: &str) -> Result<Self> {
        let base = base_url.trim().trim_end_matches('/').to_owned();
        let uri = base
            .parse::<http::Uri>()
            .ok()
            .filter(|u| u.host().is_some());
        let Some(uri) = uri else {
            return Err(Error::InvalidArgument(
                "the server URL must be an https:// URL",
            ));
        };
        if !scheme_allowed(&uri) {
            return Err(Error::InvalidArgument(
                "the server URL must be https:// (http:// only to a loopback address)",
            ));
        }
        Ok(Client {
            transport,
            api: format!("{base}/api/v4"),
            base_url: base,
            token: None,
            retry: RetryPolicy::default(),
            events: None,
            s3_timeout: Duration::from_secs(600),
        })
    }

    /// Sends `Authorization: Bearer {token}` to the authenticated API endpoints (only there).
    #[must_use]
    pub fn with_auth_token(mut self, token: &str) -> Self {
        self.token = Some(Zeroizing::new(token.to_owned()));
        self
    }

    /// Uses another retry policy.
    #[must_use]
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Receives [`Event`]s (retries, skipped entries).
    #[must_use]
    pub fn with_event_handler(mut self, handler: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(handler));
        self
    }

    /// How long to wait at most for the server to finish an S3 upload (default 10 minutes).
    #[must_use]
    pub fn with_s3_timeout(mut self, timeout: Duration) -> Self {
        self.s3_timeout = timeout;
        self
    }

    /// The server's base URL.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub(crate) fn emit(&self, event: Event) {
        #[cfg(feature = "tracing")]
        match &event {
            Event::Retry {
                step,
                attempt,
                delay,
                reason,
            } => tracing::warn!(
                step,
                attempt,
                delay_ms = delay.as_millis() as u64,
                reason = %reason,
                "retrying"
            ),
            Event::Skipped(s) => tracing::warn!(
                file_id = s.file_id,
                user_id = s.user_id,
                reason = %s.reason,
                "skipped"
            ),
            Event::Distributed { pairs } => tracing::info!(pairs, "file keys distributed"),
        }
        if let Some(sink) = &self.events {
            sink(&event);
        }
    }

    /// Runs CPU-heavy or blocking `work` through the transport's [`Transport::offload`].
    pub(crate) async fn offload<R, F>(&self, work: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        Ok(self.transport.offload(work).await?)
    }

    pub(crate) async fn sleep(&self, d: Duration) {
        self.transport.sleep(d).await;
    }

    fn build(&self, call: &Call) -> Result<http::Request<Bytes>> {
        let uri = match &call.target {
            Target::Api(path) => format!("{}{}", self.api, path),
            Target::Url(url) => url.clone(),
        };
        let bad = || {
            Error::Transport(TransportError::new(
                TransportErrorKind::Other,
                format!("{}: cannot build the request", call.step),
            ))
        };
        let uri: http::Uri = uri.parse().map_err(|_| bad())?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(invalid(call.step, "the server handed out a non-HTTP URL"));
        }
        if !scheme_allowed(&uri) {
            return Err(invalid(
                call.step,
                "the server handed out an http:// URL to a non-loopback host",
            ));
        }
        let mut req = http::Request::builder()
            .method(call.method.clone())
            .uri(uri)
            .body(call.body.clone())
            .map_err(|_| bad())?;
        let h = req.headers_mut();
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if call.json {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        for (name, value) in &call.headers {
            h.insert(name.clone(), value.clone());
        }
        if let (true, Some(token)) = (call.auth, &self.token) {
            let mut v = HeaderValue::from_str(&format!("Bearer {}", token.as_str()))
                .map_err(|_| Error::InvalidArgument("the auth token is not a valid header"))?;
            v.set_sensitive(true);
            h.insert(header::AUTHORIZATION, v);
        }
        Ok(req)
    }

    /// Sends `call`, retrying as the policy allows; a 2xx answer is returned, anything else is
    /// an error. With feature `tracing`, in a `dracoon.request` span naming the step.
    pub(crate) async fn execute(&self, call: &Call) -> Result<http::Response<Bytes>> {
        #[cfg(feature = "tracing")]
        {
            use tracing::Instrument as _;
            let span = tracing::debug_span!(
                "dracoon.request",
                step = call.step,
                method = %call.method,
                request_bytes = call.body.len()
            );
            self.execute_inner(call).instrument(span).await
        }
        #[cfg(not(feature = "tracing"))]
        self.execute_inner(call).await
    }

    async fn execute_inner(&self, call: &Call) -> Result<http::Response<Bytes>> {
        let mut retry = 0u32;
        loop {
            let request = self.build(call)?;
            let answer = self
                .transport
                .send(request, call.limit)
                .await
                // Whatever the transport did, no workflow sees more than the step asked for.
                .and_then(|resp| call.limit.check(resp.body().len() as u64).map(|()| resp));
            #[cfg(feature = "tracing")]
            match &answer {
                Ok(resp) => tracing::debug!(
                    status = resp.status().as_u16(),
                    response_bytes = resp.body().len(),
                    "answer"
                ),
                Err(e) => tracing::debug!(kind = ?e.kind(), error = %e, "no answer"),
            }
            let (err, retryable, after) = match answer {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS
                        || (status.is_server_error() && call.idempotent);
                    let after = retry_after(resp.headers());
                    (self.api_error(call, &resp), retryable, after)
                }
                Err(e) => {
                    let retryable = match e.kind() {
                        TransportErrorKind::Connect => true,
                        TransportErrorKind::Timeout | TransportErrorKind::Io => call.idempotent,
                        _ => false,
                    };
                    (Error::Transport(e), retryable, None)
                }
            };
            if !retryable || retry >= self.retry.max_retries {
                return Err(err);
            }
            let delay = self.retry.delay(retry, after);
            retry += 1;
            let reason = match &err {
                Error::Api { status, .. } => format!("HTTP {status}"),
                other => other.to_string(),
            };
            self.emit(Event::Retry {
                step: call.step,
                attempt: retry,
                delay,
                reason,
            });
            self.sleep(delay).await;
        }
    }

    fn api_error(&self, call: &Call, resp: &http::Response<Bytes>) -> Error {
        let status = resp.status();
        let fallback = status.canonical_reason().unwrap_or("error").to_owned();
        // Answers of presigned URLs (S3 XML, ...) are not parsed: they may echo the URL.
        let parsed = if call.presigned {
            None
        } else {
            serde_json::from_slice::<ErrorResponse>(resp.body()).ok()
        };
        let (code, message) = match parsed {
            Some(e) => (
                e.error_code,
                e.message
                    .filter(|m| !m.is_empty())
                    .map_or(fallback, |m| shorten(&m, 200)),
            ),
            None => (None, fallback),
        };
        Error::Api {
            status: status.as_u16(),
            code,
            message: format!("{} ({})", message, call.step),
        }
    }

    /// Sends `call` and parses the JSON answer.
    pub(crate) async fn call_json<R: DeserializeOwned>(&self, call: &Call) -> Result<R> {
        let resp = self.execute(call).await?;
        serde_json::from_slice(resp.body())
            .map_err(|_| invalid(call.step, "the answer is not the JSON the API defines"))
    }

    /// Sends `call` and ignores the answer's body.
    pub(crate) async fn call_empty(&self, call: &Call) -> Result<()> {
        self.execute(call).await.map(|_| ())
    }
}
