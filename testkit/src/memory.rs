//! The in-memory driver: a [`Transport`] and [`BlockingTransport`] that hands each request to
//! the model, so that every workflow runs against the real model without sockets.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use dracoon_crypto::TransportError;
use dracoon_crypto::TransportErrorKind;
use dracoon_crypto::transport::{BlockingTransport, BodyLimit, Transport};

use super::Model;
use super::RecordedRequest;
use super::model::Exchange;
use super::state::FaultAction;

/// Carries requests to a [`Model`] in memory: no sockets, no runtime. Made by
/// [`Model::transport`].
///
/// It behaves as the bundled HTTP adapters do towards a server: an answer of any status is an
/// answer; a URL outside the model's origin fails to connect
/// ([`TransportErrorKind::Connect`]); an answer body over the step's [`BodyLimit`] is
/// [`TransportErrorKind::BodyTooLarge`]; an injected
/// [`Fault::DropConnection`](crate::Fault::DropConnection) is an
/// [`TransportErrorKind::Io`] error (nothing of a dropped upload is stored, as with the HTTP
/// server). As a blocking transport it sleeps on the calling thread; as an async one it sleeps
/// and runs [`Transport::offload`] work on a thread of its own, so an executor is never blocked
/// by a sleep or by PBKDF2/RSA.
///
/// ```
/// use dracoon_crypto::transport::{Blocking, Client, block_on};
/// use dracoon_crypto_testkit::Model;
///
/// let model = Model::new();
/// let alice = model.create_user("alice");
/// let client = Client::new(Blocking(model.transport()), &model.base_url())?
///     .with_auth_token(&alice.token);
/// let algorithms = block_on(client.algorithms())?;
/// assert!(!algorithms.key_pair_algorithms.is_empty());
/// assert_eq!(model.requests().len(), 1);
/// assert!(model.violations().is_empty());
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct InMemoryTransport {
    model: Model,
}

impl InMemoryTransport {
    pub(crate) fn new(model: Model) -> Self {
        InMemoryTransport { model }
    }

    /// The model it talks to.
    #[must_use]
    pub fn model(&self) -> &Model {
        &self.model
    }

    fn exchange(
        &self,
        request: http::Request<Bytes>,
        limit: BodyLimit,
    ) -> Result<http::Response<Bytes>, TransportError> {
        if !same_origin(request.uri(), &self.model.base_url) {
            return Err(TransportError::new(
                TransportErrorKind::Connect,
                "the in-memory model serves only its own origin",
            ));
        }
        let (head, body) = request.into_parts();
        let record = RecordedRequest::of(&head);
        let fault = self.model.take_fault(&record.method, &record.path);
        if let Some(FaultAction::Drop { after_bytes }) = fault
            && !body.is_empty()
        {
            self.model
                .record_dropped(record, after_bytes.min(body.len()));
            return Err(dropped());
        }
        match self.model.exchange(fault, record, body) {
            Exchange::Answer {
                response,
                cut: None,
            } => {
                limit.check(response.body().len() as u64)?;
                Ok(response)
            }
            // The headers and part of the body arrived, then the connection broke: a client
            // reading the body fails.
            Exchange::Answer { cut: Some(_), .. } | Exchange::Drop => Err(dropped()),
        }
    }
}

fn dropped() -> TransportError {
    TransportError::new(
        TransportErrorKind::Io,
        "connection dropped by an injected fault",
    )
}

/// Whether `uri` has the scheme and authority of `base` (`scheme://host[:port]`).
fn same_origin(uri: &http::Uri, base: &str) -> bool {
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => {
            base.strip_prefix(scheme)
                .and_then(|rest| rest.strip_prefix("://"))
                == Some(authority.as_str())
        }
        // A bare path: addressed to the model.
        (None, None) => true,
        _ => false,
    }
}

impl BlockingTransport for InMemoryTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
        limit: BodyLimit,
    ) -> Result<http::Response<Bytes>, TransportError> {
        self.exchange(request, limit)
    }
}

impl Transport for InMemoryTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
        limit: BodyLimit,
    ) -> impl Future<Output = Result<http::Response<Bytes>, TransportError>> + Send {
        let this = self.clone();
        on_thread(move || this.exchange(request, limit)).flatten_result()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        let sleep = on_thread(move || std::thread::sleep(duration));
        async move {
            // A thread that could not be spawned: no wait rather than a busy loop.
            let _ = sleep.await;
        }
    }

    fn offload<R, F>(&self, work: F) -> impl Future<Output = Result<R, TransportError>> + Send
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        on_thread(work)
    }
}

/// Where a thread leaves its result and the waker of the task waiting for it.
struct Slot<R> {
    result: Option<std::thread::Result<R>>,
    waker: Option<Waker>,
    started: bool,
}

/// Runs `work` on a new thread when first polled; ready when it returned.
struct OnThread<R, F> {
    slot: Arc<Mutex<Slot<R>>>,
    work: Option<F>,
}

impl<R, F> Unpin for OnThread<R, F> {}

fn on_thread<R, F>(work: F) -> OnThread<R, F>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    OnThread {
        slot: Arc::new(Mutex::new(Slot {
            result: None,
            waker: None,
            started: false,
        })),
        work: Some(work),
    }
}

impl<R, F> OnThread<R, F>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    /// For work that returns a `Result` with a transport error itself.
    async fn flatten_result<T>(self) -> Result<T, TransportError>
    where
        R: Into<Result<T, TransportError>>,
    {
        self.await.and_then(Into::into)
    }
}

impl<R, F> Future for OnThread<R, F>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    type Output = Result<R, TransportError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(result) = slot.result.take() {
            return Poll::Ready(result.map_err(|_| {
                TransportError::new(TransportErrorKind::Other, "offloaded work panicked")
            }));
        }
        slot.waker = Some(cx.waker().clone());
        if !slot.started {
            slot.started = true;
            drop(slot);
            let Some(work) = self.work.take() else {
                return Poll::Pending;
            };
            let shared = Arc::clone(&self.slot);
            let spawned = std::thread::Builder::new()
                .name("dracoon-testkit-memory".to_string())
                .spawn(move || {
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
                    let mut slot = shared.lock().unwrap_or_else(PoisonError::into_inner);
                    slot.result = Some(result);
                    if let Some(waker) = slot.waker.take() {
                        waker.wake();
                    }
                });
            if let Err(e) = spawned {
                return Poll::Ready(Err(TransportError::new(
                    TransportErrorKind::Other,
                    format!("could not start a thread: {e}"),
                )));
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let base = "https://dracoon.test";
        let uri = |s: &str| s.parse::<http::Uri>().expect("uri");
        assert!(same_origin(&uri("https://dracoon.test/api/v4/x"), base));
        assert!(same_origin(&uri("/api/v4/x"), base));
        assert!(!same_origin(&uri("http://dracoon.test/api/v4/x"), base));
        assert!(!same_origin(&uri("https://dracoon.test:444/x"), base));
        assert!(!same_origin(&uri("https://evil.example/x"), base));
        assert!(same_origin(
            &uri("http://127.0.0.1:8080/s3/x"),
            "http://127.0.0.1:8080"
        ));
    }

    #[test]
    fn offloaded_work_runs_elsewhere_and_a_panic_is_an_error() {
        let t = Model::new().transport();
        let here = std::thread::current().id();
        let there = dracoon_crypto::transport::block_on(Transport::offload(&t, move || {
            std::thread::current().id()
        }))
        .expect("ran");
        assert_ne!(here, there);
        let panicked: Result<(), _> =
            dracoon_crypto::transport::block_on(Transport::offload(&t, || panic!("boom")));
        assert_eq!(
            panicked.map_err(|e| e.kind()),
            Err(TransportErrorKind::Other)
        );
    }
}
