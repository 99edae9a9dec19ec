//! The HTTP driver: a tokio runtime on its own thread, the accept loop, reading request bodies
//! as they stream in (and breaking them off for an injected drop), handing them to the model,
//! and the response body that can break off mid-stream.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::json::ApiError;
use super::model::{Exchange, Reply};
use super::pool::BodyPool;
use super::state::FaultAction;
use super::{Model, RecordedRequest};

/// Largest request body the server accepts (uploads are sent in chunks well below this).
const MAX_BODY: usize = 512 * 1024 * 1024;

/// Size of the frames a response body is sent in.
const FRAME: usize = 256 * 1024;

/// How long a response that is to be cut off waits before the connection is dropped, so the
/// bytes before the cut actually leave the server.
const CUT_GRACE: Duration = Duration::from_millis(50);

/// Starts the runtime thread serving `listener`. Dropping the returned sender stops it.
pub(crate) fn start(
    model: Model,
    listener: std::net::TcpListener,
) -> io::Result<(oneshot::Sender<()>, std::thread::JoinHandle<()>)> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("dracoon-testkit")
        .enable_all()
        .build()?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    let (stop_tx, stop_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("dracoon-testkit".to_string())
        .spawn(move || {
            runtime.block_on(accept_loop(listener, model, BodyPool::default(), stop_rx));
            // Open keep-alive connections and running checks are abandoned here.
            runtime.shutdown_timeout(Duration::from_secs(2));
        })?;
    Ok((stop_tx, thread))
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    model: Model,
    pool: BodyPool,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(stream, model.clone(), pool.clone()));
                }
                // Out of file descriptors and the like: back off briefly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

async fn serve_connection(stream: TcpStream, model: Model, pool: BodyPool) {
    let service = service_fn(move |request| handle(model.clone(), pool.clone(), request));
    // Errors here are clients going away, or connections dropped on purpose.
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Returned to hyper to make it close the connection without an answer.
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

/// Serves one request: faults first, then the model (on tokio's blocking pool: its RSA and
/// AES checks are CPU work).
async fn handle(
    model: Model,
    pool: BodyPool,
    request: Request<Incoming>,
) -> Result<Response<ResBody>, Dropped> {
    let (head, body) = request.into_parts();
    let record = RecordedRequest::of(&head);
    let fault = model.take_fault(&record.method, &record.path);
    let has_body = !body.is_end_stream();

    if let (Some(FaultAction::Drop { after_bytes }), true) = (&fault, has_body) {
        let read = read_body(body, Some(*after_bytes), MAX_BODY, &pool)
            .await
            .map_or_else(|n| n, |b| b.len());
        model.record_dropped(record, read);
        return Err(Dropped);
    }

    let body = match read_body(body, None, MAX_BODY, &pool).await {
        Ok(body) => body,
        Err(read) if read > MAX_BODY => {
            let mut record = record;
            record.status = 413;
            model.record_dropped(record, read);
            let error = ApiError::plain(413, format!("request body over {MAX_BODY} bytes"));
            return Ok(into_body(Reply::error(&error).into_response(), None));
        }
        // The client went away mid-body.
        Err(read) => {
            model.record_dropped(record, read);
            return Err(Dropped);
        }
    };

    let exchange = tokio::task::spawn_blocking(move || model.exchange(fault, record, body)).await;
    match exchange {
        Ok(Exchange::Answer { response, cut }) => Ok(into_body(response, cut)),
        Ok(Exchange::Drop) | Err(_) => Err(Dropped),
    }
}

/// The model's answer with a body hyper can send (and cut).
fn into_body(response: Response<Bytes>, cut: Option<usize>) -> Response<ResBody> {
    response.map(|body| ResBody::new(body, cut))
}

/// Reads a request body as it streams in. With `stop_after`, stops once that many bytes
/// arrived (and returns `Err(bytes read)`); more than `max` bytes, or a broken stream, is
/// `Err(bytes read)` too. A body of several frames is put together in a buffer from `pool`.
async fn read_body(
    mut body: Incoming,
    stop_after: Option<usize>,
    max: usize,
    pool: &BodyPool,
) -> Result<Bytes, usize> {
    let hint = usize::try_from(body.size_hint().lower()).unwrap_or(0);
    let mut first: Option<Bytes> = None;
    let mut buf: Vec<u8> = Vec::new();
    let mut read = 0usize;
    loop {
        if stop_after.is_some_and(|stop| read >= stop) {
            return Err(read);
        }
        let frame = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let data = match frame {
            None => break,
            Some(Err(_)) => return Err(read),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
        };
        read += data.len();
        if read > max {
            return Err(read);
        }
        // Keep a single frame as it is; copy only when there are several.
        match first.take() {
            None if buf.is_empty() => first = Some(data),
            None => buf.extend_from_slice(&data),
            Some(previous) => {
                buf = pool.take(hint.max(previous.len() + data.len()).min(max));
                buf.extend_from_slice(&previous);
                buf.extend_from_slice(&data);
            }
        }
    }
    if stop_after.is_some() {
        // The whole body was shorter than the cut: still nothing is processed.
        return Err(read);
    }
    Ok(first.unwrap_or_else(|| pool.bytes(buf)))
}

/// A response body sent in frames; with a cut, it stops after that many bytes, waits a moment
/// so they are flushed, and then fails, which makes hyper drop the connection.
pub(crate) struct ResBody {
    data: Bytes,
    cut: Option<usize>,
    sent: usize,
    grace: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ResBody {
    fn new(data: Bytes, cut: Option<usize>) -> Self {
        ResBody {
            data,
            cut,
            sent: 0,
            grace: None,
        }
    }
}

impl Body for ResBody {
    type Data = Bytes;
    type Error = Dropped;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Dropped>>> {
        let this = self.get_mut();
        let room = this
            .cut
            .map_or(usize::MAX, |cut| cut.saturating_sub(this.sent));
        if room == 0 {
            let grace = this
                .grace
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(CUT_GRACE)));
            return match grace.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => Poll::Ready(Some(Err(Dropped))),
            };
        }
        if this.data.is_empty() {
            return Poll::Ready(None);
        }
        let n = this.data.len().min(FRAME).min(room);
        let chunk = this.data.split_to(n);
        this.sent += n;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty() && self.cut.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        // The full length, also when the body will be cut: the client must see a short body.
        SizeHint::with_exact(self.data.len() as u64)
    }
}
