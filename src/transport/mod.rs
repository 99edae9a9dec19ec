//! Talking to a DRACOON server: the transport abstraction, the API models and the encrypted
//! workflows (missing-file-key distribution, chunked and S3 uploads, downloads, shares, rescue
//! keys). Feature `transport`; the bundled HTTP adapters are behind `reqwest` (async) and
//! `blocking`.
//!
//! # Architecture: async workflows, one tiny blocking driver
//!
//! Every workflow is written **once**, as an `async fn` on [`Client`], against the small
//! [`Transport`] trait: "send this [`http::Request<Bytes>`](http::Request), give me the
//! [`http::Response<Bytes>`](http::Response)" plus "sleep this long" (for back-off). An async HTTP
//! client implements [`Transport`] directly ([`ReqwestTransport`] with feature `reqwest`). A
//! blocking client implements [`BlockingTransport`] (a closure `Fn(Request<Bytes>) ->
//! Result<Response<Bytes>, TransportError>` is one) and is wrapped in [`Blocking`]; its futures
//! are always ready, so [`block_on`], a minimal executor of a dozen lines, drives a workflow
//! to completion on the calling thread. Uploads and downloads are pipelined (the next chunk
//! encrypted, or the last one decrypted and written, while a request is in flight); for a
//! [`Blocking`] transport that request runs on a scoped helper thread
//! ([`Transport::sends_inline`]). Distribution sets the last page's keys and lists the
//! next page while the RSA work of the current one runs.
//!
//! Why not sans-I/O state machines? The workflows are long and branchy (paging with a
//! changing list, retries with back-off, chunk loops that read a source, encrypt, resend, poll).
//! Written as state machines each would become a hand-made enum of every suspension point; the
//! compiler already generates exactly that from an `async fn`. The price of this choice is that
//! a blocking caller runs an executor, and [`block_on`] is that executor: no runtime, no
//! dependencies (the only threads are the scoped ones of pipelining and of distribution's
//! RSA). Bodies are whole [`Bytes`]: uploads go out in chunks and downloads come in ranged
//! chunks, so memory stays bounded by a few chunks without streaming bodies in the trait.
//!
//! CPU-heavy and blocking work — PBKDF2 (key ring, opening a download share), RSA key
//! generation (shares, rescue keys), the RSA of distribution (each batch, on scoped threads
//! across all cores) and the file I/O of downloads to a path or a writer — goes through
//! [`Transport::offload`]: inline for a [`Blocking`] transport, on tokio's blocking pool for
//! [`ReqwestTransport`], so an async executor (even a current-thread one) keeps running
//! other tasks meanwhile. An async transport of your own should override it the same way.
//!
//! # Errors, retries, secrets
//!
//! A non-2xx answer becomes [`Error::Api`](crate::Error::Api) with the HTTP status and the DRACOON `errorCode`;
//! connection failures and malformed answers become [`Error::Transport`](crate::Error::Transport). Idempotent steps (GETs,
//! chunk uploads with a fixed `Content-Range`, S3 part uploads, key uploads, presigned URL
//! requests) are retried on connection errors, timeouts, `429` (honouring `Retry-After`) and
//! `5xx` with bounded exponential back-off and jitter ([`RetryPolicy`]); other steps only when the
//! request was certainly not processed (connection refused, `429`). Other `4xx` are never
//! retried. The `Authorization` header goes only to the authenticated API; never to upload or
//! download token URLs, public share endpoints or presigned S3 URLs. Errors and [`Event`]s name a
//! step, never a URL, token or key.
//!
//! # Example (with a closure as the transport)
//!
//! ```
//! use bytes::Bytes;
//! use dracoon_crypto::transport::{block_on, Blocking, Client};
//! use dracoon_crypto::TransportError;
//!
//! // A fake server that answers every request with an empty missing-keys list.
//! let fake = |_req: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
//!     Ok(http::Response::new(Bytes::from_static(
//!         br#"{"range":{"offset":0,"limit":100,"total":0},"items":[],"users":[],"files":[]}"#,
//!     )))
//! };
//! let client = Client::new(Blocking(fake), "https://dracoon.example")?.with_auth_token("t");
//! let keys = dracoon_crypto::transport::KeyRing::new(vec![]);
//! let report = block_on(client.distribute_missing_keys(&keys, &Default::default()))?;
//! assert_eq!(report.distributed, 0);
//! # Ok::<(), dracoon_crypto::Error>(())
//! ```

mod client;
mod distribute;
mod download;
mod executor;
mod keys;
pub mod models;
mod overlap;
mod retry;
mod shares;
mod upload;
mod util;

#[cfg(feature = "blocking")]
mod blocking_adapter;
#[cfg(feature = "reqwest")]
mod reqwest_adapter;
#[cfg(any(feature = "reqwest", feature = "blocking"))]
mod reqwest_common;

use std::future::Future;
use std::time::Duration;

pub use bytes::Bytes;
pub use http;

pub use crate::error::{TransportError, TransportErrorKind};
pub use client::{CancelFlag, Client, Event};
pub use distribute::{
    DistributionReport, KeyRing, MAX_CANDIDATE_KEYS_PER_FILE, MAX_PUBLIC_KEYS_PER_USER,
    MissingKeysFilter, SkipReason, Skipped, UseKey,
};
pub use download::DownloadOptions;
pub use executor::block_on;
pub use keys::MAX_KEY_PAIRS_PER_VERSION;
pub use retry::RetryPolicy;
pub use shares::{DownloadShareOptions, OpenedDownloadShare, UploadShareOptions};
pub use upload::{Progress, UploadOptions, Uploaded};
pub use util::rfc3339;

#[cfg(feature = "blocking")]
pub use blocking_adapter::BlockingReqwestTransport;
#[cfg(feature = "reqwest")]
pub use reqwest_adapter::ReqwestTransport;
#[cfg(any(feature = "reqwest", feature = "blocking"))]
pub use reqwest_common::same_origin_redirects;

/// The most bytes a transport may accept in the body of one answer.
///
/// Every request the workflows send carries one: the range length for a ranged download, at
/// most [`BodyLimit::JSON`] for API answers. A transport must stop reading (and fail with
/// [`TransportErrorKind::BodyTooLarge`]) once a body grows past it, and should refuse at once
/// an answer whose `Content-Length` already says so; [`BodyLimit::check`] does the comparison.
/// The [`Client`] checks every answer again, so a transport that reads too much still cannot
/// hand it to a workflow, but only the transport can keep the memory bounded.
///
/// ```
/// use dracoon_crypto::transport::BodyLimit;
///
/// let limit = BodyLimit::bytes(16);
/// assert!(limit.check(16).is_ok());
/// let err = limit.check(17).unwrap_err();
/// assert_eq!(err.kind(), dracoon_crypto::TransportErrorKind::BodyTooLarge);
/// assert_eq!(BodyLimit::JSON.get(), 16 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BodyLimit(u64);

impl BodyLimit {
    /// The limit of JSON (and other small) answers: 16 MiB. The largest answers the
    /// workflows read are pages of 100 missing-key entries with their public keys, well below.
    pub const JSON: BodyLimit = BodyLimit(16 * 1024 * 1024);

    /// At most `n` bytes.
    #[must_use]
    pub const fn bytes(n: u64) -> Self {
        BodyLimit(n)
    }

    /// The limit in bytes.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// `Ok` when a body of `len` bytes is within the limit, else a
    /// [`TransportErrorKind::BodyTooLarge`] error.
    pub fn check(self, len: u64) -> Result<(), TransportError> {
        if len <= self.0 {
            Ok(())
        } else {
            Err(TransportError::new(
                TransportErrorKind::BodyTooLarge,
                format!(
                    "the answer's body is larger than the {} bytes this step asked for",
                    self.0
                ),
            ))
        }
    }
}

/// Carries HTTP requests for the workflows (async).
///
/// Implementations send the request as it is (method, URI, headers, body) and return the
/// answer **whatever its status**; a non-2xx status is not an error at this level. A failure to
/// get an answer at all is a [`TransportError`] whose message contains no URL. The body read
/// must stay within `limit` (see [`BodyLimit`]).
///
/// **Redirects** must not be followed to another origin with the request's headers
/// (`Authorization`), and no `Referer` may be sent: upload and download URLs carry secret
/// tokens in their paths. The bundled adapters follow redirects only within the same origin
/// (scheme, host and port), at most 5, and send no `Referer`.
pub trait Transport: Sync {
    /// Sends one request and returns the complete answer, reading at most `limit` bytes of
    /// body.
    fn send(
        &self,
        request: http::Request<Bytes>,
        limit: BodyLimit,
    ) -> impl Future<Output = Result<http::Response<Bytes>, TransportError>> + Send;

    /// Waits `duration` (back-off between retries, S3 status polling).
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;

    /// Runs CPU-heavy or blocking work (PBKDF2, RSA, file I/O) for a workflow. The default runs
    /// it inline, right for blocking clients; an async transport moves it off the executor
    /// (for tokio, [`ReqwestTransport`] uses `tokio::task::spawn_blocking`, and runs inline
    /// when called outside a runtime) so that other tasks keep running. An error means the
    /// work did not run to completion (the runtime shut down, or the work panicked).
    ///
    /// ```
    /// use dracoon_crypto::transport::{Blocking, Bytes, Transport, block_on};
    /// use dracoon_crypto::TransportError;
    ///
    /// let t = Blocking(|_r: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
    ///     Ok(http::Response::new(Bytes::new()))
    /// });
    /// // A blocking transport runs the work inline, on the calling thread.
    /// let here = std::thread::current().id();
    /// assert_eq!(block_on(t.offload(move || std::thread::current().id()))?, here);
    /// # Ok::<(), TransportError>(())
    /// ```
    fn offload<R, F>(&self, work: F) -> impl Future<Output = Result<R, TransportError>> + Send
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        std::future::ready(Ok(work()))
    }

    /// Whether [`send`](Transport::send) does all of its work before it returns, so that the
    /// future it returns is already complete ([`Blocking`] says `true`). A workflow with CPU
    /// work to overlap with a send (an upload encrypts its next chunk while the current one is
    /// on the wire) then runs that send on a scoped thread of its own. The default, `false`, is
    /// right for every transport whose futures do their work when polled: the workflow polls
    /// the send once to start it and does the work in between. Never say `true` for an async
    /// transport: its futures would be driven on a thread outside its runtime.
    ///
    /// ```
    /// use dracoon_crypto::transport::{Blocking, Bytes, Transport};
    /// use dracoon_crypto::TransportError;
    ///
    /// let t = Blocking(|_r: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
    ///     Ok(http::Response::new(Bytes::new()))
    /// });
    /// assert!(t.sends_inline());
    /// ```
    fn sends_inline(&self) -> bool {
        false
    }
}

/// Carries HTTP requests for the workflows (blocking). Wrap it in [`Blocking`] and drive the
/// workflows with [`block_on`].
///
/// Any `Fn(http::Request<Bytes>) -> Result<http::Response<Bytes>, TransportError> + Sync` is a
/// `BlockingTransport`; its answers are checked against the [`BodyLimit`] after the call.
pub trait BlockingTransport: Sync {
    /// Sends one request and returns the complete answer (any status), reading at most `limit`
    /// bytes of body.
    fn send(
        &self,
        request: http::Request<Bytes>,
        limit: BodyLimit,
    ) -> Result<http::Response<Bytes>, TransportError>;

    /// Waits `duration`; by default `std::thread::sleep`.
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

impl<F> BlockingTransport for F
where
    F: Fn(http::Request<Bytes>) -> Result<http::Response<Bytes>, TransportError> + Sync,
{
    fn send(
        &self,
        request: http::Request<Bytes>,
        limit: BodyLimit,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let response = self(request)?;
        limit.check(response.body().len() as u64)?;
        Ok(response)
    }
}

/// Makes a [`BlockingTransport`] a [`Transport`] whose futures are always ready.
///
/// Uploads and downloads send each chunk's request from a scoped thread while the calling
/// thread encrypts the next chunk or decrypts the last one ([`Transport::sends_inline`]), so
/// [`BlockingTransport::send`] may run on a thread other than the caller's; one request is in
/// flight at a time all the same.
#[derive(Debug, Clone)]
pub struct Blocking<T>(pub T);

impl<T: BlockingTransport> Transport for Blocking<T> {
    fn send(
        &self,
        request: http::Request<Bytes>,
        limit: BodyLimit,
    ) -> impl Future<Output = Result<http::Response<Bytes>, TransportError>> + Send {
        std::future::ready(self.0.send(request, limit))
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        self.0.sleep(duration);
        std::future::ready(())
    }

    fn sends_inline(&self) -> bool {
        true
    }
}

impl<T: Transport + Send> Transport for &T {
    fn send(
        &self,
        request: http::Request<Bytes>,
        limit: BodyLimit,
    ) -> impl Future<Output = Result<http::Response<Bytes>, TransportError>> + Send {
        (**self).send(request, limit)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        (**self).sleep(duration)
    }

    fn offload<R, F>(&self, work: F) -> impl Future<Output = Result<R, TransportError>> + Send
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        (**self).offload(work)
    }

    fn sends_inline(&self) -> bool {
        (**self).sends_inline()
    }
}

#[cfg(test)]
mod tests;
