//! The HTTP/1.1 plumbing: a tokio runtime on its own thread, the accept loop, reading request
//! bodies as they stream in, applying injected faults, recording requests, and the response
//! body that can break off mid-stream.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::json::ApiError;
use super::state::FaultAction;
use super::{RecordedRequest, Shared, api};

/// Largest request body the server accepts (uploads are sent in chunks well below this).
const MAX_BODY: usize = 512 * 1024 * 1024;

/// Size of the frames a response body is sent in.
const FRAME: usize = 256 * 1024;

/// How long a response that is to be cut off waits before the connection is dropped, so the
/// bytes before the cut actually leave the server.
const CUT_GRACE: Duration = Duration::from_millis(50);

/// Starts the runtime thread serving `listener`. Dropping the returned sender stops it.
pub(crate) fn start(
    shared: Arc<Shared>,
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
            runtime.block_on(accept_loop(listener, shared, stop_rx));
            // Open keep-alive connections and running checks are abandoned here.
            runtime.shutdown_timeout(Duration::from_secs(2));
        })?;
    Ok((stop_tx, thread))
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                // Out of file descriptors and the like: back off briefly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let service = service_fn(move |request| handle(Arc::clone(&shared), request));
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

/// A request as the handlers see it: head plus the complete body.
#[derive(Debug)]
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

impl Req {
    /// The first header of that (lower-case) name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer as the handlers produce it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Self {
        Reply {
            status,
            headers: vec![("content-type", "application/json".to_string())],
            body: Bytes::from(value.to_string()),
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub(crate) fn binary(status: u16, body: Bytes) -> Self {
        Reply {
            status,
            headers: vec![("content-type", "application/octet-stream".to_string())],
            body,
        }
    }

    pub(crate) fn error(error: &ApiError) -> Self {
        Reply::json(error.status, &error.body())
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn into_response(self, cut: Option<usize>) -> Response<ResBody> {
        let mut response = Response::new(ResBody::new(self.body, cut));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

/// Serves one request: faults first, then the API.
async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ResBody>, Dropped> {
    let (head, body) = request.into_parts();
    let mut record = RecordedRequest {
        method: head.method.as_str().to_string(),
        path: head.uri.path().to_string(),
        query: head.uri.query().unwrap_or("").to_string(),
        authorization: head
            .headers
            .get(hyper::header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        headers: head
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body_len: 0,
        status: 0,
    };
    let fault = shared.lock().take_fault(&record.method, &record.path);
    let has_body = !body.is_end_stream();

    if let (Some(FaultAction::Drop { after_bytes }), true) = (&fault, has_body) {
        record.body_len = read_body(body, Some(*after_bytes), MAX_BODY)
            .await
            .map_or_else(|n| n, |b| b.len());
        shared.record(record);
        return Err(Dropped);
    }

    let body = match read_body(body, None, MAX_BODY).await {
        Ok(body) => body,
        Err(read) => {
            record.body_len = read;
            if read > MAX_BODY {
                let error = ApiError::plain(413, format!("request body over {MAX_BODY} bytes"));
                record.status = 413;
                shared.record(record);
                return Ok(Reply::error(&error).into_response(None));
            }
            // The client went away mid-body.
            shared.record(record);
            return Err(Dropped);
        }
    };
    record.body_len = body.len();

    let reply = match fault {
        Some(FaultAction::Status {
            status,
            retry_after,
        }) => {
            let error = ApiError::plain(status, "injected fault");
            let reply = Reply::error(&error);
            match retry_after {
                Some(seconds) => reply.with_header("retry-after", seconds.to_string()),
                None => reply,
            }
        }
        _ => {
            let req = Req {
                method: record.method.clone(),
                path: record.path.clone(),
                query: record.query.clone(),
                headers: record.headers.clone(),
                body,
            };
            api::dispatch(&shared, req).await
        }
    };

    let cut = match fault {
        Some(FaultAction::Drop { after_bytes }) => {
            if reply.body.len() <= after_bytes {
                // Nothing to cut: the answer is dropped as a whole.
                shared.record(record);
                return Err(Dropped);
            }
            Some(after_bytes)
        }
        _ => {
            record.status = reply.status;
            None
        }
    };
    shared.record(record);
    Ok(reply.into_response(cut))
}

/// Reads a request body as it streams in. With `stop_after`, stops once that many bytes
/// arrived (and returns `Err(bytes read)`); more than `max` bytes, or a broken stream, is
/// `Err(bytes read)` too.
async fn read_body(
    mut body: Incoming,
    stop_after: Option<usize>,
    max: usize,
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
                buf.reserve(hint.max(previous.len() + data.len()).min(max));
                buf.extend_from_slice(&previous);
                buf.extend_from_slice(&data);
            }
        }
    }
    if stop_after.is_some() {
        // The whole body was shorter than the cut: still nothing is processed.
        return Err(read);
    }
    Ok(first.unwrap_or_else(|| Bytes::from(buf)))
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
