//! The transport workflows through the REAL reqwest adapters (async and blocking) against the
//! in-process DRACOON test server on 127.0.0.1, with injected faults: 5xx, 429 with
//! Retry-After, dropped connections mid-chunk and mid-download, and a missing-keys list that
//! changes between pages. Every test checks that the server saw no violation (keys that do not
//! unwrap, chunks written twice with different bytes, tokens sent where they must not go).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use dracoon_crypto::transport::models::ResolutionStrategy;
use dracoon_crypto::transport::{
    Blocking, BlockingReqwestTransport, Bytes, CancelFlag, Client, DownloadOptions,
    DownloadShareOptions, Event, KeyRing, MissingKeysFilter, Progress, ReqwestTransport,
    RetryPolicy, UploadOptions, UploadShareOptions, UseKey, block_on, http,
};
use dracoon_crypto::{
    Error, Password, TransportErrorKind, UserKeyPair, UserKeyPairContainer, UserKeyPairVersion,
    encrypt_bytes,
};
use dracoon_crypto_testkit::{Fault, TestServer, TestUser};

const ITERATIONS: u32 = 1000;
const MIB: usize = 1024 * 1024;

fn pairs() -> &'static [UserKeyPair] {
    static P: OnceLock<Vec<UserKeyPair>> = OnceLock::new();
    P.get_or_init(|| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                std::thread::spawn(|| UserKeyPair::generate(UserKeyPairVersion::Rsa2048).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn password(i: usize) -> Password {
    Password::new(format!("pw-{i}"))
}

fn container(i: usize) -> UserKeyPairContainer {
    pairs()[i]
        .hazmat_to_container_with_iterations(&password(i), ITERATIONS)
        .unwrap()
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 13) as u8)
        .collect()
}

/// A server with three users with key pairs 0, 1, 2 and an encrypted room of all three.
struct World {
    server: TestServer,
    users: Vec<TestUser>,
    room: i64,
}

fn world() -> World {
    let server = TestServer::start().unwrap();
    let mut users = Vec::new();
    for (i, login) in ["alice", "bob", "carol"].iter().enumerate() {
        let u = server.create_user(login);
        server.add_user_key_pair(u.id, container(i), &pairs()[i]);
        users.push(u);
    }
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let room = server.create_room("Finance", true, &ids);
    World {
        server,
        users,
        room,
    }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_base_delay(Duration::from_millis(20))
        .with_max_delay(Duration::from_millis(200))
        .with_max_retry_after(Duration::from_secs(2))
}

/// Events as strings, to check them for secrets.
type Log = Arc<Mutex<Vec<String>>>;

fn blocking_client(
    w: &World,
    user: usize,
    log: &Log,
) -> Client<Blocking<BlockingReqwestTransport>> {
    let log = Arc::clone(log);
    Client::new(
        Blocking(BlockingReqwestTransport::new().unwrap()),
        &w.server.base_url(),
    )
    .unwrap()
    .with_auth_token(&w.users[user].token)
    .with_retry_policy(fast_retries())
    .with_event_handler(move |e| log.lock().unwrap().push(format!("{e:?}")))
}

fn async_client(w: &World, user: usize, log: &Log) -> Client<ReqwestTransport> {
    let log = Arc::clone(log);
    Client::new(ReqwestTransport::new().unwrap(), &w.server.base_url())
        .unwrap()
        .with_auth_token(&w.users[user].token)
        .with_retry_policy(fast_retries())
        .with_event_handler(move |e| log.lock().unwrap().push(format!("{e:?}")))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// No token, no presigned URL, no upload/download URL in any event or error text.
fn assert_no_secrets(w: &World, texts: &[String]) {
    for t in texts {
        for u in &w.users {
            assert!(!t.contains(&u.token), "token leaked: {t}");
        }
        assert!(!t.contains("X-Amz"), "presigned URL leaked: {t}");
        assert!(!t.contains("://"), "URL leaked: {t}");
    }
}

fn assert_clean(w: &World) {
    let v = w.server.violations();
    assert!(v.is_empty(), "server violations: {v:#?}");
    // The token only ever went to authenticated API endpoints.
    for r in w.server.requests() {
        let public = r.path.starts_with("/api/v4/uploads/")
            || r.path.starts_with("/api/v4/downloads/")
            || r.path.starts_with("/api/v4/public/")
            || r.path.starts_with("/s3/");
        if public {
            assert!(r.authorization.is_none(), "auth header sent to {}", r.path);
        }
    }
}

fn ring(i: usize) -> KeyRing {
    KeyRing::new(vec![pairs()[i].clone()])
}

#[test]
fn async_upload_of_tens_of_mib_distribute_and_download_by_others() {
    let w = world();
    let log: Log = Log::default();
    let rt = runtime();
    let plain = data(24 * MIB + 12_345, 7);
    let alice = async_client(&w, 0, &log);
    let progress_seen = Arc::new(Mutex::new(Vec::new()));
    let node = rt.block_on(async {
        let kp = alice.preferred_user_key_pair().await.unwrap();
        let keys = alice.key_ring(&password(0), None, None).await.unwrap();
        assert_eq!(keys.pairs().len(), 1);
        let public =
            dracoon_crypto::UserPublicKey::from_container(&kp.public_key_container).unwrap();
        let options = UploadOptions::new(w.room, "figures.bin")
            .size(plain.len() as u64)
            .chunk_size(4 * MIB)
            .distribute(true);
        let p = Arc::clone(&progress_seen);
        let mut on_progress = move |pr: Progress| p.lock().unwrap().push(pr.bytes);
        let up = alice
            .upload(&plain[..], &public, &options, &mut on_progress)
            .await
            .unwrap();
        let report = up.distribution.unwrap();
        assert_eq!(report.distributed, 2, "{report:?}");
        assert!(report.skipped.is_empty());
        up.node
    });
    assert_eq!(node.name, "figures.bin");
    let progress = progress_seen.lock().unwrap().clone();
    assert_eq!(progress.len(), 7);
    assert_eq!(*progress.last().unwrap(), plain.len() as u64);
    assert_eq!(w.server.find_file(w.room, "figures.bin"), Some(node.id));
    assert!(w.server.missing_keys().is_empty());

    // Bob downloads and decrypts (async), Carol too (blocking, to a file).
    let bob = async_client(&w, 1, &log);
    let got = rt
        .block_on(bob.download_to_vec(
            node.id,
            &ring(1),
            &DownloadOptions::default().chunk_size(3 * MIB as u64),
        ))
        .unwrap();
    assert!(got == plain, "bob's plaintext differs");
    drop(rt);
    let carol = blocking_client(&w, 2, &log);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("figures.bin");
    let n = block_on(carol.download_to_path(
        node.id,
        &ring(2),
        &out,
        &DownloadOptions::default(),
        &mut |_| {},
    ))
    .unwrap();
    assert_eq!(n, plain.len() as u64);
    assert!(std::fs::read(&out).unwrap() == plain);

    // Chunks carried RFC 7233 inclusive ranges with the total.
    let ranges: Vec<String> = w
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/api/v4/uploads/"))
        .filter_map(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k == "content-range")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert_eq!(ranges.len(), 7);
    assert_eq!(
        ranges[0],
        format!("bytes 0-{}/{}", 4 * MIB - 1, plain.len())
    );
    assert_eq!(
        ranges[6],
        format!("bytes {}-{}/{}", 24 * MIB, plain.len() - 1, plain.len())
    );
    assert_clean(&w);
    assert_no_secrets(&w, &log.lock().unwrap());
}

fn chunk_faults(w: &World) {
    w.server.inject(Fault::Status {
        method: "POST",
        path_prefix: "/uploads/".into(),
        status: 503,
        retry_after: None,
        count: 2,
    });
    w.server.inject(Fault::DropConnection {
        method: "POST",
        path_prefix: "/uploads/".into(),
        after_bytes: 300_000,
        count: 1,
    });
    w.server.inject(Fault::Status {
        method: "POST",
        path_prefix: "/uploads/".into(),
        status: 429,
        retry_after: Some(1),
        count: 1,
    });
}

#[test]
fn blocking_upload_survives_5xx_429_and_a_dropped_chunk() {
    let w = world();
    let log: Log = Log::default();
    let alice = blocking_client(&w, 0, &log);
    let plain = data(3 * MIB + 5, 1);
    chunk_faults(&w);
    let started = std::time::Instant::now();
    let options = UploadOptions::new(w.room, "faulty.bin")
        .size(plain.len() as u64)
        .chunk_size(MIB)
        .also_for(w.users[1].id, pairs()[1].public_key().clone());
    let up =
        block_on(alice.upload(&plain[..], pairs()[0].public_key(), &options, &mut |_| {})).unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After not honoured"
    );
    // Bob got his key at completion (userFileKeyList), Carol did not.
    assert!(w.server.file_key(up.node.id, w.users[1].id).is_some());
    assert!(w.server.file_key(up.node.id, w.users[2].id).is_none());
    let bob = blocking_client(&w, 1, &log);
    let got =
        block_on(bob.download_to_vec(up.node.id, &ring(1), &DownloadOptions::default())).unwrap();
    assert!(got == plain);
    // Nothing lost, nothing duplicated: exactly the right ciphertext length is stored.
    assert_eq!(
        w.server.file_content(up.node.id).unwrap().len(),
        plain.len()
    );
    let retries: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.contains("upload chunk"))
        .cloned()
        .collect();
    assert!(retries.len() >= 4, "{retries:?}");
    assert_clean(&w);
    assert_no_secrets(&w, &log.lock().unwrap());
}

#[test]
fn async_upload_survives_chunk_faults_too() {
    let w = world();
    let log: Log = Log::default();
    let alice = async_client(&w, 0, &log);
    let plain = data(2 * MIB + 77, 2);
    chunk_faults(&w);
    let rt = runtime();
    let options = UploadOptions::new(w.room, "faulty.bin").chunk_size(MIB); // no size: total `*`
    let up = rt
        .block_on(alice.upload(&plain[..], pairs()[0].public_key(), &options, &mut |_| {}))
        .unwrap();
    let got = rt
        .block_on(alice.download_to_vec(up.node.id, &ring(0), &DownloadOptions::default()))
        .unwrap();
    assert!(got == plain);
    assert_clean(&w);
    assert_no_secrets(&w, &log.lock().unwrap());
}

#[test]
fn downloads_resume_after_dropped_connections_through_both_adapters() {
    let w = world();
    let log: Log = Log::default();
    let plain = data(5 * MIB + 3, 3);
    let (ct, key) = encrypt_bytes(&plain).unwrap();
    let mine = pairs()[0].public_key().wrap_file_key(&key).unwrap();
    let file = w
        .server
        .put_file(w.room, "big.bin", ct, &key, &[(w.users[0].id, mine)]);

    for round in 0..2 {
        w.server.inject(Fault::DropConnection {
            method: "GET",
            path_prefix: "/downloads/".into(),
            after_bytes: 700_000,
            count: 2,
        });
        w.server.inject(Fault::Status {
            method: "GET",
            path_prefix: "/downloads/".into(),
            status: 502,
            retry_after: None,
            count: 1,
        });
        let options = DownloadOptions::default().chunk_size(2 * MIB as u64);
        let got = if round == 0 {
            let c = blocking_client(&w, 0, &log);
            block_on(c.download_to_vec(file, &ring(0), &options)).unwrap()
        } else {
            let c = async_client(&w, 0, &log);
            runtime()
                .block_on(c.download_to_vec(file, &ring(0), &options))
                .unwrap()
        };
        assert!(got == plain, "round {round}");
    }
    // Every retried range started where the previous one stopped (no gaps, no overlaps).
    let ranges: Vec<String> = w
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/v4/downloads/"))
        .filter_map(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k == "range")
                .map(|(_, v)| format!("{} {}", v, r.status))
        })
        .collect();
    assert!(ranges.iter().any(|r| r.ends_with(" 0")), "{ranges:?}");
    assert!(ranges.iter().all(|r| r.starts_with("bytes=")), "{ranges:?}");
    assert_clean(&w);
    assert_no_secrets(&w, &log.lock().unwrap());
}

#[test]
fn tampered_download_is_refused_and_leaves_no_file() {
    let w = world();
    let log: Log = Log::default();
    let plain = data(100_000, 4);
    let (mut ct, key) = encrypt_bytes(&plain).unwrap();
    ct[50_000] ^= 1;
    let mine = pairs()[0].public_key().wrap_file_key(&key).unwrap();
    let file = w
        .server
        .put_file(w.room, "evil.bin", ct, &key, &[(w.users[0].id, mine)]);
    let c = blocking_client(&w, 0, &log);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("evil.bin");
    let err = block_on(c.download_to_path(
        file,
        &ring(0),
        &out,
        &DownloadOptions::default(),
        &mut |_| {},
    ))
    .unwrap_err();
    assert!(matches!(err, Error::BadFile), "{err:?}");
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn s3_upload_with_part_faults_through_both_adapters() {
    let w = world();
    let log: Log = Log::default();
    for (round, len) in [(0usize, 11 * MIB + 9), (1, 0)] {
        let plain = data(len, 5);
        w.server.inject(Fault::Status {
            method: "PUT",
            path_prefix: "/s3/".into(),
            status: 500,
            retry_after: None,
            count: 1,
        });
        w.server.inject(Fault::DropConnection {
            method: "PUT",
            path_prefix: "/s3/".into(),
            after_bytes: 1_000_000,
            count: 1,
        });
        let name = format!("s3-{round}.bin");
        let options = UploadOptions::new(w.room, &name)
            .size(len as u64)
            .s3(true)
            .chunk_size(MIB) // raised to the 5 MiB minimum
            .distribute(true);
        let up = if round == 0 {
            let c = async_client(&w, 0, &log);
            runtime()
                .block_on(c.upload(&plain[..], pairs()[0].public_key(), &options, &mut |_| {}))
                .unwrap()
        } else {
            let c = blocking_client(&w, 0, &log);
            block_on(c.upload(&plain[..], pairs()[0].public_key(), &options, &mut |_| {})).unwrap()
        };
        assert_eq!(up.distribution.unwrap().distributed, 2);
        let bob = blocking_client(&w, 1, &log);
        let got = block_on(bob.download_to_vec(up.node.id, &ring(1), &DownloadOptions::default()))
            .unwrap();
        assert!(got == plain, "round {round}");
    }
    let parts = w
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.starts_with("/s3/") && r.status == 200)
        .count();
    assert_eq!(
        parts,
        3 + 1,
        "three parts of 5, 5 and 1 MiB, one empty part"
    );
    assert_clean(&w);
    assert_no_secrets(&w, &log.lock().unwrap());
}

/// `n` files in the room (`"file {i}"` in `f{i}.txt`) whose keys only alice has.
fn files_only_alice_can_read(w: &World, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| {
            let (ct, key) = encrypt_bytes(format!("file {i}").as_bytes()).unwrap();
            let mine = pairs()[0].public_key().wrap_file_key(&key).unwrap();
            w.server.put_file(
                w.room,
                &format!("f{i}.txt"),
                ct,
                &key,
                &[(w.users[0].id, mine)],
            )
        })
        .collect()
}

/// A distribution request by name: `list {offset}` or `set`; `None` for any other request.
fn distribution_request(method: &str, path: &str, query: &str) -> Option<String> {
    let offset = query.split('&').find_map(|kv| kv.strip_prefix("offset="));
    match (method, offset) {
        ("GET", Some(offset)) if path.ends_with("/nodes/missingFileKeys") => {
            Some(format!("list {offset}"))
        }
        ("POST", _) if path.ends_with("/nodes/files/keys") => Some("set".into()),
        _ => None,
    }
}

/// The distribution requests in the order the server received them.
fn distribution_requests(w: &World) -> Vec<String> {
    w.server
        .requests()
        .iter()
        .filter_map(|r| distribution_request(&r.method, &r.path, &r.query))
        .collect()
}

/// The async adapter's distribution makes the same requests in the same order as the
/// blocking one's (`blocking_distribution_sets_and_lists_while_the_rsa_work_runs`): each
/// page's list goes out before the keys of the page before it are set, so it was sent
/// while that page's RSA work ran.
#[test]
fn async_distribution_lists_the_next_page_before_setting_the_last_keys() {
    let w = world();
    let log: Log = Log::default();
    files_only_alice_can_read(&w, 120);
    let alice = async_client(&w, 0, &log);
    let rt = runtime();
    let keys = rt
        .block_on(alice.key_ring(&password(0), None, None))
        .unwrap();
    let report = rt
        .block_on(alice.distribute_missing_keys(&keys, &MissingKeysFilter::new()))
        .unwrap();
    assert!(report.complete, "{report:?}");
    assert_eq!(report.distributed, 240, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    assert!(w.server.missing_keys().is_empty());
    assert_eq!(
        distribution_requests(&w),
        [
            "list 0", "list 100", "set", "list 100", "set", "set", "list 0"
        ]
    );
    assert_clean(&w);
}

#[test]
fn distribution_pages_through_a_changing_list_without_skipping_or_looping() {
    let w = world();
    let log: Log = Log::default();
    let dave = w.server.create_user("dave");
    w.server
        .add_user_key_pair(dave.id, container(3), &pairs()[3]);
    // Dave has two key pairs (A is the only version here, so one; Erin gets a second one).
    let erin = w.server.create_user("erin");
    w.server
        .add_user_key_pair(erin.id, container(4), &pairs()[4]);
    w.server.add_room_member(w.room, erin.id);
    // A user without a key pair cannot be served (the server does not list such users).
    let frank = w.server.create_user("frank");
    w.server.add_room_member(w.room, frank.id);

    let files = files_only_alice_can_read(&w, 130);
    // 130 files x (bob, carol, erin) missing; after the first page Dave joins too.
    w.server.inject(Fault::AddRoomMemberAfterMissingKeysPage {
        room_id: w.room,
        user_id: dave.id,
    });
    w.server.inject(Fault::Status {
        method: "GET",
        path_prefix: "/nodes/missingFileKeys".into(),
        status: 503,
        retry_after: None,
        count: 1,
    });
    w.server.inject(Fault::Status {
        method: "POST",
        path_prefix: "/nodes/files/keys".into(),
        status: 429,
        retry_after: Some(0),
        count: 1,
    });
    let alice = blocking_client(&w, 0, &log);
    let keys = block_on(alice.key_ring(&password(0), None, None)).unwrap();
    let report = block_on(alice.distribute_missing_keys(&keys, &MissingKeysFilter::new())).unwrap();
    assert!(report.complete);
    assert_eq!(report.distributed, 130 * 4, "{report:?}");
    // Pairs listed again while their keys were being set (Dave's entries move the list) are
    // not taken for pairs still missing after the set.
    assert!(report.skipped.is_empty(), "{report:?}");
    let remaining: Vec<_> = w
        .server
        .missing_keys()
        .into_iter()
        .filter(|(_, u)| *u != frank.id)
        .collect();
    assert!(remaining.is_empty(), "{remaining:?}");
    // Every list request asked for at most 100 entries.
    for r in w.server.requests() {
        if r.path == "/api/v4/nodes/missingFileKeys" {
            assert!(r.query.contains("limit=100"), "{}", r.query);
        }
    }
    // Dave reads a file now.
    let d = Client::new(
        Blocking(BlockingReqwestTransport::new().unwrap()),
        &w.server.base_url(),
    )
    .unwrap()
    .with_auth_token(&dave.token);
    let got =
        block_on(d.download_to_vec(files[129], &ring(3), &DownloadOptions::default())).unwrap();
    assert_eq!(got, b"file 129");
    assert_clean(&w);
    assert_no_secrets(&w, &log.lock().unwrap());
}

#[test]
fn async_distribution_with_filters() {
    let w = world();
    let log: Log = Log::default();
    let mut files = Vec::new();
    for i in 0..3 {
        let (ct, key) = encrypt_bytes(b"abc").unwrap();
        let mine = pairs()[0].public_key().wrap_file_key(&key).unwrap();
        files.push(
            w.server
                .put_file(w.room, &format!("g{i}"), ct, &key, &[(w.users[0].id, mine)]),
        );
    }
    let alice = async_client(&w, 0, &log);
    let rt = runtime();
    let keys = rt
        .block_on(alice.key_ring(&password(0), None, None))
        .unwrap();
    let only = MissingKeysFilter::new().file(files[1]).user(w.users[2].id);
    let r = rt
        .block_on(alice.distribute_missing_keys(&keys, &only))
        .unwrap();
    assert_eq!(r.distributed, 1);
    assert!(w.server.file_key(files[1], w.users[2].id).is_some());
    assert!(w.server.file_key(files[1], w.users[1].id).is_none());
    let room = MissingKeysFilter::new().room(w.room);
    let r = rt
        .block_on(alice.distribute_missing_keys(&keys, &room))
        .unwrap();
    assert_eq!(r.distributed, 5);
    assert!(w.server.missing_keys().is_empty());
    assert_clean(&w);
}

#[test]
fn rescue_keys_are_served_and_used_via_use_key() {
    let w = world();
    let log: Log = Log::default();
    // Room rescue key pair (pair 4) and system rescue key pair (pair 5), set through the API.
    let alice = blocking_client(&w, 0, &log);
    block_on(alice.set_room_rescue_key_pair(w.room, &container(4))).unwrap();
    block_on(alice.set_system_rescue_key_pair(&container(5))).unwrap();
    let fetched = block_on(alice.room_rescue_key_pair(w.room, None)).unwrap();
    assert_eq!(
        fetched.public_key_container.public_key,
        container(4).public_key_container.public_key
    );
    let fetched = block_on(alice.system_rescue_key_pair(None)).unwrap();
    assert_eq!(
        fetched.public_key_container.public_key,
        container(5).public_key_container.public_key
    );

    let (ct, key) = encrypt_bytes(b"rescued").unwrap();
    let mine = pairs()[0].public_key().wrap_file_key(&key).unwrap();
    let file = w
        .server
        .put_file(w.room, "r.txt", ct, &key, &[(w.users[0].id, mine)]);
    // Alice serves everyone, the rescue keys first (they are ordinary list entries).
    let keys = block_on(alice.key_ring(&password(0), None, None)).unwrap();
    let r = block_on(alice.distribute_missing_keys(&keys, &MissingKeysFilter::new())).unwrap();
    assert_eq!(r.distributed, 4, "{r:?}"); // bob, carol, room rescue, system rescue
    assert!(w.server.missing_keys().is_empty());

    // Dave joins; Bob, holding the room rescue password, serves him from the rescue key.
    let dave = w.server.create_user("dave");
    w.server
        .add_user_key_pair(dave.id, container(3), &pairs()[3]);
    w.server.add_room_member(w.room, dave.id);
    let bob = blocking_client(&w, 1, &log);
    let rescue =
        block_on(bob.key_ring(&password(4), Some(UseKey::RoomRescueKey), Some(w.room))).unwrap();
    let filter = MissingKeysFilter::new()
        .room(w.room)
        .use_key(UseKey::RoomRescueKey);
    let r = block_on(bob.distribute_missing_keys(&rescue, &filter)).unwrap();
    assert_eq!(r.distributed, 1, "{r:?}");
    assert!(w.server.file_key(file, dave.id).is_some());

    // The system rescue key works the same way.
    let erin = w.server.create_user("erin");
    w.server
        .add_user_key_pair(erin.id, container(2), &pairs()[2]);
    w.server.add_room_member(w.room, erin.id);
    let system =
        block_on(alice.key_ring(&password(5), Some(UseKey::SystemRescueKey), None)).unwrap();
    let filter = MissingKeysFilter::new().use_key(UseKey::SystemRescueKey);
    let r = block_on(alice.distribute_missing_keys(&system, &filter)).unwrap();
    assert_eq!(r.distributed, 1, "{r:?}");
    assert!(w.server.missing_keys().is_empty());
    // A wrong rescue password is reported as such.
    let err = block_on(bob.key_ring(&password(0), Some(UseKey::RoomRescueKey), Some(w.room)))
        .unwrap_err();
    assert!(matches!(err, Error::WrongPassword), "{err:?}");
    assert_clean(&w);
}

#[test]
fn encrypted_download_share_created_and_opened_from_the_public_side() {
    let w = world();
    let log: Log = Log::default();
    let plain = data(1_500_000, 6);
    let (ct, key) = encrypt_bytes(&plain).unwrap();
    let mine = pairs()[0].public_key().wrap_file_key(&key).unwrap();
    let file = w
        .server
        .put_file(w.room, "shared.bin", ct, &key, &[(w.users[0].id, mine)]);
    let share_pw = Password::new("share pässword");
    w.server.add_share_password(&share_pw);
    let alice = blocking_client(&w, 0, &log);
    let options = DownloadShareOptions::default()
        .name("for the auditors")
        .key_pair_version(UserKeyPairVersion::Rsa2048);
    let share =
        block_on(alice.create_encrypted_download_share(file, &ring(0), &share_pw, &options))
            .unwrap();
    assert!(!share.access_key.is_empty());
    // The share password never went over the wire.
    assert!(
        w.server
            .requests()
            .iter()
            .all(|r| !r.query.contains("share"))
    );

    // Anyone with the link and the password (no token at all).
    let public = Client::new(ReqwestTransport::new().unwrap(), &w.server.base_url())
        .unwrap()
        .with_retry_policy(fast_retries());
    let rt = runtime();
    w.server.inject(Fault::DropConnection {
        method: "GET",
        path_prefix: "/public/shares/downloads/".into(),
        after_bytes: 200_000,
        count: 1,
    });
    let got = rt
        .block_on(public.download_share_to_vec(
            &share.access_key,
            &share_pw,
            &DownloadOptions::default().chunk_size(512 * 1024),
        ))
        .unwrap();
    assert!(got == plain);
    let err = rt
        .block_on(public.open_download_share(&share.access_key, &Password::new("wrong")))
        .unwrap_err();
    assert!(matches!(err, Error::WrongPassword), "{err:?}");
    assert_clean(&w);
}

#[test]
fn upload_into_an_encrypted_upload_share_wraps_for_every_listed_user() {
    let w = world();
    let log: Log = Log::default();
    let access_key = w.server.create_upload_share(w.room);
    for (round, s3) in [(0, false), (1, true)] {
        let plain = data(if s3 { 6 * MIB } else { 2 * MIB + 1 }, 9);
        let name = format!("drop-{round}.bin");
        let options = UploadShareOptions::new(&name)
            .size(plain.len() as u64)
            .chunk_size(MIB)
            .s3(s3);
        let anonymous = Client::new(
            Blocking(BlockingReqwestTransport::new().unwrap()),
            &w.server.base_url(),
        )
        .unwrap()
        .with_retry_policy(fast_retries());
        w.server.inject(Fault::Status {
            method: "*",
            path_prefix: if s3 {
                "/s3/".into()
            } else {
                "/uploads/".into()
            },
            status: 503,
            retry_after: None,
            count: 1,
        });
        block_on(anonymous.upload_to_share(&access_key, &plain[..], &options, &mut |_| {}))
            .unwrap();
        let file = w.server.find_file(w.room, &name).unwrap();
        for (i, u) in w.users.iter().enumerate() {
            assert!(w.server.file_key(file, u.id).is_some(), "user {i}");
            let c = blocking_client(&w, i, &log);
            let got =
                block_on(c.download_to_vec(file, &ring(i), &DownloadOptions::default())).unwrap();
            assert!(got == plain);
        }
    }
    assert_clean(&w);
}

#[test]
fn resolution_strategy_conflicts_are_api_errors_not_retried() {
    let w = world();
    let log: Log = Log::default();
    let alice = blocking_client(&w, 0, &log);
    let o = UploadOptions::new(w.room, "same.txt");
    block_on(alice.upload(&b"one"[..], pairs()[0].public_key(), &o, &mut |_| {})).unwrap();
    let o2 = o.clone().resolution(ResolutionStrategy::Fail);
    let err =
        block_on(alice.upload(&b"two"[..], pairs()[0].public_key(), &o2, &mut |_| {})).unwrap_err();
    match &err {
        Error::Api { status, code, .. } => {
            assert_eq!(*status, 409);
            assert!(matches!(code, Some(-40010 | -41001)), "{code:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.class(), "api");
    let o3 = o.resolution(ResolutionStrategy::Overwrite);
    let up =
        block_on(alice.upload(&b"three"[..], pairs()[0].public_key(), &o3, &mut |_| {})).unwrap();
    let got =
        block_on(alice.download_to_vec(up.node.id, &ring(0), &DownloadOptions::default())).unwrap();
    assert_eq!(got, b"three");
    let completes = w
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.starts_with("/api/v4/uploads/") && r.status == 409)
        .count();
    assert_eq!(completes, 1, "a 409 must not be retried");
    assert_no_secrets(&w, &[err.to_string()]);
    assert_clean(&w);
}

#[test]
fn cancel_and_permanent_failures_delete_the_channel_and_leak_nothing() {
    let w = world();
    let log: Log = Log::default();
    let alice = blocking_client(&w, 0, &log);
    let flag = CancelFlag::new();
    let f2 = flag.clone();
    let o = UploadOptions::new(w.room, "cancelled.bin")
        .chunk_size(100_000)
        .cancel(flag);
    let plain = data(1_000_000, 1);
    let err = block_on(
        alice.upload(&plain[..], pairs()[0].public_key(), &o, &mut |p| {
            if p.bytes >= 200_000 {
                f2.cancel();
            }
        }),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind() == TransportErrorKind::Cancelled),
        "{err:?}"
    );
    assert!(w.server.find_file(w.room, "cancelled.bin").is_none());
    let deletes = |w: &World| {
        w.server
            .requests()
            .iter()
            .filter(|r| r.method == "DELETE" && r.path.starts_with("/api/v4/uploads/"))
            .count()
    };
    assert_eq!(deletes(&w), 1);

    // A chunk that keeps failing: bounded retries, then the channel is deleted.
    w.server.inject(Fault::Status {
        method: "POST",
        path_prefix: "/uploads/".into(),
        status: 500,
        retry_after: None,
        count: 1000,
    });
    let alice = blocking_client(&w, 0, &log).with_retry_policy(fast_retries().with_max_retries(2));
    let err = block_on(alice.upload(
        &plain[..],
        pairs()[0].public_key(),
        &UploadOptions::new(w.room, "doomed.bin"),
        &mut |_| {},
    ))
    .unwrap_err();
    assert!(matches!(err, Error::Api { status: 500, .. }), "{err:?}");
    assert_eq!(deletes(&w), 2);
    let attempts = w
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/api/v4/uploads/"))
        .count();
    assert_eq!(attempts, 2 + 3, "2 cancelled-run chunks + 3 attempts");

    // A server that is not there: a connection error, retried, then reported without URL.
    let dead = Client::new(
        Blocking(BlockingReqwestTransport::new().unwrap()),
        "http://127.0.0.1:9",
    )
    .unwrap()
    .with_auth_token("tok-123")
    .with_retry_policy(fast_retries().with_max_retries(1));
    let err = block_on(dead.user_key_pair(None)).unwrap_err();
    assert_eq!(err.class(), "transport");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("127.0.0.1") && !text.contains("tok-123"),
        "{text}"
    );
    let mut texts: Vec<String> = log.lock().unwrap().clone();
    texts.push(text);
    assert_no_secrets(&w, &texts);
    assert_clean(&w);
}

#[test]
fn unknown_key_versions_from_the_server_are_skipped_not_fatal() {
    // Fed through a closure transport: the server lists a key pair of an unknown version.
    let good = container(0);
    let mut bad = serde_json::to_value(container(1)).unwrap();
    bad["privateKeyContainer"]["version"] = "RSA-16384".into();
    bad["publicKeyContainer"]["version"] = "RSA-16384".into();
    let body = serde_json::to_vec(&serde_json::json!([bad, good])).unwrap();
    let transport = move |_req: http::Request<Bytes>| {
        Ok::<_, dracoon_crypto::TransportError>(http::Response::new(Bytes::from(body.clone())))
    };
    let skipped = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&skipped);
    let c = Client::new(Blocking(transport), "http://127.0.0.1:1")
        .unwrap()
        .with_event_handler(move |e| {
            if let Event::Skipped(s) = e {
                s2.lock().unwrap().push(s.reason.to_string());
            }
        });
    let keys = block_on(c.key_ring(&password(0), None, None)).unwrap();
    assert_eq!(keys.pairs().len(), 1);
    assert_eq!(skipped.lock().unwrap().len(), 1);
    let set: HashSet<_> = skipped.lock().unwrap().iter().cloned().collect();
    assert!(
        set.iter().all(|s| s.contains("key pair skipped")),
        "{set:?}"
    );
}

fn rsa4096() -> &'static UserKeyPair {
    static K: OnceLock<UserKeyPair> = OnceLock::new();
    K.get_or_init(|| UserKeyPair::generate(UserKeyPairVersion::Rsa4096).unwrap())
}

#[test]
fn two_key_pairs_per_user_own_key_picked_by_version_every_public_key_served() {
    let w = world();
    let log: Log = Log::default();
    // Alice and Bob also hold an RSA-4096 key pair (the same one, for speed: the server only
    // needs each holder's key to unwrap what was wrapped for it).
    let big = rsa4096();
    let big_container = |i: usize| {
        big.hazmat_to_container_with_iterations(&password(i), ITERATIONS)
            .unwrap()
    };
    w.server
        .add_user_key_pair(w.users[0].id, big_container(0), big);
    w.server
        .add_user_key_pair(w.users[1].id, big_container(1), big);
    // File 1 carries Alice's key for her A key pair, file 2 for her RSA-4096 one.
    let mut files = Vec::new();
    for (i, kp) in [&pairs()[0], big].into_iter().enumerate() {
        let (ct, key) = encrypt_bytes(format!("v{i}").as_bytes()).unwrap();
        let mine = kp.public_key().wrap_file_key(&key).unwrap();
        files.push(
            w.server
                .put_file(w.room, &format!("v{i}"), ct, &key, &[(w.users[0].id, mine)]),
        );
    }
    let alice = blocking_client(&w, 0, &log);
    let keys = block_on(alice.key_ring(&password(0), None, None)).unwrap();
    assert_eq!(keys.pairs().len(), 2, "both key pairs unlocked");
    let r = block_on(alice.distribute_missing_keys(&keys, &MissingKeysFilter::new())).unwrap();
    assert_eq!(r.distributed, 4, "{r:?}"); // 2 files x (bob, carol)
    assert_eq!(r.keys_set, 6, "{r:?}"); // bob has two public keys, carol one
    assert!(w.server.missing_keys().is_empty());
    // Bob reads both with either of his key pairs.
    let bob = blocking_client(&w, 1, &log);
    for (i, f) in files.iter().enumerate() {
        for kp in [&pairs()[1], big] {
            let got = block_on(bob.download_to_vec(
                *f,
                &KeyRing::new(vec![kp.clone()]),
                &DownloadOptions::default(),
            ));
            // The server hands out one of Bob's keys; the matching key pair opens it.
            if let Ok(got) = got {
                assert_eq!(got, format!("v{i}").as_bytes());
            }
        }
        let both = KeyRing::new(vec![pairs()[1].clone(), big.clone()]);
        let got = block_on(bob.download_to_vec(*f, &both, &DownloadOptions::default())).unwrap();
        assert_eq!(got, format!("v{i}").as_bytes());
    }
    assert_clean(&w);
}

#[test]
fn empty_files_upload_and_download_with_a_verified_tag() {
    let w = world();
    let log: Log = Log::default();
    let alice = blocking_client(&w, 0, &log);
    let o = UploadOptions::new(w.room, "empty.txt")
        .size(0)
        .distribute(true);
    let up =
        block_on(alice.upload(std::io::empty(), pairs()[0].public_key(), &o, &mut |_| {})).unwrap();
    let chunks = w
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/api/v4/uploads/"))
        .count();
    assert_eq!(chunks, 0, "an empty file is completed without chunks");
    let bob = async_client(&w, 1, &log);
    let rt = runtime();
    let (bob_keys, opts) = (ring(1), DownloadOptions::default());
    let fut = bob.download_to_vec(up.node.id, &bob_keys, &opts);
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&fut);
    assert_eq!(rt.block_on(fut).unwrap(), b"");
    // The upload future is Send too (spawnable on a multi-threaded runtime).
    let carol = async_client(&w, 2, &log);
    let data = [1u8; 10];
    let o = UploadOptions::new(w.room, "spawned.txt");
    let node = rt
        .block_on(async move {
            tokio::spawn(async move {
                carol
                    .upload(&data[..], pairs()[2].public_key(), &o, &mut |_| {})
                    .await
                    .map(|u| u.node.id)
            })
            .await
        })
        .unwrap()
        .unwrap();
    assert!(node > 0);
    assert_clean(&w);
}

#[test]
fn previous_user_key_migrates_own_file_keys_to_the_new_key_pair() {
    let w = world();
    let log: Log = Log::default();
    let (ct, key) = encrypt_bytes(b"old key, new key").unwrap();
    let mine = pairs()[0].public_key().wrap_file_key(&key).unwrap();
    let file = w
        .server
        .put_file(w.room, "old.txt", ct, &key, &[(w.users[0].id, mine)]);
    let alice = blocking_client(&w, 0, &log);
    block_on(alice.distribute_missing_keys(
        &block_on(alice.key_ring(&password(0), None, None)).unwrap(),
        &MissingKeysFilter::new(),
    ))
    .unwrap();
    // Alice moves to RSA-4096; her A key pair is preserved as "previous".
    let big = rsa4096();
    let c = big
        .hazmat_to_container_with_iterations(&password(0), ITERATIONS)
        .unwrap();
    w.server.add_user_key_pair(w.users[0].id, c, big);
    w.server
        .mark_previous_user_key_pair(w.users[0].id, UserKeyPairVersion::Rsa2048);
    let keys = block_on(alice.key_ring(&password(0), Some(UseKey::PreviousUserKey), None)).unwrap();
    assert_eq!(keys.pairs().len(), 2, "current and previous key pair");
    let filter = MissingKeysFilter::new()
        .user(w.users[0].id)
        .use_key(UseKey::PreviousUserKey);
    let r = block_on(alice.distribute_missing_keys(&keys, &filter)).unwrap();
    assert_eq!(r.distributed, 1, "{r:?}");
    assert!(r.skipped.is_empty(), "{r:?}");
    // With only the new key pair, Alice still reads the file.
    let got = block_on(alice.download_to_vec(
        file,
        &KeyRing::new(vec![big.clone()]),
        &DownloadOptions::default(),
    ))
    .unwrap();
    assert_eq!(got, b"old key, new key");
    assert_clean(&w);
}

#[test]
fn room_rescue_key_pair_created_through_the_api_serves_a_new_member() {
    let w = world();
    let log: Log = Log::default();
    let alice = async_client(&w, 0, &log);
    let rt = runtime();
    let rescue_pw = Password::new("room rescue ✓");
    let rescue = rt
        .block_on(alice.create_room_rescue_key_pair(
            w.room,
            UserKeyPairVersion::Rsa2048,
            &rescue_pw,
        ))
        .unwrap();
    let (ct, key) = encrypt_bytes(b"in case of emergency").unwrap();
    let mine = pairs()[0].public_key().wrap_file_key(&key).unwrap();
    let file = w
        .server
        .put_file(w.room, "e.txt", ct, &key, &[(w.users[0].id, mine)]);
    let keys = rt
        .block_on(alice.key_ring(&password(0), None, None))
        .unwrap();
    let r = rt
        .block_on(alice.distribute_missing_keys(&keys, &MissingKeysFilter::new()))
        .unwrap();
    assert_eq!(r.distributed, 3, "{r:?}"); // bob, carol and the room rescue key
    let dave = w.server.create_user("dave");
    w.server
        .add_user_key_pair(dave.id, container(3), &pairs()[3]);
    w.server.add_room_member(w.room, dave.id);
    let ring = rt
        .block_on(alice.key_ring(&rescue_pw, Some(UseKey::RoomRescueKey), Some(w.room)))
        .unwrap();
    assert_eq!(ring.pairs()[0], rescue);
    let filter = MissingKeysFilter::new()
        .room(w.room)
        .use_key(UseKey::RoomRescueKey);
    let r = rt
        .block_on(alice.distribute_missing_keys(&ring, &filter))
        .unwrap();
    assert_eq!(r.distributed, 1, "{r:?}");
    assert!(w.server.file_key(file, dave.id).is_some());
    assert_clean(&w);
}

/// What [`ThreadRecorder`] records of a request, if anything.
type RequestKey = Box<dyn Fn(&http::Request<Bytes>) -> Option<String> + Send + Sync>;

/// A blocking transport (the real adapter inside) that records, for every request that `key`
/// names, that name and the thread that sent it; with `hold`, the first request whose name
/// starts with the prefix waits until the receiver gets a signal.
struct ThreadRecorder {
    inner: BlockingReqwestTransport,
    key: RequestKey,
    hold: Option<(&'static str, Mutex<std::sync::mpsc::Receiver<()>>)>,
    seen: Mutex<Vec<(String, std::thread::ThreadId)>>,
}

impl ThreadRecorder {
    fn new(key: impl Fn(&http::Request<Bytes>) -> Option<String> + Send + Sync + 'static) -> Self {
        ThreadRecorder {
            inner: BlockingReqwestTransport::new().unwrap(),
            key: Box::new(key),
            hold: None,
            seen: Mutex::default(),
        }
    }

    /// Records the requests carrying `header`, by its value.
    fn by_header(header: http::header::HeaderName) -> Self {
        Self::new(move |request| {
            let value = request.headers().get(&header)?;
            Some(value.to_str().unwrap_or_default().to_owned())
        })
    }

    /// What was recorded so far, and a fresh start.
    fn take(&self) -> Vec<(String, std::thread::ThreadId)> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl dracoon_crypto::transport::BlockingTransport for ThreadRecorder {
    fn send(
        &self,
        request: http::Request<Bytes>,
        limit: dracoon_crypto::transport::BodyLimit,
    ) -> Result<http::Response<Bytes>, dracoon_crypto::TransportError> {
        if let Some(value) = (self.key)(&request) {
            if let Some((prefix, signal)) = &self.hold
                && value.starts_with(prefix)
            {
                signal
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(10))
                    .expect("the next chunk was not read while the first was in flight");
            }
            self.seen
                .lock()
                .unwrap()
                .push((value, std::thread::current().id()));
        }
        self.inner.send(request, limit)
    }
}

/// The blocking adapter's uploads are pipelined: the first chunk's request is held at the
/// transport until the source has been asked for the second chunk, which only happens if the
/// next chunk is read and encrypted while the current one is in flight. A serial upload loop
/// would make the held request time out, and the test fail.
#[test]
fn blocking_uploads_encrypt_the_next_chunk_while_one_is_sent() {
    use std::io::Read;
    use std::sync::mpsc;

    // At least the size below which the work is not overlapped (256 KiB).
    const CHUNK: usize = 512 * 1024;

    /// Signals once a read reaches beyond the first chunk.
    struct Source<'a> {
        data: &'a [u8],
        at: usize,
        beyond_first: mpsc::Sender<()>,
    }
    impl Read for Source<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at >= CHUNK {
                let _ = self.beyond_first.send(());
            }
            let n = buf.len().min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    let w = world();
    let (tx, rx) = mpsc::channel();
    // Holds the first chunk's request until the source signalled.
    let gate = ThreadRecorder {
        hold: Some(("bytes 0-", Mutex::new(rx))),
        ..ThreadRecorder::by_header(http::header::CONTENT_RANGE)
    };
    let alice = Client::new(Blocking(gate), &w.server.base_url())
        .unwrap()
        .with_auth_token(&w.users[0].token)
        .with_retry_policy(fast_retries());
    let plain = data(5 * CHUNK + 123, 7);
    let source = Source {
        data: &plain,
        at: 0,
        beyond_first: tx,
    };
    let mut acknowledged = Vec::new();
    let up = block_on(alice.upload(
        source,
        pairs()[0].public_key(),
        &UploadOptions::new(w.room, "pipelined.bin").chunk_size(CHUNK),
        &mut |p| acknowledged.push(p.bytes),
    ))
    .unwrap();
    let senders = alice.transport().0.take();
    let caller = std::thread::current().id();
    assert_eq!(senders.len(), 6, "{senders:?}");
    assert!(
        senders[..5].iter().all(|(_, t)| *t != caller),
        "chunks with a next one to encrypt are sent from a helper thread: {senders:?}"
    );
    assert_eq!(
        senders[5].1, caller,
        "the last chunk has nothing to overlap"
    );
    let ends: Vec<u64> = (1..=6)
        .map(|i| (i * CHUNK).min(plain.len()) as u64)
        .collect();
    assert_eq!(
        acknowledged, ends,
        "progress once per acknowledged chunk, in order"
    );
    let got =
        block_on(alice.download_to_vec(up.node.id, &ring(0), &DownloadOptions::default())).unwrap();
    assert!(got == plain);
}

/// `download_to_vec` through the blocking adapter fetches every chunk after the first on a
/// scoped thread (while the calling thread decrypts the last one), and the plaintext is intact.
#[test]
fn blocking_downloads_fetch_the_next_chunk_on_a_helper_thread() {
    let w = world();
    let log: Log = Log::default();
    let alice = blocking_client(&w, 0, &log);
    let plain = data(3 * MIB + 200_000, 9);
    let up = block_on(alice.upload(
        &plain[..],
        pairs()[0].public_key(),
        &UploadOptions::new(w.room, "fetched.bin"),
        &mut |_| {},
    ))
    .unwrap();
    let recorder = ThreadRecorder::by_header(http::header::RANGE);
    let bob = Client::new(Blocking(recorder), &w.server.base_url())
        .unwrap()
        .with_auth_token(&w.users[0].token)
        .with_retry_policy(fast_retries());
    let caller = std::thread::current().id();
    let expected: Vec<String> = (0..4)
        .map(|i| {
            let start = i * MIB;
            format!("bytes={start}-{}", (start + MIB).min(plain.len()) - 1)
        })
        .collect();
    let check = |what: &str| {
        let ranges = bob.transport().0.take();
        assert_eq!(
            ranges.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(),
            expected,
            "{what}: each range once, in order"
        );
        assert_eq!(
            ranges[0].1, caller,
            "{what}: the first chunk is fetched before anything overlaps"
        );
        assert!(
            ranges[1..].iter().all(|(_, t)| *t != caller),
            "{what}: later chunks are fetched while the caller decrypts"
        );
    };
    let options = DownloadOptions::default().chunk_size(MIB as u64);

    let got = block_on(bob.download_to_vec(up.node.id, &ring(0), &options)).unwrap();
    assert!(got == plain);
    check("download_to_vec");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fetched.bin");
    let n =
        block_on(bob.download_to_path(up.node.id, &ring(0), &path, &options, &mut |_| {})).unwrap();
    assert_eq!(n, plain.len() as u64);
    assert!(std::fs::read(&path).unwrap() == plain);
    check("download_to_path");

    let mut out = Vec::new();
    let mut seen = Vec::new();
    block_on(
        bob.download_to_writer(up.node.id, &ring(0), &mut out, &options, &mut |p| {
            seen.push(p.bytes)
        }),
    )
    .unwrap();
    assert!(out == plain);
    check("download_to_writer");
    let ends: Vec<u64> = (1..=4).map(|i| (i * MIB).min(plain.len()) as u64).collect();
    assert_eq!(seen, ends, "progress once per chunk, after it was spooled");
}

/// Distribution's requests overlap its RSA work: while a page's keys are unwrapped and wrapped,
/// the last page's keys are set and then the next page is listed, at the offset where it will
/// start once the current page's keys are set (FORMAT.md §6.1 lists from offset 0 after each
/// round: the same entries). Through the blocking adapter those requests go out from a helper
/// thread; a serial loop sends everything from the caller, and lists only after each POST.
/// Every pair is served once, nothing is skipped, and the run ends with the last page's keys
/// and a list from offset 0 made after them.
#[test]
fn blocking_distribution_sets_and_lists_while_the_rsa_work_runs() {
    let w = world();
    // 120 files x (bob, carol): 240 missing pairs, pages of 100, 100 and 40.
    files_only_alice_can_read(&w, 120);
    let recorder = ThreadRecorder::new(|request| {
        let uri = request.uri();
        distribution_request(
            request.method().as_str(),
            uri.path(),
            uri.query().unwrap_or_default(),
        )
    });
    let alice = Client::new(Blocking(recorder), &w.server.base_url())
        .unwrap()
        .with_auth_token(&w.users[0].token)
        .with_retry_policy(fast_retries());
    let keys = block_on(alice.key_ring(&password(0), None, None)).unwrap();
    let report = block_on(alice.distribute_missing_keys(&keys, &MissingKeysFilter::new())).unwrap();
    assert!(report.complete, "{report:?}");
    assert_eq!(report.distributed, 240, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    assert_eq!(report.list_requests, 4, "{report:?}");
    assert!(w.server.missing_keys().is_empty());

    let caller = std::thread::current().id();
    let seen = alice.transport().0.take();
    let (names, threads): (Vec<&str>, Vec<bool>) = seen
        .iter()
        .map(|(name, thread)| (name.as_str(), *thread == caller))
        .unzip();
    assert_eq!(
        names,
        [
            "list 0", "list 100", "set", "list 100", "set", "set", "list 0"
        ],
        "the next page is listed before this page's keys are set"
    );
    assert_eq!(
        threads,
        [true, false, false, false, false, true, true],
        "the first list and the last page's keys and list are the caller's; the rest overlaps RSA"
    );
}

#[test]
fn slice_uploads_chunked_s3_and_into_a_share_store_what_reader_uploads_store() {
    let w = world();
    let log: Log = Log::default();
    let access_key = w.server.create_upload_share(w.room);
    let rt = runtime();
    let cases = [
        (0usize, false, 0usize),
        (1, false, 1),
        (2, false, 3 * MIB + 5),
        (3, true, 11 * MIB + 9),
        (4, true, 0),
    ];
    for (round, s3, len) in cases {
        let plain = data(len, 40 + round as u8);
        let name = format!("slice-{round}.bin");
        // No declared size: a slice declares its own.
        let options = UploadOptions::new(w.room, &name).chunk_size(MIB).s3(s3);
        let up = if round % 2 == 0 {
            let c = blocking_client(&w, 0, &log);
            block_on(c.upload_slice(&plain, pairs()[0].public_key(), &options, &mut |_| {}))
                .unwrap()
        } else {
            let c = async_client(&w, 0, &log);
            let mut progress = |_| {};
            let fut = c.upload_slice(&plain, pairs()[0].public_key(), &options, &mut progress);
            fn assert_send<T: Send>(_: &T) {}
            assert_send(&fut);
            rt.block_on(fut).unwrap()
        };
        assert_eq!(up.node.size, Some(len as i64), "round {round}");
        let bob = blocking_client(&w, 0, &log);
        let got = block_on(bob.download_to_vec(up.node.id, &ring(0), &DownloadOptions::default()))
            .unwrap();
        assert!(got == plain, "round {round}");

        let share_name = format!("share-slice-{round}.bin");
        let share_options = UploadShareOptions::new(&share_name)
            .size(len as u64)
            .chunk_size(MIB)
            .s3(s3);
        let anonymous = Client::new(
            Blocking(BlockingReqwestTransport::new().unwrap()),
            &w.server.base_url(),
        )
        .unwrap();
        block_on(anonymous.upload_slice_to_share(&access_key, &plain, &share_options, &mut |_| {}))
            .unwrap();
        let file = w.server.find_file(w.room, &share_name).unwrap();
        let got =
            block_on(bob.download_to_vec(file, &ring(0), &DownloadOptions::default())).unwrap();
        assert!(got == plain, "share round {round}");
    }
    // Chunks of 1 MiB: 0 + 1 + 4 chunk POSTs; S3 parts of 5, 5 and 1 MiB plus one empty part.
    let requests = w.server.requests();
    let count = |method: &str, prefix: &str| {
        requests
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix) && r.status < 300)
            .count()
    };
    assert_eq!(count("POST", "/api/v4/uploads/"), 2 * 5);
    assert_eq!(count("PUT", "/s3/"), 2 * 4);

    // A declared size other than the slice's length fails before any request.
    let before = w.server.requests().len();
    let alice = blocking_client(&w, 0, &log);
    let wrong = UploadOptions::new(w.room, "wrong.bin").size(4);
    let err = block_on(alice.upload_slice(b"abc", pairs()[0].public_key(), &wrong, &mut |_| {}))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    let wrong_share = UploadShareOptions::new("wrong.bin").size(2);
    let anonymous = Client::new(
        Blocking(BlockingReqwestTransport::new().unwrap()),
        &w.server.base_url(),
    )
    .unwrap();
    let err =
        block_on(anonymous.upload_slice_to_share(&access_key, b"abc", &wrong_share, &mut |_| {}))
            .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert_eq!(
        w.server.requests().len(),
        before,
        "no request for a wrong size"
    );
    assert!(w.server.find_file(w.room, "wrong.bin").is_none());
    assert_clean(&w);
    assert_no_secrets(&w, &log.lock().unwrap());
}
