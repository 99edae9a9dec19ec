//! Encrypted transfers against raw HTTP transfers of the same bytes, through the same client and
//! the same in-process server (issue "Performance, round 2", goal 3):
//!
//! ```text
//! cargo run --release -p dracoon-crypto-benches --bin transfer [-- --size-mib 256 --rounds 3]
//! ```
//!
//! For each adapter (async `ReqwestTransport` on a tokio runtime, `BlockingReqwestTransport`):
//! * encrypted upload: `Client::upload_slice` of the file (8 MiB chunks, encrypted straight from
//!   memory) into an encrypted room, and again through `Client::upload` with the bytes as a
//!   `Read` source (row "upload (`Read`)": each window copied out of the reader first);
//! * raw upload: the same bytes, unencrypted, as the same 8 MiB chunk POSTs with
//!   `Content-Range` to an upload channel of an unencrypted room, then the completion PUT, sent
//!   straight through the transport's `send` (no workflow, no encryption);
//! * encrypted download: `Client::download_to_vec` (8 MiB ranges, decrypted, tag verified);
//! * raw download: the same ranged GETs of the same URL shape through `send`.
//!
//! Each round overwrites the previous round's two files, so that the server reads new chunks
//! into the buffers of the replaced ones (fresh memory costs this VM more than the transfer).
//! The server's oracle key checks are off (server work a raw upload does not have). Odd rounds
//! run the raw transfer first. Reported per direction: MiB/s (best of the rounds),
//! best encrypted / best raw, and the median of the rounds' encrypted / raw ratios.

use std::time::{Duration, Instant};

use dracoon_crypto::transport::http::{Method, Request};
use dracoon_crypto::transport::models::ResolutionStrategy;
use dracoon_crypto::transport::{
    Blocking, BlockingReqwestTransport, BodyLimit, Bytes, Client, DownloadOptions, KeyRing,
    ReqwestTransport, Transport, UploadOptions, block_on,
};
use dracoon_crypto::{Password, UserKeyPair, UserKeyPairVersion};
use dracoon_crypto_testkit::{TestServer, TestUser};

const CHUNK: usize = 8 << 20;

struct World {
    server: TestServer,
    user: TestUser,
    pair: UserKeyPair,
    enc_room: i64,
    raw_room: i64,
}

fn world() -> World {
    let server = TestServer::start().expect("server");
    // The server's oracle checks of file keys (one RSA unwrap and a GHASH pass over the whole
    // stored file per completed upload) are server work a raw upload does not have, and a real
    // server cannot do; the downloads below verify every tag anyway.
    server.set_key_checks(false);
    let user = server.create_user("bench");
    let pair = UserKeyPair::generate(UserKeyPairVersion::Rsa2048).expect("key pair");
    let container = pair
        .hazmat_to_container_with_iterations(&Password::new("pw"), 1000)
        .expect("container");
    server.add_user_key_pair(user.id, container, &pair);
    let enc_room = server.create_room("enc", true, &[user.id]);
    let raw_room = server.create_room("raw", false, &[user.id]);
    World {
        server,
        user,
        pair,
        enc_room,
        raw_room,
    }
}

/// One request through the transport, 2xx required.
async fn send<T: Transport>(t: &T, req: Request<Bytes>, limit: u64) -> Bytes {
    let resp = t.send(req, BodyLimit::bytes(limit)).await.expect("send");
    assert!(resp.status().is_success(), "HTTP {}", resp.status());
    resp.into_body()
}

fn api(w: &World, method: Method, path: &str, body: String) -> Request<Bytes> {
    Request::builder()
        .method(method)
        .uri(format!("{}/api/v4{path}", w.server.base_url()))
        .header("Authorization", format!("Bearer {}", w.user.token))
        .header("Content-Type", "application/json")
        .body(Bytes::from(body))
        .expect("request")
}

fn json_field(body: &[u8], field: &str) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("json");
    match &v[field] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The raw upload: channel, chunk POSTs, completion. Returns the node id.
async fn raw_upload<T: Transport>(t: &T, w: &World, data: &Bytes, name: &str) -> i64 {
    let body = format!(
        r#"{{"parentId":{},"name":"{name}","size":{}}}"#,
        w.raw_room,
        data.len()
    );
    let channel = send(
        t,
        api(w, Method::POST, "/nodes/files/uploads", body),
        1 << 20,
    )
    .await;
    let url = json_field(&channel, "uploadUrl");
    let total = data.len();
    let mut start = 0;
    while start < total {
        let end = (start + CHUNK).min(total);
        let req = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header("Content-Type", "application/octet-stream")
            .header(
                "Content-Range",
                format!("bytes {start}-{}/{total}", end - 1),
            )
            .body(data.slice(start..end))
            .expect("chunk");
        send(t, req, 1 << 20).await;
        start = end;
    }
    let req = Request::builder()
        .method(Method::PUT)
        .uri(&url)
        .header("Content-Type", "application/json")
        .body(Bytes::from_static(br#"{"resolutionStrategy":"overwrite"}"#))
        .expect("complete");
    let node = send(t, req, 1 << 20).await;
    json_field(&node, "id").parse().expect("node id")
}

/// The raw download: download URL, ranged GETs. Returns the bytes.
async fn raw_download<T: Transport>(t: &T, w: &World, node: i64, total: usize) -> Vec<u8> {
    let dl = send(
        t,
        api(
            w,
            Method::POST,
            &format!("/nodes/files/{node}/downloads"),
            String::new(),
        ),
        1 << 20,
    )
    .await;
    let url = json_field(&dl, "downloadUrl");
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        let start = out.len();
        let end = (start + CHUNK).min(total) - 1;
        let req = Request::builder()
            .method(Method::GET)
            .uri(&url)
            .header("Range", format!("bytes={start}-{end}"))
            .body(Bytes::new())
            .expect("range");
        out.extend_from_slice(&send(t, req, (end - start + 1) as u64).await);
    }
    out
}

struct Times {
    enc_up: Duration,
    enc_up_read: Duration,
    raw_up: Duration,
    enc_down: Duration,
    raw_down: Duration,
}

async fn race<T: Transport + Send>(t: T, w: &World, data: &Bytes, round: usize) -> Times {
    let client = Client::new(&t, &w.server.base_url())
        .expect("client")
        .with_auth_token(&w.user.token);
    let keys = KeyRing::new(vec![w.pair.clone()]);

    // Odd rounds run the raw transfer first: neither side always meets a warm (or a tired)
    // allocator and server.
    let raw_first = round % 2 == 1;
    // Each round replaces the last round's files: the server reads the new chunks into the
    // buffers of the replaced ones instead of into new memory (testkit's `BodyPool`).
    let adapter = round / 100;
    let mut raw_up = Duration::ZERO;
    let mut raw_node = 0;
    let mut run_raw_upload = async || {
        let start = Instant::now();
        raw_node = raw_upload(&t, w, data, &format!("raw-{adapter}.bin")).await;
        raw_up = start.elapsed();
    };
    if raw_first {
        run_raw_upload().await;
    }
    let options = UploadOptions::new(w.enc_room, &format!("enc-{adapter}.bin"))
        .size(data.len() as u64)
        .chunk_size(CHUNK)
        .resolution(ResolutionStrategy::Overwrite);
    let start = Instant::now();
    client
        .upload_slice(data, w.pair.public_key(), &options, &mut |_| {})
        .await
        .expect("encrypted upload");
    let enc_up = start.elapsed();
    if !raw_first {
        run_raw_upload().await;
    }
    // The same file again through `upload` with a `Read` source (the slice as a reader): each
    // window is copied out of the reader, then encrypted in place. It replaces the file above,
    // and is the one downloaded below.
    let start = Instant::now();
    let up = client
        .upload(&data[..], w.pair.public_key(), &options, &mut |_| {})
        .await
        .expect("encrypted upload from a reader");
    let enc_up_read = start.elapsed();

    let mut raw_down = Duration::ZERO;
    let mut run_raw_download = async || {
        let start = Instant::now();
        let got = raw_download(&t, w, raw_node, data.len()).await;
        raw_down = start.elapsed();
        assert!(got == data[..], "raw round trip");
    };
    if raw_first {
        run_raw_download().await;
    }
    let start = Instant::now();
    let got = client
        .download_to_vec(
            up.node.id,
            &keys,
            &DownloadOptions::default().chunk_size(CHUNK as u64),
        )
        .await
        .expect("encrypted download");
    let enc_down = start.elapsed();
    assert!(got == data[..], "encrypted round trip");
    drop(got);
    if !raw_first {
        run_raw_download().await;
    }

    Times {
        enc_up,
        enc_up_read,
        raw_up,
        enc_down,
        raw_down,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let size_mib = get("--size-mib", 256);
    let rounds = get("--rounds", 3);
    let w = world();
    let data = Bytes::from(
        (0..size_mib << 20)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
            .collect::<Vec<u8>>(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    println!(
        "transfer: {size_mib} MiB, {rounds} rounds, 8 MiB chunks, in-process server on 127.0.0.1"
    );
    println!();
    println!(
        "| adapter | direction | encrypted (best) | raw HTTP (best) | best / best | median of rounds |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for adapter in [
        "async (ReqwestTransport)",
        "blocking (BlockingReqwestTransport)",
    ] {
        let mut runs: Vec<Times> = Vec::new();
        for round in 0..rounds {
            runs.push(if adapter.starts_with("async") {
                rt.block_on(race(
                    ReqwestTransport::new().expect("transport"),
                    &w,
                    &data,
                    round,
                ))
            } else {
                block_on(race(
                    Blocking(BlockingReqwestTransport::new().expect("transport")),
                    &w,
                    &data,
                    round + 100,
                ))
            });
        }
        let mibs = |d: Duration| size_mib as f64 / d.as_secs_f64();
        type Pick = fn(&Times) -> (Duration, Duration);
        let directions: [(&str, Pick); 3] = [
            ("upload", |t| (t.enc_up, t.raw_up)),
            ("upload (`Read`)", |t| (t.enc_up_read, t.raw_up)),
            ("download", |t| (t.enc_down, t.raw_down)),
        ];
        for (dir, pick) in directions {
            let best_enc = runs.iter().map(|t| pick(t).0).min().expect("a round");
            let best_raw = runs.iter().map(|t| pick(t).1).min().expect("a round");
            // Per-round ratios (raw time / encrypted time), median: robust to a slow round.
            let mut ratios: Vec<f64> = runs
                .iter()
                .map(|t| {
                    let (e, r) = pick(t);
                    r.as_secs_f64() / e.as_secs_f64()
                })
                .collect();
            ratios.sort_by(f64::total_cmp);
            println!(
                "| {adapter} | {dir} | {:.0} MiB/s | {:.0} MiB/s | {:.2} | {:.2} |",
                mibs(best_enc),
                mibs(best_raw),
                mibs(best_enc) / mibs(best_raw),
                ratios[ratios.len() / 2],
            );
        }
    }
    assert!(
        w.server.violations().is_empty(),
        "{:?}",
        w.server.violations()
    );
}
