//! Hostile servers against the transport layer (issue "Hardening, round 2"): every case gets a
//! clear error (or the safe behaviour) and loses nothing. The HTTP cases run against real
//! sockets on 127.0.0.1 (a scripted raw HTTP/1.1 server below) through both bundled adapters.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};

use dracoon_crypto::transport::models::{
    CreateDownloadShareRequest, CreateShareUploadChannelRequest, PublicDownloadTokenGenerateRequest,
};
use dracoon_crypto::transport::{
    Blocking, BlockingReqwestTransport, Bytes, Client, DownloadOptions, Event, KeyRing,
    ReqwestTransport, Transport, UploadOptions, UploadShareOptions, block_on,
};
use dracoon_crypto::{
    EncryptedFileKey, Error, Password, TransportError, TransportErrorKind, UserKeyPair,
    UserKeyPairContainer, UserKeyPairVersion, encrypt_bytes,
};

const TOKEN: &str = "the-secret-bearer-token";
const PASSWORD: &str = "Hardening-Pa55!";

/// One key pair (A keeps the test fast), a file encrypted for it, and the pair's container.
struct Fixture {
    pair: UserKeyPair,
    container: UserKeyPairContainer,
    plain: Vec<u8>,
    ciphertext: Vec<u8>,
    efk_json: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pair = UserKeyPair::generate(UserKeyPairVersion::Rsa2048).unwrap();
        let container = pair.to_container(&Password::new(PASSWORD)).unwrap();
        let plain: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (ciphertext, key) = encrypt_bytes(&plain).unwrap();
        let efk: EncryptedFileKey = pair.public_key().wrap_file_key(&key).unwrap();
        Fixture {
            pair,
            container,
            plain,
            ciphertext,
            efk_json: efk.to_json(),
        }
    })
}

fn ring() -> KeyRing {
    KeyRing::new(vec![fixture().pair.clone()])
}

// ---------------------------------------------------------------------------------------------
// A scripted HTTP/1.1 server on 127.0.0.1: one thread per connection, `Connection: close`.

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send the body with `Transfer-Encoding: chunked` (no `Content-Length`).
    chunked: bool,
    /// Announce this `Content-Length`, send no body and hold the connection for 20 s.
    stall: Option<u64>,
}

impl Answer {
    fn json(status: u16, body: impl Into<String>) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into().into_bytes(),
            chunked: false,
            stall: None,
        }
    }

    fn bytes(status: u16, body: Vec<u8>, chunked: bool) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body,
            chunked,
            stall: None,
        }
    }

    fn redirect(location: &str) -> Answer {
        Answer {
            status: 302,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
            chunked: false,
            stall: None,
        }
    }

    fn stalled(status: u16, content_length: u64) -> Answer {
        Answer {
            stall: Some(content_length),
            ..Answer::bytes(status, Vec::new(), false)
        }
    }
}

type Handler = dyn Fn(&Seen, &str) -> Answer + Send + Sync;

struct RawServer {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl RawServer {
    fn start(handler: impl Fn(&Seen, &str) -> Answer + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (b, s) = (base.clone(), seen.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (b, s, h) = (b.clone(), s.clone(), handler.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &b, &s, &*h);
                });
            }
        });
        RawServer { base, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    conn: TcpStream,
    base: &str,
    seen: &Mutex<Vec<Seen>>,
    handler: &Handler,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let req = Seen {
        method,
        path,
        headers,
    };
    seen.lock().unwrap().push(req.clone());
    let answer = handler(&req, base);
    let mut out = conn;
    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", answer.status);
    for (k, v) in &answer.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = answer.stall {
        head.push_str(&format!("Content-Length: {n}\r\n\r\n"));
        out.write_all(head.as_bytes())?;
        out.flush()?;
        std::thread::sleep(std::time::Duration::from_secs(20));
    } else if answer.chunked {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
        out.write_all(head.as_bytes())?;
        for piece in answer.body.chunks(64 * 1024) {
            out.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
            out.write_all(piece)?;
            out.write_all(b"\r\n")?;
        }
        out.write_all(b"0\r\n\r\n")?;
    } else {
        head.push_str(&format!("Content-Length: {}\r\n\r\n", answer.body.len()));
        out.write_all(head.as_bytes())?;
        out.write_all(&answer.body)?;
    }
    out.flush()
}

/// The download endpoints of file 7; `/dl/tok` is answered by `dl`.
fn download_server(dl: impl Fn(&Seen, &str) -> Answer + Send + Sync + 'static) -> RawServer {
    RawServer::start(
        move |req, base| match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v4/nodes/files/7/user_file_key") => {
                Answer::json(200, &fixture().efk_json)
            }
            ("POST", "/api/v4/nodes/files/7/downloads") => {
                Answer::json(200, format!(r#"{{"downloadUrl":"{base}/dl/tok"}}"#))
            }
            _ if req.path.starts_with("/dl/") => dl(req, base),
            _ => Answer::json(404, r#"{"code":404,"message":"no such thing"}"#),
        },
    )
}

/// Runs a download of file 7 through both adapters: (async result, blocking result).
fn download_both(base: &str, options: &DownloadOptions) -> [Result<Vec<u8>, Error>; 2] {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let async_client = Client::new(ReqwestTransport::new().unwrap(), base)
        .unwrap()
        .with_auth_token(TOKEN);
    let a = rt.block_on(async_client.download_to_vec(7, &ring(), options));
    let blocking_client = Client::new(Blocking(BlockingReqwestTransport::new().unwrap()), base)
        .unwrap()
        .with_auth_token(TOKEN);
    let b = block_on(blocking_client.download_to_vec(7, &ring(), options));
    [a, b]
}

fn is_too_large(r: &Result<Vec<u8>, Error>) -> bool {
    matches!(r, Err(Error::Transport(e)) if e.kind() == TransportErrorKind::BodyTooLarge)
}

// ---------------------------------------------------------------------------------------------
// 2. Bounded answers.

/// A storage host that ignores `Range` and sends the whole file (4 MiB) to a `chunk_size(16)`
/// download: both adapters stop at 16 bytes, with and without `Content-Length`.
#[test]
fn a_host_ignoring_range_cannot_make_us_read_more_than_the_range() {
    for chunked in [false, true] {
        let big = vec![0x41u8; 4 << 20];
        let server = download_server(move |_, _| Answer::bytes(200, big.clone(), chunked));
        for (adapter, r) in ["async", "blocking"].iter().zip(download_both(
            &server.base,
            &DownloadOptions::default().chunk_size(16),
        )) {
            assert!(
                is_too_large(&r),
                "{adapter}, chunked {chunked}: {:?}",
                r.map(|v| v.len())
            );
            let Err(e) = r else { unreachable!() };
            assert!(!e.to_string().contains("127.0.0.1"), "no URL in {e}");
        }
    }
}

/// The range a download chunk asks for (`Range: bytes=A-B`), inclusive.
fn asked_range(req: &Seen) -> (usize, usize) {
    let range = req.header("range").and_then(|r| r.strip_prefix("bytes="));
    let (a, b) = range.and_then(|r| r.split_once('-')).unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// A 206 answer with bytes `a..=b` of the test file's ciphertext.
fn partial(a: usize, b: usize) -> Answer {
    let ct = &fixture().ciphertext;
    let mut ans = Answer::bytes(206, ct[a..=b].to_vec(), false);
    ans.headers.push((
        "Content-Range".into(),
        format!("bytes {a}-{b}/{}", ct.len()),
    ));
    ans
}

/// The honest host, for contrast: ranged answers of the asked size download completely.
#[test]
fn an_honest_ranged_host_downloads_in_small_chunks() {
    let server = download_server(|req, _| {
        let (a, b) = asked_range(req);
        partial(a, b.min(fixture().ciphertext.len() - 1))
    });
    for r in download_both(&server.base, &DownloadOptions::default().chunk_size(4096)) {
        assert_eq!(r.unwrap(), fixture().plain);
    }
}

/// A host that answers less than the range asked for (before the end of the file) is refused:
/// every chunk is exactly the range asked for, cut only at the end.
#[test]
fn a_chunk_shorter_than_the_asked_range_is_refused() {
    let server = download_server(|req, _| {
        let (a, b) = asked_range(req);
        partial(a, (a + (b - a) / 2).min(fixture().ciphertext.len() - 1))
    });
    for r in download_both(&server.base, &DownloadOptions::default().chunk_size(4096)) {
        assert!(
            matches!(&r, Err(Error::Transport(e))
                if e.kind() == TransportErrorKind::InvalidResponse
                    && e.to_string().contains("shorter than the range")),
            "{:?}",
            r.map(|v| v.len())
        );
    }
}

/// An announced `Content-Length` beyond the limit is refused before any body byte is read:
/// this host announces 1 TiB, sends nothing and holds the connection for 20 s.
#[test]
fn an_oversized_content_length_is_refused_at_once() {
    let server = download_server(|_, _| Answer::stalled(200, 1 << 40));
    let start = std::time::Instant::now();
    for (adapter, r) in ["async", "blocking"].iter().zip(download_both(
        &server.base,
        &DownloadOptions::default().chunk_size(16),
    )) {
        assert!(is_too_large(&r), "{adapter}: {:?}", r.map(|v| v.len()));
    }
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "the adapters waited for the body: {:?}",
        start.elapsed()
    );
}

/// Answers that only acknowledge (an upload chunk here) are held to 64 KiB: an upload host
/// that answers a chunk with 1 MiB (with or without `Content-Length`) is refused through both
/// adapters, and the upload channel is deleted.
#[test]
fn upload_acknowledgements_are_bounded() {
    for chunked in [false, true] {
        let server =
            RawServer::start(
                move |req, base| match (req.method.as_str(), req.path.as_str()) {
                    ("POST", "/api/v4/nodes/files/uploads") => Answer::json(
                        201,
                        format!(r#"{{"uploadId":"u1","uploadUrl":"{base}/up/tok","token":"tok"}}"#),
                    ),
                    ("POST", "/up/tok") => Answer::bytes(200, vec![b' '; 1 << 20], chunked),
                    ("DELETE", "/up/tok") => Answer::bytes(204, Vec::new(), false),
                    _ => Answer::json(404, "{}"),
                },
            );
        let data = vec![7u8; 1000];
        let options = UploadOptions::new(1, "x.bin").size(1000);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let async_client = Client::new(ReqwestTransport::new().unwrap(), &server.base)
            .unwrap()
            .with_auth_token(TOKEN);
        let a = rt.block_on(async_client.upload(
            data.as_slice(),
            fixture().pair.public_key(),
            &options,
            &mut |_| {},
        ));
        let blocking_client = Client::new(
            Blocking(BlockingReqwestTransport::new().unwrap()),
            &server.base,
        )
        .unwrap()
        .with_auth_token(TOKEN);
        let b = block_on(blocking_client.upload(
            data.as_slice(),
            fixture().pair.public_key(),
            &options,
            &mut |_| {},
        ));
        for (adapter, r) in [("async", a), ("blocking", b)] {
            assert!(
                matches!(&r, Err(Error::Transport(e)) if e.kind() == TransportErrorKind::BodyTooLarge),
                "{adapter}, chunked {chunked}: {r:?}"
            );
        }
        let deletes = server
            .seen()
            .iter()
            .filter(|s| s.method == "DELETE" && s.path == "/up/tok")
            .count();
        assert_eq!(
            deletes, 2,
            "the channel is deleted after each failed upload"
        );
    }
}

/// A JSON answer beyond 16 MiB is refused too (here through a plain closure transport, whose
/// answers the blanket implementation checks).
#[test]
fn json_answers_are_capped_even_for_closure_transports() {
    let huge = Bytes::from(vec![b' '; 16 * 1024 * 1024 + 1]);
    let t = move |_r: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
        Ok(http::Response::new(huge.clone()))
    };
    let client = Client::new(Blocking(t), "https://dracoon.example")
        .unwrap()
        .with_auth_token(TOKEN);
    let r = block_on(client.user_file_key(7));
    assert!(
        matches!(&r, Err(Error::Transport(e)) if e.kind() == TransportErrorKind::BodyTooLarge),
        "{r:?}"
    );
}

/// A transport that ignores the limit still cannot hand a workflow more than it asked for.
#[test]
fn the_client_rechecks_what_a_careless_transport_returns() {
    struct Careless;
    impl Transport for Careless {
        async fn send(
            &self,
            request: http::Request<Bytes>,
            _limit: dracoon_crypto::transport::BodyLimit,
        ) -> Result<http::Response<Bytes>, TransportError> {
            let path = request.uri().path().to_owned();
            let body = match path.as_str() {
                "/api/v4/nodes/files/7/user_file_key" => Bytes::from(fixture().efk_json.clone()),
                "/api/v4/nodes/files/7/downloads" => {
                    Bytes::from_static(br#"{"downloadUrl":"https://storage.example/dl"}"#)
                }
                _ => Bytes::from(vec![0u8; 1 << 20]),
            };
            Ok(http::Response::new(body))
        }
        async fn sleep(&self, _d: std::time::Duration) {}
    }
    let client = Client::new(Careless, "https://dracoon.example")
        .unwrap()
        .with_auth_token(TOKEN);
    let r =
        block_on(client.download_to_vec(7, &ring(), &DownloadOptions::default().chunk_size(64)));
    assert!(is_too_large(&r), "{:?}", r.map(|v| v.len()));
}

// ---------------------------------------------------------------------------------------------
// 3. CPU-heavy work off the executor.

/// Runs `work` on a current-thread runtime beside a task that ticks every 5 ms; returns the
/// work's output and the largest gap the ticker saw.
fn with_ticker<F: std::future::Future>(work: F) -> (F::Output, std::time::Duration) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let ticker = tokio::spawn(async move {
            let mut last = Instant::now();
            let mut max = Duration::ZERO;
            while !s.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let now = Instant::now();
                max = max.max(now - last);
                last = now;
            }
            max
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let out = work.await;
        stop.store(true, Ordering::Relaxed);
        (out, ticker.await.unwrap())
    })
}

/// RSA-4096 key generation with PBKDF2 sealing (a room rescue key pair, an encrypted download
/// share) and opening a share (PBKDF2 with the real 1,300,000 iterations, RSA-4096) through
/// `ReqwestTransport` on a current-thread runtime: the ticker never waits over 50 ms. The
/// bound is on the gap between ticks, not on how long the work takes.
#[test]
fn key_generation_and_share_opening_never_block_the_runtime() {
    let share_pw = Password::new("share-Pa55");
    let share_pair = UserKeyPair::generate(UserKeyPairVersion::Rsa4096).unwrap();
    let share_container = share_pair.to_container(&share_pw).unwrap();
    let (_, key) = encrypt_bytes(b"shared").unwrap();
    let share_efk = share_pair.public_key().wrap_file_key(&key).unwrap();
    let info = serde_json::json!({
        "isEncrypted": true,
        "fileKey": serde_json::from_str::<serde_json::Value>(&share_efk.to_json()).unwrap(),
        "privateKeyContainer": share_container.private_key_container,
    })
    .to_string();
    let server = RawServer::start(
        move |req, _| match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/api/v4/nodes/rooms/1/keypair") => Answer::bytes(204, Vec::new(), false),
            ("GET", "/api/v4/nodes/files/7/user_file_key") => {
                Answer::json(200, &fixture().efk_json)
            }
            ("POST", "/api/v4/shares/downloads") => {
                Answer::json(201, r#"{"id":1,"accessKey":"ak","nodeId":7}"#)
            }
            ("GET", "/api/v4/public/shares/downloads/ak") => Answer::json(200, &info),
            _ => Answer::json(404, "{}"),
        },
    );
    let client = Client::new(ReqwestTransport::new().unwrap(), &server.base)
        .unwrap()
        .with_auth_token(TOKEN);
    let pw = Password::new(PASSWORD);
    let (opened, max_gap) = with_ticker(async {
        client
            .create_room_rescue_key_pair(1, UserKeyPairVersion::Rsa4096, &pw)
            .await
            .unwrap();
        client
            .create_encrypted_download_share(7, &ring(), &pw, &Default::default())
            .await
            .unwrap();
        client.open_download_share("ak", &share_pw).await.unwrap()
    });
    assert_eq!(*opened.key.to_json(), *key.to_json());
    assert!(
        max_gap < std::time::Duration::from_millis(50),
        "the runtime was blocked for {max_gap:?}"
    );
}

/// Downloads to a path and to a writer do their file I/O (and decryption or GHASH) through
/// `Transport::offload`: once per chunk at least.
#[test]
fn downloads_do_their_file_io_through_offload() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct Counting<T> {
        inner: T,
        offloads: AtomicUsize,
    }
    impl<T: Transport> Transport for Counting<T> {
        fn send(
            &self,
            request: http::Request<Bytes>,
            limit: dracoon_crypto::transport::BodyLimit,
        ) -> impl std::future::Future<Output = Result<http::Response<Bytes>, TransportError>> + Send
        {
            self.inner.send(request, limit)
        }
        fn sleep(&self, d: std::time::Duration) -> impl std::future::Future<Output = ()> + Send {
            self.inner.sleep(d)
        }
        fn offload<R, F>(
            &self,
            work: F,
        ) -> impl std::future::Future<Output = Result<R, TransportError>> + Send
        where
            R: Send + 'static,
            F: FnOnce() -> R + Send + 'static,
        {
            self.offloads.fetch_add(1, Ordering::SeqCst);
            self.inner.offload(work)
        }
    }
    let server = download_server(|req, _| {
        let (a, b) = asked_range(req);
        partial(a, b.min(fixture().ciphertext.len() - 1))
    });
    let chunks = fixture().ciphertext.len().div_ceil(4096);
    let client = Client::new(
        Counting {
            inner: Blocking(BlockingReqwestTransport::new().unwrap()),
            offloads: AtomicUsize::new(0),
        },
        &server.base,
    )
    .unwrap()
    .with_auth_token(TOKEN);
    let options = DownloadOptions::default().chunk_size(4096);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.bin");
    block_on(client.download_to_path(7, &ring(), &path, &options, &mut |_| {})).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), fixture().plain);
    let to_path = client.transport().offloads.swap(0, Ordering::SeqCst);
    assert!(to_path > chunks, "{to_path} offloads for {chunks} chunks");
    let mut out = Vec::new();
    block_on(client.download_to_writer(7, &ring(), &mut out, &options, &mut |_| {})).unwrap();
    assert_eq!(out, fixture().plain);
    let to_writer = client.transport().offloads.load(Ordering::SeqCst);
    assert!(
        to_writer > chunks,
        "{to_writer} offloads for {chunks} chunks"
    );
}

/// `ReqwestTransport::offload` outside a tokio runtime runs the work inline instead of
/// panicking; inside one, a panicking work item is an error, not a panic of the caller.
#[test]
fn reqwest_offload_never_panics() {
    let t = ReqwestTransport::new().unwrap();
    assert_eq!(block_on(t.offload(|| 6 * 7)).unwrap(), 42);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(t.offload(|| -> u8 { panic!("work failed") }));
    assert!(
        matches!(&r, Err(e) if e.kind() == TransportErrorKind::Other && e.to_string().contains("panicked")),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Redirects.

/// A download URL that redirects to another origin: neither adapter follows it, so the other
/// host never sees the token path, the `Authorization` header or a `Referer`; an API call
/// redirected across origins is not followed either. A same-origin redirect is followed,
/// without `Referer`.
#[test]
fn redirects_never_leave_the_origin() {
    let thief = RawServer::start(|_, _| Answer::bytes(200, b"stolen".to_vec(), false));
    let thief_base = thief.base.clone();
    let server = RawServer::start(move |req, base| match req.path.as_str() {
        "/api/v4/nodes/files/7/user_file_key" => Answer::json(200, &fixture().efk_json),
        "/api/v4/nodes/files/7/downloads" => {
            Answer::json(200, format!(r#"{{"downloadUrl":"{base}/dl/tok"}}"#))
        }
        "/api/v4/nodes/files/8/user_file_key" => {
            Answer::redirect(&format!("{thief_base}/api/v4/nodes/files/8/user_file_key"))
        }
        "/dl/tok" => Answer::redirect(&format!("{thief_base}/steal/tok")),
        _ => Answer::json(404, "{}"),
    });
    for r in download_both(&server.base, &DownloadOptions::default()) {
        assert!(
            matches!(r, Err(Error::Api { status: 302, .. })),
            "{:?}",
            r.map(|v| v.len())
        );
    }
    // An authenticated API call redirected to another origin.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c = Client::new(ReqwestTransport::new().unwrap(), &server.base)
        .unwrap()
        .with_auth_token(TOKEN);
    assert!(rt.block_on(c.user_file_key(8)).is_err());
    let c = Client::new(
        Blocking(BlockingReqwestTransport::new().unwrap()),
        &server.base,
    )
    .unwrap()
    .with_auth_token(TOKEN);
    assert!(block_on(c.user_file_key(8)).is_err());
    assert!(
        thief.seen().is_empty(),
        "the other origin was contacted: {:?}",
        thief.seen()
    );

    // Same origin: followed, and no Referer anywhere.
    let same = download_server(|req, base| match req.path.as_str() {
        "/dl/tok" => Answer::redirect(&format!("{base}/dl/real")),
        _ => Answer::bytes(200, fixture().ciphertext.clone(), false),
    });
    for r in download_both(&same.base, &DownloadOptions::default()) {
        assert_eq!(r.unwrap(), fixture().plain);
    }
    let seen = same.seen();
    assert!(seen.iter().any(|s| s.path == "/dl/real"));
    for s in &seen {
        assert!(s.header("referer").is_none(), "Referer sent: {s:?}");
        if s.path.starts_with("/dl/") {
            assert!(
                s.header("authorization").is_none(),
                "token sent to storage: {s:?}"
            );
        }
    }
}

/// A same-origin redirect loop is followed at most 5 times, then the 3xx is the answer (an API
/// error for the workflow), through both adapters.
#[test]
fn same_origin_redirects_are_limited() {
    let server = download_server(|req, base| {
        let n: u32 = req
            .path
            .strip_prefix("/dl/hop")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Answer::redirect(&format!("{base}/dl/hop{}", n + 1))
    });
    for r in download_both(&server.base, &DownloadOptions::default()) {
        assert!(
            matches!(r, Err(Error::Api { status: 302, .. })),
            "{:?}",
            r.map(|v| v.len())
        );
    }
    let hops = server
        .seen()
        .iter()
        .filter(|s| s.path.starts_with("/dl/"))
        .count();
    // Per adapter: the download URL and 5 redirects.
    assert_eq!(hops, 2 * 6, "{:?}", server.seen());
}

// ---------------------------------------------------------------------------------------------
// 5. Bounded work.

/// A server listing six key pairs of one version: the key ring unlocks four and reports the
/// rest.
#[test]
fn the_key_ring_unlocks_at_most_four_key_pairs_per_version() {
    let one = serde_json::to_string(&fixture().container).unwrap();
    let list = format!("[{}]", vec![one; 6].join(","));
    let t = move |r: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
        assert_eq!(r.uri().path(), "/api/v4/user/account/keypairs");
        Ok(http::Response::new(Bytes::from(list.clone())))
    };
    let skipped = Arc::new(Mutex::new(Vec::new()));
    let s = skipped.clone();
    let client = Client::new(Blocking(t), "https://dracoon.example")
        .unwrap()
        .with_auth_token(TOKEN)
        .with_event_handler(move |e| {
            if let Event::Skipped(x) = e {
                s.lock().unwrap().push(x.reason.to_string());
            }
        });
    let ring = block_on(client.key_ring(&Password::new(PASSWORD), None, None)).unwrap();
    assert_eq!(
        ring.pairs().len(),
        dracoon_crypto::transport::MAX_KEY_PAIRS_PER_VERSION
    );
    let skipped = skipped.lock().unwrap();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped.iter().all(|r| r.contains("more than 4")),
        "{skipped:?}"
    );
}

/// A key pair container from a server may ask for at most 2,000,000 PBKDF2 iterations: one
/// asking for 2,000,001 is refused before any derivation by the library
/// (`Client::unlock_user_key_pair`, `Client::key_ring`) and by the CLI's `download`, while the
/// same container from a local file (`--keypair`, limit 10,000,000) still opens.
#[test]
fn server_containers_have_the_lower_pbkdf2_cap() {
    let heavy = fixture()
        .pair
        .hazmat_to_container_with_iterations(&Password::new(PASSWORD), 2_000_001)
        .unwrap();
    let heavy_json = heavy.to_json();
    let list = format!("[{heavy_json}]");
    let content = fixture().ciphertext.clone();
    let server = RawServer::start(move |req, base| {
        let path = req.path.split('?').next().unwrap_or_default();
        match path {
            "/api/v4/user/account/keypair" => Answer::json(200, &heavy_json),
            "/api/v4/user/account/keypairs" => Answer::json(200, &list),
            "/api/v4/nodes/files/7/user_file_key" => Answer::json(200, &fixture().efk_json),
            "/api/v4/nodes/files/7/downloads" => {
                Answer::json(200, format!(r#"{{"downloadUrl":"{base}/dl/tok"}}"#))
            }
            "/dl/tok" => Answer::bytes(200, content.clone(), false),
            _ => Answer::json(404, "{}"),
        }
    });
    let client = Client::new(
        Blocking(BlockingReqwestTransport::new().unwrap()),
        &server.base,
    )
    .unwrap()
    .with_auth_token(TOKEN);
    let pw = Password::new(PASSWORD);
    fn too_many<T: std::fmt::Debug>(r: &Result<T, Error>) -> bool {
        matches!(r, Err(Error::LimitExceeded(dracoon_crypto::error::Limit::IterationCount { found })) if *found == 2_000_001)
    }
    let r = block_on(client.unlock_user_key_pair(None, &pw));
    assert!(too_many(&r), "{r:?}");
    let r = block_on(client.key_ring(&pw, None, None));
    assert!(too_many(&r), "{r:?}");

    let dir = tempfile::tempdir().unwrap();
    let cli = |keypair: Option<&std::path::Path>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dracoon-crypto"));
        c.args(["download", "--server", &server.base, "--file-id", "7"]);
        if let Some(k) = keypair {
            c.arg("--keypair").arg(k);
        }
        c.args(["--out", "-"])
            .env("DRACOON_AUTH_TOKEN", TOKEN)
            .env("DRACOON_CRYPTO_PASSWORD", PASSWORD)
            .output()
            .unwrap()
    };
    let out = cli(None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("limit_exceeded"), "{stderr}");
    assert!(out.stdout.is_empty());

    let kp = dir.path().join("kp.json");
    std::fs::write(&kp, heavy.to_json()).unwrap();
    let out = cli(Some(&kp));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, fixture().plain);
}

// ---------------------------------------------------------------------------------------------
// 7. Paths, schemes, messages.

/// An upload id `..` from the server would turn `/nodes/files/uploads/{id}/s3_urls` into
/// another API path: refused, and no request carries a dot segment.
#[test]
fn a_dot_dot_upload_id_is_refused() {
    let paths = Arc::new(Mutex::new(Vec::new()));
    let p = paths.clone();
    let t = move |r: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
        p.lock().unwrap().push(r.uri().path().to_owned());
        let body: &[u8] = if r.uri().path() == "/api/v4/nodes/files/uploads" {
            br#"{"uploadId":"..","uploadUrl":"https://dracoon.example/api/v4/uploads/t","token":"t"}"#
        } else {
            b"{}"
        };
        Ok(http::Response::new(Bytes::from_static(body)))
    };
    let client = Client::new(Blocking(t), "https://dracoon.example")
        .unwrap()
        .with_auth_token(TOKEN);
    let data = vec![1u8; 1000];
    let options = UploadOptions::new(1, "x.bin").size(1000).s3(true);
    let r = block_on(client.upload(
        data.as_slice(),
        fixture().pair.public_key(),
        &options,
        &mut |_| {},
    ));
    assert!(
        matches!(&r, Err(Error::Transport(e)) if e.kind() == TransportErrorKind::InvalidResponse),
        "{r:?}"
    );
    for path in paths.lock().unwrap().iter() {
        assert!(
            !path.split('/').any(|s| s == ".." || s == "."),
            "a dot segment was sent: {path}"
        );
    }
}

/// `http://` carries the token in clear: refused for the server URL and for URLs the server
/// hands out, except to loopback hosts.
#[test]
fn plain_http_only_to_loopback() {
    let never = |_r: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
        panic!("no request may be sent")
    };
    for bad in [
        "http://dracoon.example",
        "http://127.0.0.1.evil.example",
        "http://10.0.0.1",
        "ftp://dracoon.example",
        "dracoon.example",
    ] {
        assert!(
            matches!(
                Client::new(Blocking(never), bad),
                Err(Error::InvalidArgument(_))
            ),
            "{bad} accepted"
        );
    }
    for ok in [
        "https://dracoon.example",
        "http://127.0.0.1:8080",
        "http://127.9.8.7",
        "http://localhost:1",
        "http://[::1]:8080",
    ] {
        assert!(Client::new(Blocking(never), ok).is_ok(), "{ok} refused");
    }

    // A download URL on plain http to a remote host: refused before it is requested.
    let asked = Arc::new(Mutex::new(Vec::new()));
    let a = asked.clone();
    let t = move |r: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
        a.lock().unwrap().push(r.uri().to_string());
        let body = match r.uri().path() {
            "/api/v4/nodes/files/7/user_file_key" => Bytes::from(fixture().efk_json.clone()),
            _ => Bytes::from_static(br#"{"downloadUrl":"http://203.0.113.9/dl/tok"}"#),
        };
        Ok(http::Response::new(body))
    };
    let client = Client::new(Blocking(t), "https://dracoon.example")
        .unwrap()
        .with_auth_token(TOKEN);
    let r = block_on(client.download_to_vec(7, &ring(), &DownloadOptions::default()));
    assert!(
        matches!(&r, Err(Error::Transport(e)) if e.kind() == TransportErrorKind::InvalidResponse),
        "{:?}",
        r.map(|v| v.len())
    );
    assert!(
        !asked
            .lock()
            .unwrap()
            .iter()
            .any(|u| u.contains("203.0.113.9"))
    );
}

/// Upload URLs and presigned S3 URLs on plain http to a remote host are refused before they
/// are requested (the upload channel is then deleted through the API).
#[test]
fn server_handed_http_upload_and_s3_urls_are_refused() {
    for s3 in [false, true] {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let a = asked.clone();
        let t = move |r: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
            a.lock().unwrap().push(r.uri().to_string());
            let body: &'static [u8] = match r.uri().path() {
                "/api/v4/nodes/files/uploads" if s3 => {
                    br#"{"uploadId":"u1","uploadUrl":"https://dracoon.example/up/tok"}"#
                }
                "/api/v4/nodes/files/uploads" => {
                    br#"{"uploadId":"u1","uploadUrl":"http://203.0.113.9/up/tok"}"#
                }
                "/api/v4/nodes/files/uploads/u1/s3_urls" => {
                    br#"{"urls":[{"url":"http://203.0.113.9/s3/part1","partNumber":1}]}"#
                }
                _ => b"",
            };
            Ok(http::Response::new(Bytes::from_static(body)))
        };
        let client = Client::new(Blocking(t), "https://dracoon.example")
            .unwrap()
            .with_auth_token(TOKEN);
        let data = vec![1u8; 1000];
        let options = UploadOptions::new(1, "x.bin").size(1000).s3(s3);
        let r = block_on(client.upload(
            data.as_slice(),
            fixture().pair.public_key(),
            &options,
            &mut |_| {},
        ));
        assert!(
            matches!(&r, Err(Error::Transport(e))
                if e.kind() == TransportErrorKind::InvalidResponse
                    && e.to_string().contains("http://")),
            "s3 {s3}: {r:?}"
        );
        let asked = asked.lock().unwrap();
        assert!(
            !asked.iter().any(|u| u.contains("203.0.113.9")),
            "s3 {s3}: {asked:?}"
        );
        if s3 {
            assert!(
                asked
                    .iter()
                    .any(|u| u.ends_with("/api/v4/nodes/files/uploads/u1")),
                "the S3 channel is deleted: {asked:?}"
            );
        }
    }
}

/// A server error message with terminal escapes reaches the caller without control characters,
/// in the library's error and on the CLI's stderr.
#[test]
fn server_messages_cannot_drive_the_terminal() {
    let hostile =
        r#"{"code":400,"message":"\u001b]0;owned\u0007\u001b[2Jgone\r\nnext","errorCode":-1}"#;
    let server = RawServer::start(move |_, _| Answer::json(400, hostile));
    let client = Client::new(
        Blocking(BlockingReqwestTransport::new().unwrap()),
        &server.base,
    )
    .unwrap()
    .with_auth_token(TOKEN);
    let err = block_on(client.user_file_key(7)).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Api { status: 400, .. }));
    assert!(text.contains("gone"), "{text}");
    assert!(!text.chars().any(char::is_control), "{text:?}");

    let dir = tempfile::tempdir().unwrap();
    let kp = dir.path().join("kp.json");
    std::fs::write(&kp, fixture().container.to_json()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dracoon-crypto"))
        .args([
            "download",
            "--server",
            &server.base,
            "--file-id",
            "7",
            "--keypair",
        ])
        .arg(&kp)
        .args(["--out", "-"])
        .env("DRACOON_AUTH_TOKEN", TOKEN)
        .env("DRACOON_CRYPTO_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gone"), "{stderr}");
    assert!(
        !stderr.trim_end_matches('\n').chars().any(char::is_control),
        "{stderr:?}"
    );
    assert!(out.stdout.is_empty());

    // And the CLI refuses plain http to a remote host as a usage error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dracoon-crypto"))
        .args([
            "download",
            "--server",
            "http://dracoon.example",
            "--file-id",
            "7",
            "--out",
            "-",
        ])
        .env("DRACOON_AUTH_TOKEN", TOKEN)
        .env("DRACOON_CRYPTO_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("https://"));
}

// ---------------------------------------------------------------------------------------------
// 1. (transport part) and 6.

/// `download_to_writer` (and the CLI's `download --out -`) verify before writing: a modified
/// file leaves the writer empty.
#[test]
fn download_to_writer_writes_nothing_before_the_tag_verified() {
    let mut bad = fixture().ciphertext.clone();
    bad[3] ^= 0x10;
    for (content, ok) in [(fixture().ciphertext.clone(), true), (bad, false)] {
        let server = download_server(move |_, _| Answer::bytes(200, content.clone(), false));
        let client = Client::new(
            Blocking(BlockingReqwestTransport::new().unwrap()),
            &server.base,
        )
        .unwrap()
        .with_auth_token(TOKEN);
        let mut sink = Vec::new();
        let r = block_on(client.download_to_writer(
            7,
            &ring(),
            &mut sink,
            &DownloadOptions::default(),
            &mut |_| {},
        ));
        if ok {
            assert_eq!(r.unwrap(), fixture().plain.len() as u64);
            assert_eq!(sink, fixture().plain);
        } else {
            assert!(matches!(r, Err(Error::BadFile)), "{r:?}");
            assert!(sink.is_empty(), "{} unverified bytes written", sink.len());

            let dir = tempfile::tempdir().unwrap();
            let kp = dir.path().join("kp.json");
            std::fs::write(&kp, fixture().container.to_json()).unwrap();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_dracoon-crypto"))
                .args([
                    "download",
                    "--server",
                    &server.base,
                    "--file-id",
                    "7",
                    "--keypair",
                ])
                .arg(&kp)
                .args(["--out", "-"])
                .env("DRACOON_AUTH_TOKEN", TOKEN)
                .env("DRACOON_CRYPTO_PASSWORD", PASSWORD)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1));
            assert!(String::from_utf8_lossy(&out.stderr).contains("bad_file"));
            assert!(out.stdout.is_empty(), "download --out - released plaintext");
        }
    }
}

/// Access passwords never show in `Debug`.
#[test]
fn access_passwords_are_redacted_in_debug() {
    let secret = "hunter2-access";
    let mut opts = UploadShareOptions::new("f.bin");
    opts.access_password = Some(secret.into());
    let req = CreateShareUploadChannelRequest {
        name: "f.bin".into(),
        password: Some(secret.into()),
        ..Default::default()
    };
    let dl = PublicDownloadTokenGenerateRequest {
        password: Some(secret.into()),
    };
    let share = CreateDownloadShareRequest {
        password: Some(secret.into()),
        ..Default::default()
    };
    for text in [
        format!("{opts:?}"),
        format!("{req:?}"),
        format!("{dl:?}"),
        format!("{share:?}"),
    ] {
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }
}
