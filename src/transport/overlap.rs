//! Overlapping a workflow's CPU work with a request in flight.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use super::{Transport, block_on};
use crate::error::{Error, Result};

/// Work on fewer bytes than this is not worth a thread: it runs after the send.
const OVERLAP_MIN: usize = 256 * 1024;

/// Runs `work` (on about `work_bytes` bytes) while `send` is in flight, and returns both
/// results. `work` is a future: CPU work of the calling task (`async { .. }`), or work handed to
/// [`Transport::offload`]. Below [`OVERLAP_MIN`] bytes the two simply run one after the other.
///
/// How the two overlap depends on the transport ([`Transport::sends_inline`]):
/// * an inline (blocking) transport would do the whole request while `send` is polled, so
///   `send` is driven to completion on a scoped thread of its own while `work` is driven here;
/// * any other transport does its I/O when polled: `send` is polled once, which hands the
///   request to the HTTP client's own tasks, the task yields once so that those can take it
///   up, and then both are polled until both are done.
///
/// The result of `send` is returned as it came, also when `work` ran after it failed; a
/// scoped thread that cannot be started fails `send` with [`Error::Io`], and a panic in it is
/// resumed on this thread.
pub(crate) async fn overlapped<T, O, R>(
    transport: &T,
    work_bytes: usize,
    send: impl Future<Output = Result<O>> + Send,
    work: impl Future<Output = R>,
) -> (Result<O>, R)
where
    T: Transport,
    O: Send,
{
    if work_bytes < OVERLAP_MIN {
        let sent = send.await;
        return (sent, work.await);
    }
    if transport.sends_inline() {
        // The send's spans and events go where the caller's would, under the caller's span
        // (a subscriber set with `with_default` is thread-local).
        #[cfg(feature = "tracing")]
        let (dispatch, span) = (
            tracing::dispatcher::get_default(Clone::clone),
            tracing::Span::current(),
        );
        let run = move || {
            #[cfg(feature = "tracing")]
            return tracing::dispatcher::with_default(&dispatch, || {
                span.in_scope(|| block_on(send))
            });
            #[cfg(not(feature = "tracing"))]
            block_on(send)
        };
        return std::thread::scope(|scope| {
            let sender = std::thread::Builder::new()
                .name("dracoon-send".into())
                .spawn_scoped(scope, run);
            // An inline transport's work (its offload runs inline) is ready when polled.
            let done = block_on(work);
            let sent = match sender {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(e) => Err(Error::Io(e)),
            };
            (sent, done)
        });
    }
    let mut send = pin!(send);
    let mut work = pin!(work);
    let mut sent = match std::future::poll_fn(|cx| Poll::Ready(send.as_mut().poll(cx))).await {
        Poll::Ready(sent) => Some(sent),
        Poll::Pending => {
            yield_once().await;
            None
        }
    };
    let mut done = None;
    std::future::poll_fn(|cx| {
        if done.is_none()
            && let Poll::Ready(r) = work.as_mut().poll(cx)
        {
            done = Some(r);
        }
        if sent.is_none()
            && let Poll::Ready(o) = send.as_mut().poll(cx)
        {
            sent = Some(o);
        }
        match (sent.take(), done.take()) {
            (Some(s), Some(d)) => Poll::Ready((s, d)),
            (s, d) => {
                (sent, done) = (s, d);
                Poll::Pending
            }
        }
    })
    .await
}

/// Returns `Pending` once (waking the task at once), so that the executor runs other tasks
/// before this one goes on.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}
