//! Unit tests of the workflows against a small in-memory fake server (a closure transport).
//! The real HTTP tests against the in-process test server are in tests/http.rs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;

use super::*;
use crate::file_key::EncryptedFileKey;
use crate::keys::{PublicKeyContainer, UserKeyPair};
use crate::version::UserKeyPairVersion;
use crate::{Error, PlainFileKey, encrypt_bytes};

fn pairs() -> &'static [UserKeyPair] {
    static P: OnceLock<Vec<UserKeyPair>> = OnceLock::new();
    P.get_or_init(|| {
        (0..3)
            .map(|_| UserKeyPair::generate(UserKeyPairVersion::Rsa2048).unwrap())
            .collect()
    })
}

#[derive(Default)]
struct Fake {
    /// user id -> public keys
    users: BTreeMap<i64, Vec<PublicKeyContainer>>,
    /// file id -> (plain key, keys by user)
    files: BTreeMap<i64, (PlainFileKey, HashMap<i64, Vec<EncryptedFileKey>>)>,
    /// Answer the next n requests with 503.
    fail_next: usize,
    /// Extra pairs listed that can never be served (user without keys).
    ghosts: Vec<(i64, i64)>,
    requests: Vec<String>,
    post_batches: usize,
}

impl Fake {
    fn missing(&self) -> Vec<(i64, i64)> {
        let mut out = self.ghosts.clone();
        for (fid, (_, keys)) in &self.files {
            for uid in self.users.keys() {
                if !keys.contains_key(uid) {
                    out.push((*fid, *uid));
                }
            }
        }
        out
    }

    fn handle(&mut self, req: &http::Request<Bytes>) -> http::Response<Bytes> {
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        self.requests
            .push(format!("{} {path}?{query}", req.method()));
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return resp(503, r#"{"code":503,"message":"busy"}"#);
        }
        match (req.method().as_str(), path.as_str()) {
            ("GET", "/api/v4/nodes/missingFileKeys") => {
                let q: HashMap<&str, i64> = query
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
                    .collect();
                let offset = usize::try_from(q.get("offset").copied().unwrap_or(0)).unwrap();
                let all = self.missing();
                let page: Vec<_> = all.iter().skip(offset).take(100).copied().collect();
                let items: Vec<_> = page
                    .iter()
                    .map(|(f, u)| serde_json::json!({"fileId": f, "userId": u}))
                    .collect();
                let mut users = Vec::new();
                let mut files = Vec::new();
                for (f, u) in &page {
                    for c in self.users.get(u).into_iter().flatten() {
                        users.push(serde_json::json!({"id": u, "publicKeyContainer": c}));
                    }
                    if let Some((_, keys)) = self.files.get(f) {
                        for k in keys.get(&1).into_iter().flatten() {
                            files.push(serde_json::json!({"id": f, "fileKeyContainer": k}));
                        }
                    }
                }
                // An entry with an unknown version must not break the page.
                users.push(serde_json::json!({"id": 99, "publicKeyContainer": {"version": "RSA-8192", "publicKey": "x"}}));
                let body = serde_json::json!({
                    "range": {"offset": offset, "limit": 100, "total": all.len()},
                    "items": items, "users": users, "files": files,
                });
                resp(200, &body.to_string())
            }
            ("POST", "/api/v4/nodes/files/keys") => {
                self.post_batches += 1;
                let v: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
                for item in v["items"].as_array().unwrap() {
                    let f = item["fileId"].as_i64().unwrap();
                    let u = item["userId"].as_i64().unwrap();
                    let k: EncryptedFileKey =
                        serde_json::from_value(item["fileKey"].clone()).unwrap();
                    let (plain, keys) = self.files.get_mut(&f).unwrap();
                    let idx = usize::try_from(u - 1).unwrap();
                    let got = pairs()[idx].private_key().unwrap_file_key(&k).unwrap();
                    assert_eq!(&got, plain, "a distributed key does not unwrap");
                    keys.entry(u).or_default().push(k);
                }
                resp(204, "")
            }
            _ => resp(404, r#"{"code":404,"message":"nope","errorCode":-41000}"#),
        }
    }
}

fn resp(status: u16, body: &str) -> http::Response<Bytes> {
    let mut r = http::Response::new(Bytes::from(body.to_owned()));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    r
}

fn fake_with_files(n_files: i64) -> Fake {
    let mut fake = Fake::default();
    for (i, p) in pairs().iter().enumerate() {
        let uid = i64::try_from(i).unwrap() + 1;
        let c = p.public_key().to_container().unwrap();
        fake.users.insert(uid, vec![c]);
    }
    for fid in 0..n_files {
        let (_, key) = encrypt_bytes(b"x").unwrap();
        let mine = pairs()[0].public_key().wrap_file_key(&key).unwrap();
        fake.files
            .insert(1000 + fid, (key, HashMap::from([(1, vec![mine])])));
    }
    fake
}

#[test]
fn distribution_serves_everything_through_retries_and_skips_ghosts() {
    let fake = Mutex::new(fake_with_files(130));
    {
        let mut f = fake.lock().unwrap();
        f.fail_next = 2;
        f.ghosts = (0..150).map(|i| (5000 + i, 77)).collect();
    }
    let transport = |req: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
        assert_eq!(
            req.headers().get("authorization").unwrap(),
            "Bearer secret-token"
        );
        Ok(fake.lock().unwrap().handle(&req))
    };
    let events = std::sync::Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let client = Client::new(Blocking(transport), "http://127.0.0.1:9/")
        .unwrap()
        .with_auth_token("secret-token")
        .with_retry_policy(
            RetryPolicy::default().with_base_delay(std::time::Duration::from_millis(1)),
        )
        .with_event_handler(move |e| ev.lock().unwrap().push(format!("{e:?}")));
    let ring = KeyRing::new(vec![pairs()[0].clone()]);
    let report =
        block_on(client.distribute_missing_keys(&ring, &MissingKeysFilter::new())).unwrap();
    assert!(report.complete);
    assert_eq!(report.distributed, 260);
    assert_eq!(report.keys_set, 260);
    assert_eq!(report.skipped.len(), 150);
    assert!(
        report.skipped.iter().all(
            |s| s.reason == SkipReason::NoPublicKey || s.reason == SkipReason::FileKeyNotListed
        )
    );
    let f = fake.lock().unwrap();
    assert_eq!(f.missing().len(), 150, "only the ghosts remain");
    assert!(report.list_requests < 20, "{}", report.list_requests);
    let events = events.lock().unwrap();
    assert!(events.iter().any(|e| e.contains("Retry")));
    assert!(events.iter().all(|e| !e.contains("secret-token")));
}

#[test]
fn api_errors_carry_status_and_code_and_4xx_is_not_retried() {
    let count = Mutex::new(0);
    let transport = |_req: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
        *count.lock().unwrap() += 1;
        Ok(resp(
            404,
            r#"{"code":404,"message":"File key not found","errorCode":-40761}"#,
        ))
    };
    let client = Client::new(Blocking(transport), "http://127.0.0.1:9").unwrap();
    let err = block_on(client.user_file_key(5)).unwrap_err();
    match &err {
        Error::Api {
            status,
            code,
            message,
        } => {
            assert_eq!(*status, 404);
            assert_eq!(*code, Some(-40761));
            assert!(message.contains("File key not found"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.class(), "api");
    assert_eq!(*count.lock().unwrap(), 1);
}

#[test]
fn nonsense_answers_do_not_panic() {
    let bodies: [&[u8]; 6] = [
        b"",
        b"null",
        b"{\"items\":[{\"fileId\":1,\"userId\":2}],\"users\":7}",
        b"{\"items\":[{\"fileId\":1}],\"users\":[],\"files\":[{\"id\":1,\"fileKeyContainer\":{}}]}",
        b"[1,2,3]",
        &[0xff, 0xfe, 0x00],
    ];
    for body in bodies {
        let transport =
            move |_req: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
                Ok(http::Response::new(Bytes::from_static(body)))
            };
        let client = Client::new(Blocking(transport), "http://127.0.0.1:9")
            .unwrap()
            .with_retry_policy(RetryPolicy::none());
        let ring = KeyRing::new(vec![pairs()[0].clone()]);
        let filter = MissingKeysFilter::new().max_requests(50);
        let _ = block_on(client.distribute_missing_keys(&ring, &filter));
        let _ = block_on(client.user_file_key(1));
        let _ = block_on(client.download_to_vec(1, &ring, &DownloadOptions::default()));
    }
}

#[test]
fn a_list_that_never_shrinks_is_bounded() {
    // The server accepts keys but keeps listing the same entries.
    let key_pair = pairs()[1].public_key().to_container().unwrap();
    let (_, key) = encrypt_bytes(b"x").unwrap();
    let mine = pairs()[0].public_key().wrap_file_key(&key).unwrap();
    let page = serde_json::json!({
        "range": {"offset": 0, "limit": 100, "total": 1},
        "items": [{"fileId": 1, "userId": 2}],
        "users": [{"id": 2, "publicKeyContainer": key_pair}],
        "files": [{"id": 1, "fileKeyContainer": mine}],
    })
    .to_string();
    let transport =
        move |req: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
            if req.method() == http::Method::POST {
                return Ok(resp(204, ""));
            }
            let offset_zero = req.uri().query().unwrap_or("").contains("offset=0");
            Ok(resp(
                200,
                if offset_zero {
                    &page
                } else {
                    r#"{"items":[]}"#
                },
            ))
        };
    let client = Client::new(Blocking(transport), "http://127.0.0.1:9").unwrap();
    let ring = KeyRing::new(vec![pairs()[0].clone()]);
    let report =
        block_on(client.distribute_missing_keys(&ring, &MissingKeysFilter::new())).unwrap();
    assert_eq!(report.distributed, 1);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].reason, SkipReason::StillMissingAfterSet);
    assert!(report.complete);
    assert!(report.list_requests <= 5);
}

#[test]
fn a_full_page_that_never_shrinks_and_ignores_the_offset_is_bounded() {
    // 25 files x 4 users, a full page, answered for every offset (also the one listed while
    // the RSA work runs); keys are accepted and the list stays as it is.
    let targets: Vec<_> = (2..6)
        .map(|id| {
            serde_json::json!({"id": id, "publicKeyContainer":
                pairs()[1].public_key().to_container().unwrap()})
        })
        .collect();
    let files: Vec<_> = (1..=25)
        .map(|id| {
            let (_, key) = encrypt_bytes(b"x").unwrap();
            let mine = pairs()[0].public_key().wrap_file_key(&key).unwrap();
            serde_json::json!({"id": id, "fileKeyContainer": mine})
        })
        .collect();
    let items: Vec<_> = (1..=25)
        .flat_map(|file| {
            (2..6).map(move |user| serde_json::json!({"fileId": file, "userId": user}))
        })
        .collect();
    let page = serde_json::json!({
        "range": {"offset": 0, "limit": 100, "total": 100},
        "items": items, "users": targets, "files": files,
    })
    .to_string();
    let posted = Mutex::new(Vec::new());
    let lists = Mutex::new(0u32);
    let transport = |req: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
        if req.method() == http::Method::POST {
            let batch: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
            for item in batch["items"].as_array().unwrap() {
                let pair = (
                    item["fileId"].as_i64().unwrap(),
                    item["userId"].as_i64().unwrap(),
                );
                posted.lock().unwrap().push(pair);
            }
            return Ok(resp(204, ""));
        }
        *lists.lock().unwrap() += 1;
        Ok(resp(200, &page))
    };
    let client = Client::new(Blocking(transport), "http://127.0.0.1:9").unwrap();
    let ring = KeyRing::new(vec![pairs()[0].clone()]);
    let report =
        block_on(client.distribute_missing_keys(&ring, &MissingKeysFilter::new())).unwrap();
    assert_eq!(report.distributed, 100, "{report:?}");
    assert_eq!(report.keys_set, 100, "{report:?}");
    // Each pair was set once, and is then reported once as still missing.
    let mut posted = posted.into_inner().unwrap();
    posted.sort_unstable();
    posted.dedup();
    assert_eq!(posted.len(), 100);
    assert_eq!(report.skipped.len(), 100, "{report:?}");
    assert!(
        report
            .skipped
            .iter()
            .all(|s| s.reason == SkipReason::StillMissingAfterSet)
    );
    assert!(!report.complete);
    assert_eq!(report.list_requests, *lists.lock().unwrap());
    assert!(report.list_requests <= 4, "{report:?}");
}

#[test]
fn upload_falls_back_to_the_exclusive_content_range_only_when_refused() {
    // A server of the kind FORMAT.md §6.2 warns about: it wants `bytes start-(start+len)/total`.
    let seen = Mutex::new(Vec::new());
    let stored = Mutex::new(Vec::new());
    let transport = |req: http::Request<Bytes>| -> Result<http::Response<Bytes>, TransportError> {
        let path = req.uri().path().to_owned();
        let range = req
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        seen.lock()
            .unwrap()
            .push(format!("{} {path} {range:?}", req.method()));
        Ok(match (req.method().as_str(), path.as_str()) {
            ("POST", "/api/v4/nodes/files/uploads") => resp(
                201,
                r#"{"uploadId":"u1","token":"t1","uploadUrl":"http://127.0.0.1:9/api/v4/uploads/t1"}"#,
            ),
            ("POST", "/api/v4/uploads/t1") => {
                let (start, end, _) =
                    super::util::parse_content_range(range.as_deref().unwrap_or("")).unwrap();
                if end - start != req.body().len() as u64 {
                    return Ok(resp(
                        400,
                        r#"{"code":400,"message":"range","errorCode":-80021}"#,
                    ));
                }
                stored.lock().unwrap().extend_from_slice(req.body());
                resp(201, r#"{"size":1}"#)
            }
            ("PUT", "/api/v4/uploads/t1") => resp(201, r#"{"id":42,"name":"f","type":"file"}"#),
            _ => resp(404, "{}"),
        })
    };
    let client = Client::new(Blocking(transport), "http://127.0.0.1:9").unwrap();
    let options = UploadOptions::new(1, "f").size(25).chunk_size(10);
    let up = block_on(client.upload(
        &[7u8; 25][..],
        pairs()[0].public_key(),
        &options,
        &mut |_| {},
    ))
    .unwrap();
    assert_eq!(up.node.id, 42);
    assert_eq!(stored.lock().unwrap().len(), 25);
    let seen = seen.lock().unwrap();
    let ranges: Vec<&String> = seen
        .iter()
        .filter(|s| s.contains("uploads/t1 Some"))
        .collect();
    assert_eq!(ranges.len(), 4, "{ranges:?}");
    assert!(ranges[0].contains("bytes 0-9/25"));
    assert!(ranges[1].contains("bytes 0-10/25"));
    assert!(ranges[2].contains("bytes 10-20/25"));
    assert!(ranges[3].contains("bytes 20-25/25"));
}
