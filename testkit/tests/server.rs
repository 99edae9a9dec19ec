//! The in-process DRACOON server (`dracoon_crypto::testkit`) driven with plain HTTP/1.1 written
//! by hand over `std::net::TcpStream`: authentication, request shapes and error codes, paging,
//! uploads (chunked, multipart, S3), Range downloads, shares, key checks and injected faults.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use dracoon_crypto::{
    EncryptedFileKey, Password, PlainFileKey, UserKeyPair, UserKeyPairContainer,
    UserKeyPairVersion, decrypt_bytes, encrypt_bytes,
};
use dracoon_crypto_testkit::{Fault, TestServer, TestUser};
use serde_json::{Value, json};

// ------------------------------------------------------------------------------------------
// Keys, generated once per test binary

const ITERATIONS: u32 = 1000;

struct Keys {
    pairs: Vec<UserKeyPair>,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                std::thread::spawn(|| UserKeyPair::generate(UserKeyPairVersion::Rsa2048).unwrap())
            })
            .collect();
        Keys {
            pairs: handles.into_iter().map(|h| h.join().unwrap()).collect(),
        }
    })
}

/// Key pair number `i` (0..6) and its container (password `pw{i}`, 1000 iterations).
fn key_pair(i: usize) -> (&'static UserKeyPair, UserKeyPairContainer) {
    let kp = &keys().pairs[i];
    let container = kp
        .hazmat_to_container_with_iterations(&Password::new(format!("pw{i}")), ITERATIONS)
        .unwrap();
    (kp, container)
}

// ------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts an ErrorResponse with that status and errorCode (None = null).
    #[track_caller]
    fn assert_error(&self, status: u16, error_code: Option<i64>) {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let v = self.json();
        assert_eq!(v["code"], json!(status), "{v}");
        assert!(v["message"].is_string(), "{v}");
        assert!(v.get("debugInfo").is_some(), "{v}");
        assert_eq!(v["errorCode"].as_i64(), error_code, "{v}");
    }
}

/// Writes one request on `stream` (keep-alive) and reads its response.
fn exchange(
    stream: &mut BufReader<TcpStream>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let s = stream.get_mut();
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    s.flush()?;
    read_response(stream, method == "HEAD")
}

fn read_response(stream: &mut BufReader<TcpStream>, head_only: bool) -> std::io::Result<Resp> {
    let mut line = String::new();
    if stream.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before a response",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse::<usize>().unwrap());
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let mut body = Vec::new();
    if head_only || status == 204 || status == 304 {
    } else if let Some(len) = len {
        body.resize(len, 0);
        stream.read_exact(&mut body)?;
    } else if chunked {
        loop {
            let mut size = String::new();
            stream.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).map_err(std::io::Error::other)?;
            let mut chunk = vec![0; n + 2];
            stream.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        stream.read_to_end(&mut body)?;
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// A client for one server: fresh connection per request unless `conn` is used.
struct Client {
    base: String,
}

impl Client {
    fn new(server: &TestServer) -> Self {
        Client {
            base: server.base_url(),
        }
    }

    fn connect(&self) -> BufReader<TcpStream> {
        let addr = self.base.strip_prefix("http://").unwrap();
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        BufReader::new(s)
    }

    /// `target` is a path (`/api/v4/...`) or a full URL of this server.
    fn try_send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Resp> {
        let target = target.strip_prefix(&self.base).unwrap_or(target);
        exchange(&mut self.connect(), method, target, headers, body)
    }

    fn send(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        self.try_send(method, target, headers, body).unwrap()
    }

    /// An authenticated JSON request to `/api/v4{path}`.
    fn api(&self, user: &TestUser, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let auth = format!("Bearer {}", user.token);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut headers = vec![("Authorization", auth.as_str())];
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        self.send(method, &format!("/api/v4{path}"), &headers, body.as_bytes())
    }

    /// An unauthenticated JSON request (public, token and S3 endpoints).
    fn public(&self, method: &str, target: &str, body: Option<&Value>) -> Resp {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let target = if target.starts_with("http") || target.starts_with("/api/") {
            target.to_string()
        } else {
            format!("/api/v4{target}")
        };
        self.send(
            method,
            &target,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }
}

// ------------------------------------------------------------------------------------------
// Fixtures

struct World {
    server: TestServer,
    client: Client,
    users: Vec<TestUser>,
    room: i64,
}

/// Three users with key pairs 0, 1, 2 in one encrypted room.
fn world() -> World {
    let server = TestServer::start().unwrap();
    let users: Vec<TestUser> = ["alice", "bob", "carol"]
        .iter()
        .enumerate()
        .map(|(i, login)| {
            let user = server.create_user(login);
            let (kp, container) = key_pair(i);
            server.add_user_key_pair(user.id, container, kp);
            user
        })
        .collect();
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let room = server.create_room("Finance", true, &ids);
    let client = Client::new(&server);
    World {
        server,
        client,
        users,
        room,
    }
}

fn file_key_json(key: &EncryptedFileKey) -> Value {
    serde_json::to_value(key).unwrap()
}

/// Encrypts `plain`, places it with a key for key pair `owner` only; returns (id, plain key).
fn put_encrypted(
    w: &World,
    name: &str,
    plain: &[u8],
    owner: usize,
) -> (i64, PlainFileKey, Vec<u8>) {
    let (ciphertext, key) = encrypt_bytes(plain).unwrap();
    let wrapped = keys().pairs[owner]
        .public_key()
        .wrap_file_key(&key)
        .unwrap();
    let id = w.server.put_file(
        w.room,
        name,
        ciphertext.clone(),
        &key,
        &[(w.users[owner].id, wrapped)],
    );
    (id, key, ciphertext)
}

#[track_caller]
fn assert_clean(server: &TestServer) {
    let v = server.violations();
    assert!(v.is_empty(), "violations: {v:#?}");
}

// ------------------------------------------------------------------------------------------
// Authentication and shapes

#[test]
fn authentication_is_required() {
    let w = world();
    let c = &w.client;
    let r = c.public("GET", "/user/account/keypair", None);
    r.assert_error(401, Some(-10006));
    let r = c.send(
        "GET",
        "/api/v4/user/account/keypair",
        &[("Authorization", "Bearer nope")],
        b"",
    );
    r.assert_error(401, Some(-10012));
    let r = c.send(
        "GET",
        "/api/v4/user/account/keypair",
        &[("Authorization", &format!("Basic {}", w.users[0].token))],
        b"",
    );
    r.assert_error(401, Some(-10006));
    // The spec's own header works too.
    let r = c.send(
        "GET",
        "/api/v4/user/account/keypair",
        &[("X-Sds-Auth-Token", &w.users[0].token)],
        b"",
    );
    assert_eq!(r.status, 200);
    let r = c.api(&w.users[0], "GET", "/config/info/policies/algorithms", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["keyPairAlgorithms"][0]["version"], "RSA-4096");
    // Every authenticated endpoint refuses anonymous callers before anything else.
    for (method, path) in [
        ("GET", "/nodes/missingFileKeys"),
        ("POST", "/nodes/files/keys"),
        ("POST", "/nodes/files/uploads"),
        ("GET", "/nodes/files/1/user_file_key"),
        ("POST", "/nodes/files/1/downloads"),
        ("POST", "/shares/downloads"),
        ("GET", "/settings/keypair"),
        ("GET", "/nodes/rooms/1/keypair"),
        ("PUT", "/nodes/rooms/1/encrypt"),
    ] {
        c.public(method, path, Some(&json!({})))
            .assert_error(401, Some(-10006));
    }
    assert_clean(&w.server);
}

#[test]
fn key_pair_endpoints_validate_shapes() {
    let w = world();
    let c = &w.client;
    let dave = w.server.create_user("dave");
    let (kp, container) = key_pair(3);
    let good = serde_json::to_value(&container).unwrap();

    // No key pair yet.
    c.api(&dave, "GET", "/user/account/keypair", None)
        .assert_error(404, Some(-70020));
    c.api(&dave, "GET", "/user/account/keypairs", None)
        .assert_error(404, Some(-70020));

    // Shape errors.
    let mut missing = good.clone();
    missing
        .as_object_mut()
        .unwrap()
        .remove("publicKeyContainer");
    c.api(&dave, "POST", "/user/account/keypair", Some(&missing))
        .assert_error(400, Some(-80000));
    let mut wrong_type = good.clone();
    wrong_type["publicKeyContainer"]["version"] = json!(5);
    c.api(&dave, "POST", "/user/account/keypair", Some(&wrong_type))
        .assert_error(400, None);
    let mut unknown_version = good.clone();
    unknown_version["publicKeyContainer"]["version"] = json!("RSA-2048");
    c.api(
        &dave,
        "POST",
        "/user/account/keypair",
        Some(&unknown_version),
    )
    .assert_error(400, Some(-70022));
    let mut bad_pem = good.clone();
    bad_pem["publicKeyContainer"]["publicKey"] = json!("-----BEGIN PUBLIC KEY-----\nAAAA\n");
    c.api(&dave, "POST", "/user/account/keypair", Some(&bad_pem))
        .assert_error(400, Some(-70022));
    let mut plain_private = good.clone();
    plain_private["privateKeyContainer"]["privateKey"] = json!("-----BEGIN PRIVATE KEY-----\n");
    c.api(&dave, "POST", "/user/account/keypair", Some(&plain_private))
        .assert_error(400, Some(-70023));
    let mut mixed = good.clone();
    mixed["privateKeyContainer"]["version"] = json!("RSA-4096");
    c.api(&dave, "POST", "/user/account/keypair", Some(&mixed))
        .assert_error(400, Some(-70022));
    c.send(
        "POST",
        "/api/v4/user/account/keypair",
        &[("Authorization", &format!("Bearer {}", dave.token))],
        b"{not json",
    )
    .assert_error(400, None);

    // Unknown extra fields are ignored.
    let mut extra = good.clone();
    extra["somethingNew"] = json!({"x": 1});
    extra["publicKeyContainer"]["alsoNew"] = json!(true);
    let r = c.api(&dave, "POST", "/user/account/keypair", Some(&extra));
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    c.api(&dave, "POST", "/user/account/keypair", Some(&good))
        .assert_error(409, Some(-70021));

    let r = c.api(&dave, "GET", "/user/account/keypair", None);
    assert_eq!(r.status, 200);
    let got = UserKeyPairContainer::from_json(&String::from_utf8_lossy(&r.body)).unwrap();
    assert_eq!(
        got.public_key_container.public_key,
        container.public_key_container.public_key
    );
    assert!(got.public_key_container.created_at.is_some());
    assert_eq!(got.public_key_container.created_by, Some(dave.id));
    // What the server hands back unlocks with the password.
    assert_eq!(&got.unlock(&Password::new("pw3")).unwrap(), kp);
    c.api(&dave, "GET", "/user/account/keypair?version=RSA-4096", None)
        .assert_error(404, Some(-70020));
    c.api(&dave, "GET", "/user/account/keypair?version=B", None)
        .assert_error(400, Some(-70022));
    let r = c.api(&dave, "GET", "/user/account/keypairs", None);
    assert_eq!(r.json().as_array().map(Vec::len), Some(1));

    // Delete, then it is gone.
    assert_eq!(
        c.api(&dave, "DELETE", "/user/account/keypair?version=A", None)
            .status,
        204
    );
    c.api(&dave, "GET", "/user/account/keypair", None)
        .assert_error(404, Some(-70020));

    // System and room rescue key pairs.
    let alice = &w.users[0];
    c.api(alice, "GET", "/settings/keypair", None)
        .assert_error(404, Some(-70020));
    assert_eq!(
        c.api(alice, "GET", "/settings/keypairs", None).json(),
        json!([])
    );
    let (_, system) = key_pair(4);
    let system = serde_json::to_value(&system).unwrap();
    assert_eq!(
        c.api(alice, "POST", "/settings/keypair", Some(&system))
            .status,
        204
    );
    c.api(alice, "POST", "/settings/keypair", Some(&system))
        .assert_error(400, Some(-70025));
    assert_eq!(c.api(alice, "GET", "/settings/keypair", None).status, 200);
    let room_path = format!("/nodes/rooms/{}/keypair", w.room);
    c.api(alice, "GET", &room_path, None)
        .assert_error(404, Some(-40007));
    let (_, rescue) = key_pair(5);
    let rescue = serde_json::to_value(&rescue).unwrap();
    assert_eq!(c.api(alice, "POST", &room_path, Some(&rescue)).status, 204);
    c.api(alice, "POST", &room_path, Some(&rescue))
        .assert_error(409, Some(-70021));
    assert_eq!(c.api(alice, "GET", &room_path, None).status, 200);
    let plain_room = w.server.create_room("Plain", false, &[alice.id]);
    c.api(
        alice,
        "GET",
        &format!("/nodes/rooms/{plain_room}/keypair"),
        None,
    )
    .assert_error(400, Some(-40001));
    c.api(&dave, "GET", &room_path, None)
        .assert_error(403, None);
    c.api(alice, "GET", "/nodes/rooms/999999/keypair", None)
        .assert_error(404, Some(-41000));
    c.api(alice, "GET", "/nodes/rooms/abc/keypair", None)
        .assert_error(400, Some(-80002));
    assert_clean(&w.server);
}

#[test]
fn missing_keys_are_paged_by_at_most_100_and_distribution_is_checked() {
    let w = world();
    let c = &w.client;
    let (alice, bob, carol) = (&w.users[0], &w.users[1], &w.users[2]);
    // 60 files that only alice can read: 120 missing (file, user) pairs.
    let files: Vec<(i64, PlainFileKey)> = (0..60)
        .map(|i| {
            let (id, key, _) =
                put_encrypted(&w, &format!("f{i}.bin"), format!("file {i}").as_bytes(), 0);
            (id, key)
        })
        .collect();
    assert_eq!(w.server.missing_keys().len(), 120);

    // Bob and carol cannot serve anything; alice sees all, 100 at a time.
    let r = c.api(bob, "GET", "/nodes/missingFileKeys", None);
    assert_eq!(r.json()["range"]["total"], 0);
    let r = c.api(
        alice,
        "GET",
        "/nodes/missingFileKeys?offset=0&limit=500",
        None,
    );
    let page = r.json();
    assert_eq!(
        page["range"],
        json!({"offset": 0, "limit": 100, "total": 120})
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 100);
    let r = c.api(alice, "GET", "/nodes/missingFileKeys?offset=100", None);
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 20);
    let r = c.api(
        alice,
        "GET",
        "/nodes/missingFileKeys?limit=7&offset=3",
        None,
    );
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 7);
    assert_eq!(r.json()["range"]["total"], 120);
    // Filters.
    let r = c.api(
        alice,
        "GET",
        &format!("/nodes/missingFileKeys?user_id={}", carol.id),
        None,
    );
    assert_eq!(r.json()["range"]["total"], 60);
    let r = c.api(
        alice,
        "GET",
        &format!("/nodes/missingFileKeys?file_id={}", files[0].0),
        None,
    );
    assert_eq!(r.json()["range"]["total"], 2);
    let r = c.api(
        alice,
        "GET",
        &format!("/nodes/missingFileKeys?room_id={}", w.room),
        None,
    );
    assert_eq!(r.json()["range"]["total"], 120);

    // Distribute page by page at offset 0, as a client should.
    let mut rounds = 0;
    loop {
        let page = c
            .api(
                alice,
                "GET",
                "/nodes/missingFileKeys?offset=0&limit=100",
                None,
            )
            .json();
        let items = page["items"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        rounds += 1;
        let mut out = Vec::new();
        for item in items {
            let (user, file) = (
                item["userId"].as_i64().unwrap(),
                item["fileId"].as_i64().unwrap(),
            );
            let fk = page["files"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["id"] == file)
                .unwrap();
            let enc = EncryptedFileKey::from_json(&fk["fileKeyContainer"].to_string()).unwrap();
            let plain = keys().pairs[0].private_key().unwrap_file_key(&enc).unwrap();
            let users = page["users"].as_array().unwrap();
            let targets: Vec<&Value> = users.iter().filter(|u| u["id"] == user).collect();
            assert_eq!(targets.len(), 1);
            let public: dracoon_crypto::PublicKeyContainer =
                serde_json::from_value(targets[0]["publicKeyContainer"].clone()).unwrap();
            let wrapped = public.wrap_file_key(&plain).unwrap();
            out.push(json!({"userId": user, "fileId": file, "fileKey": file_key_json(&wrapped)}));
        }
        let r = c.api(
            alice,
            "POST",
            "/nodes/files/keys",
            Some(&json!({"items": out})),
        );
        assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(rounds, 2);
    assert!(w.server.missing_keys().is_empty());
    assert_clean(&w.server);
    // Bob now reads a file with his own key.
    let r = c.api(
        bob,
        "GET",
        &format!("/nodes/files/{}/user_file_key", files[7].0),
        None,
    );
    let enc = EncryptedFileKey::from_json(&String::from_utf8_lossy(&r.body)).unwrap();
    assert_eq!(
        keys().pairs[1].private_key().unwrap_file_key(&enc).unwrap(),
        files[7].1
    );
    // Setting a key again keeps the first one (idempotent).
    let before = w.server.file_key(files[7].0, bob.id).unwrap();
    let again = keys().pairs[1]
        .public_key()
        .wrap_file_key(&files[7].1)
        .unwrap();
    let body = json!({"items": [{"userId": bob.id, "fileId": files[7].0, "fileKey": file_key_json(&again)}]});
    assert_eq!(
        c.api(alice, "POST", "/nodes/files/keys", Some(&body))
            .status,
        204
    );
    assert_eq!(w.server.file_key(files[7].0, bob.id).unwrap(), before);
    assert_clean(&w.server);
}

#[test]
fn wrongly_wrapped_keys_are_violations() {
    let w = world();
    let c = &w.client;
    let (alice, bob, carol) = (&w.users[0], &w.users[1], &w.users[2]);
    let (file, key, _) = put_encrypted(&w, "a.txt", b"secret", 0);
    let (_, other_key, _) = put_encrypted(&w, "b.txt", b"other", 0);

    // Wrapped for the wrong public key (carol's key, sent as bob's).
    let for_carol = keys().pairs[2].public_key().wrap_file_key(&key).unwrap();
    // The right public key, but another file's key.
    let wrong_plain = keys().pairs[2]
        .public_key()
        .wrap_file_key(&other_key)
        .unwrap();
    let body = json!({"items": [
        {"userId": bob.id, "fileId": file, "fileKey": file_key_json(&for_carol)},
        {"userId": carol.id, "fileId": file, "fileKey": file_key_json(&wrong_plain)},
    ]});
    assert_eq!(
        c.api(alice, "POST", "/nodes/files/keys", Some(&body))
            .status,
        204
    );
    let v = w.server.violations();
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(
        v.iter()
            .any(|m| m.contains(&format!("user {}", bob.id)) && m.contains("does not unwrap")),
        "{v:#?}"
    );
    assert!(
        v.iter()
            .any(|m| m.contains(&format!("user {}", carol.id)) && m.contains("different file key")),
        "{v:#?}"
    );
}

#[test]
fn file_key_requests_are_validated() {
    let w = world();
    let c = &w.client;
    let (alice, bob) = (&w.users[0], &w.users[1]);
    let (file, key, _) = put_encrypted(&w, "a.txt", b"secret", 0);
    let good = file_key_json(&keys().pairs[1].public_key().wrap_file_key(&key).unwrap());
    let post = |body: Value| c.api(alice, "POST", "/nodes/files/keys", Some(&body));

    post(json!({})).assert_error(400, Some(-80000));
    post(json!({"items": {}})).assert_error(400, None);
    post(json!({"items": [{"userId": bob.id, "fileKey": good}]})).assert_error(400, Some(-80000));
    post(json!({"items": [{"userId": bob.id.to_string(), "fileId": file, "fileKey": good}]}))
        .assert_error(400, Some(-80002));
    post(json!({"items": [{"userId": bob.id, "fileId": 1.5, "fileKey": good}]}))
        .assert_error(400, Some(-80002));
    let mut no_tag = good.clone();
    no_tag.as_object_mut().unwrap().remove("tag");
    post(json!({"items": [{"userId": bob.id, "fileId": file, "fileKey": no_tag}]}))
        .assert_error(400, Some(-80000));
    assert_clean(&w.server);
    let mut bad_version = good.clone();
    bad_version["version"] = json!("RSA-4096/AES-256-GCM");
    post(json!({"items": [{"userId": bob.id, "fileId": file, "fileKey": bad_version}]}))
        .assert_error(400, Some(-80062));
    assert_eq!(w.server.violations().len(), 1);
    post(json!({"items": [{"userId": bob.id, "fileId": 999_999, "fileKey": good}]}))
        .assert_error(404, Some(-40751));
    post(json!({"items": [{"userId": 999_999, "fileId": file, "fileKey": good}]}))
        .assert_error(404, Some(-70501));
    let outsider = w.server.create_user("eve");
    post(json!({"items": [{"userId": outsider.id, "fileId": file, "fileKey": good}]}))
        .assert_error(403, Some(-10006));
    c.api(
        &outsider,
        "POST",
        "/nodes/files/keys",
        Some(&json!({"items": [{"userId": bob.id, "fileId": file, "fileKey": good}]})),
    )
    .assert_error(403, None);
    // Nothing was stored by the refused requests.
    assert!(w.server.file_key(file, bob.id).is_none());

    // Query parameters of the missing-keys list.
    let get = |q: &str| c.api(alice, "GET", &format!("/nodes/missingFileKeys{q}"), None);
    get("?use_key=bogus").assert_error(400, Some(-92001));
    get("?limit=abc").assert_error(400, Some(-80002));
    get("?offset=-1").assert_error(400, Some(-80024));
    get("?limit=0").assert_error(400, Some(-80024));
    get("?file_id=999999").assert_error(404, Some(-40751));
    get("?room_id=999999").assert_error(404, Some(-41000));
    get("?user_id=999999").assert_error(404, Some(-70501));
    get(&format!("?room_id={}&use_key=room_rescue_key", w.room)).assert_error(400, Some(-40024));
    c.api(&outsider, "GET", "/nodes/missingFileKeys", None)
        .assert_error(403, Some(-70020));
}

// ------------------------------------------------------------------------------------------
// Uploads and downloads

fn open_channel(w: &World, user: &TestUser, name: &str, size: Option<usize>, s3: bool) -> Value {
    let mut body = json!({"parentId": w.room, "name": name, "directS3Upload": s3});
    if let Some(size) = size {
        body["size"] = json!(size);
    }
    let r = w
        .client
        .api(user, "POST", "/nodes/files/uploads", Some(&body));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn put_chunk(w: &World, url: &str, start: usize, data: &[u8], total: &str) -> Resp {
    let range = format!("bytes {}-{}/{total}", start, start + data.len() - 1);
    w.client.send(
        "POST",
        url,
        &[
            ("Content-Type", "application/octet-stream"),
            ("Content-Range", &range),
        ],
        data,
    )
}

fn pseudo_random(len: usize, seed: u8) -> Vec<u8> {
    let mut x = u64::from(seed) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn chunked_upload_of_tens_of_mib_then_ranged_download() {
    let w = world();
    let (alice, bob, carol) = (&w.users[0], &w.users[1], &w.users[2]);
    let plain = pseudo_random(24 * 1024 * 1024 + 123, 7);
    let (ciphertext, key) = encrypt_bytes(&plain).unwrap();
    let channel = open_channel(&w, alice, "big.bin", Some(ciphertext.len()), false);
    let url = channel["uploadUrl"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/api/v4/uploads/", w.server.base_url())),
        "{url}"
    );
    assert_eq!(
        channel["token"].as_str().map(|t| url.ends_with(t)),
        Some(true)
    );
    assert!(channel["uploadId"].is_string());

    // Three chunks, the last one first; totals announced.
    let chunk = 10 * 1024 * 1024;
    let total = ciphertext.len().to_string();
    for start in [2 * chunk, 0, chunk] {
        let end = (start + chunk).min(ciphertext.len());
        let r = put_chunk(&w, url, start, &ciphertext[start..end], &total);
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["size"], json!(end - start));
    }
    // A resent chunk with the same bytes is fine.
    assert_eq!(
        put_chunk(&w, url, 0, &ciphertext[..chunk], &total).status,
        201
    );

    let own = keys().pairs[0].public_key().wrap_file_key(&key).unwrap();
    let for_bob = keys().pairs[1].public_key().wrap_file_key(&key).unwrap();
    let done = json!({
        "resolutionStrategy": "autorename",
        "keepShareLinks": false,
        "fileKey": file_key_json(&own),
        "userFileKeyList": {"items": [{"userId": bob.id, "fileKey": file_key_json(&for_bob)}]},
        "futureField": [1, 2],
    });
    let r = w.client.public("PUT", url, Some(&done));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let node = r.json();
    assert_eq!(node["type"], "file");
    assert_eq!(node["name"], "big.bin");
    assert_eq!(node["size"], json!(ciphertext.len()));
    assert_eq!(node["isEncrypted"], true);
    let id = node["id"].as_i64().unwrap();
    assert_eq!(w.server.find_file(w.room, "big.bin"), Some(id));
    assert!(w.server.file_content(id).unwrap() == ciphertext);
    assert!(w.server.file_key(id, bob.id).is_some());
    assert_eq!(w.server.missing_keys(), vec![(id, carol.id)]);
    assert_clean(&w.server);
    // The token is used up.
    w.client
        .public("PUT", url, Some(&done))
        .assert_error(404, Some(-20501));

    // Bob downloads in ranges and decrypts.
    let r = w.client.api(
        bob,
        "GET",
        &format!("/nodes/files/{id}/user_file_key"),
        None,
    );
    let enc = EncryptedFileKey::from_json(&String::from_utf8_lossy(&r.body)).unwrap();
    let bob_key = keys().pairs[1].private_key().unwrap_file_key(&enc).unwrap();
    let r = w
        .client
        .api(bob, "POST", &format!("/nodes/files/{id}/downloads"), None);
    assert_eq!(r.status, 200);
    let download = r.json()["downloadUrl"].as_str().unwrap().to_string();
    assert!(download.starts_with(&format!("{}/api/v4/downloads/", w.server.base_url())));
    let r = w
        .client
        .send("GET", &download, &[("Range", "bytes=0-99")], b"");
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-99/{}", ciphertext.len()).as_str())
    );
    assert_eq!(r.body, ciphertext[..100]);
    let mut got = r.body;
    let r = w
        .client
        .send("GET", &download, &[("Range", "bytes=100-")], b"");
    assert_eq!(r.status, 206);
    got.extend_from_slice(&r.body);
    assert_eq!(decrypt_bytes(&got, &bob_key).unwrap(), plain);
    let r = w.client.send("GET", &download, &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(total.as_str()));
    assert!(r.body == ciphertext);
    w.client
        .send(
            "GET",
            &download,
            &[("Range", &format!("bytes={}-", ciphertext.len()))],
            b"",
        )
        .assert_error(416, None);
    w.client
        .send("GET", &download, &[("Range", "bytes=9-3")], b"")
        .assert_error(416, None);
    w.client
        .public("GET", "/downloads/nope", None)
        .assert_error(401, Some(-20502));
    // Carol has no key yet.
    w.client
        .api(
            carol,
            "GET",
            &format!("/nodes/files/{id}/user_file_key"),
            None,
        )
        .assert_error(404, Some(-40761));
    assert_clean(&w.server);
}

#[test]
fn content_ranges_must_match_the_body() {
    let w = world();
    let alice = &w.users[0];
    let channel = open_channel(&w, alice, "r.bin", None, false);
    let url = channel["uploadUrl"].as_str().unwrap();
    let data = pseudo_random(1000, 3);
    // The client-style exclusive end is a mismatch.
    let r = w
        .client
        .send("POST", url, &[("Content-Range", "bytes 0-1000/*")], &data);
    r.assert_error(400, Some(-80021));
    assert_eq!(w.server.violations().len(), 1);
    let r = w
        .client
        .send("POST", url, &[("Content-Range", "0-999/1000")], &data);
    r.assert_error(400, Some(-80021));
    let r = w
        .client
        .send("POST", url, &[("Content-Range", "bytes 0-999/999")], &data);
    r.assert_error(400, Some(-80021));
    assert_eq!(w.server.violations().len(), 3);

    // The same range again with other bytes is a violation (a re-encrypted chunk).
    assert_eq!(put_chunk(&w, url, 0, &data, "*").status, 201);
    let other = pseudo_random(1000, 4);
    assert_eq!(put_chunk(&w, url, 500, &other[..200], "*").status, 201);
    let v = w.server.violations();
    assert_eq!(v.len(), 4, "{v:#?}");
    assert!(v[3].contains("bytes 500-699 written twice"), "{v:#?}");

    // A gap is refused at completion.
    let w2 = world();
    let channel = open_channel(&w2, &w2.users[0], "gap.bin", None, false);
    let url = channel["uploadUrl"].as_str().unwrap();
    let (ciphertext, key) = encrypt_bytes(&data).unwrap();
    assert_eq!(
        put_chunk(&w2, url, 0, &ciphertext[..100], "1000").status,
        201
    );
    assert_eq!(
        put_chunk(&w2, url, 200, &ciphertext[200..], "1000").status,
        201
    );
    let own = keys().pairs[0].public_key().wrap_file_key(&key).unwrap();
    w2.client
        .public("PUT", url, Some(&json!({"fileKey": file_key_json(&own)})))
        .assert_error(400, Some(-80021));
    // Filling the gap (multipart this time) makes it complete.
    let mut body = b"--B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"gap.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    body.extend_from_slice(&ciphertext[100..200]);
    body.extend_from_slice(b"\r\n--B0undary--\r\n");
    let r = w2.client.send(
        "POST",
        url,
        &[
            ("Content-Type", "multipart/form-data; boundary=B0undary"),
            ("Content-Range", "bytes 100-199/1000"),
        ],
        &body,
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = w2
        .client
        .public("PUT", url, Some(&json!({"fileKey": file_key_json(&own)})));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_clean(&w2.server);
}

#[test]
fn completion_rules() {
    let w = world();
    let (alice, bob) = (&w.users[0], &w.users[1]);
    let upload = |name: &str, plain: &[u8]| {
        let (ciphertext, key) = encrypt_bytes(plain).unwrap();
        let channel = open_channel(&w, alice, name, Some(ciphertext.len()), false);
        let url = channel["uploadUrl"].as_str().unwrap().to_string();
        if !ciphertext.is_empty() {
            assert_eq!(
                put_chunk(&w, &url, 0, &ciphertext, &ciphertext.len().to_string()).status,
                201
            );
        }
        (url, key)
    };
    // No fileKey in an encrypted room.
    let (url, key) = upload("a.txt", b"one");
    w.client
        .public("PUT", &url, Some(&json!({})))
        .assert_error(400, Some(-40763));
    w.client
        .public("PUT", &url, Some(&json!({"resolutionStrategy": "merge"})))
        .assert_error(400, Some(-50503));
    w.client
        .public("PUT", &url, Some(&json!({"keepShareLinks": true})))
        .assert_error(400, Some(-80034));
    let own = file_key_json(&keys().pairs[0].public_key().wrap_file_key(&key).unwrap());
    assert_eq!(
        w.client
            .public("PUT", &url, Some(&json!({"fileKey": own})))
            .status,
        201
    );

    // Same name again: fail, autorename, overwrite.
    let (url, key) = upload("a.txt", b"two");
    let own = file_key_json(&keys().pairs[0].public_key().wrap_file_key(&key).unwrap());
    w.client
        .public(
            "PUT",
            &url,
            Some(&json!({"fileKey": own, "resolutionStrategy": "fail"})),
        )
        .assert_error(409, Some(-40010));
    let r = w.client.public("PUT", &url, Some(&json!({"fileKey": own})));
    assert_eq!(r.json()["name"], "a (1).txt");
    let first = w.server.find_file(w.room, "a.txt").unwrap();
    let (url, key) = upload("b.txt", b"three");
    let own = file_key_json(&keys().pairs[0].public_key().wrap_file_key(&key).unwrap());
    let r = w.client.public(
        "PUT",
        &url,
        Some(&json!({"fileKey": own, "fileName": "a.txt", "resolutionStrategy": "overwrite"})),
    );
    assert_eq!(r.status, 201);
    let replaced = w.server.find_file(w.room, "a.txt").unwrap();
    assert_ne!(replaced, first);
    assert!(w.server.file_content(first).is_none());

    // Empty file: no chunk at all, valid tag.
    let (url, key) = upload("empty.bin", b"");
    let own = file_key_json(&keys().pairs[0].public_key().wrap_file_key(&key).unwrap());
    let r = w.client.public("PUT", &url, Some(&json!({"fileKey": own})));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["size"], 0);
    // ... or RD's single empty chunk `bytes 0-0/0`.
    let (ciphertext, key) = encrypt_bytes(b"").unwrap();
    let channel = open_channel(&w, alice, "empty2.bin", Some(0), false);
    let url = channel["uploadUrl"].as_str().unwrap();
    let r = w.client.send(
        "POST",
        url,
        &[("Content-Range", "bytes 0-0/0")],
        &ciphertext,
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let own = file_key_json(&keys().pairs[0].public_key().wrap_file_key(&key).unwrap());
    assert_eq!(
        w.client
            .public("PUT", url, Some(&json!({"fileKey": own})))
            .status,
        201
    );

    // A key for a user that the uploader's key does not match, or content that does not verify.
    let (url, key) = upload("c.txt", b"four");
    let (_, other) = encrypt_bytes(b"four").unwrap();
    let own = file_key_json(&keys().pairs[0].public_key().wrap_file_key(&key).unwrap());
    let wrong = file_key_json(&keys().pairs[1].public_key().wrap_file_key(&other).unwrap());
    let r = w.client.public(
        "PUT",
        &url,
        Some(&json!({"fileKey": own, "userFileKeyList": {"items": [{"userId": bob.id, "fileKey": wrong}]}})),
    );
    assert_eq!(r.status, 201);
    let v = w.server.violations();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].contains(&format!("user {}", bob.id)), "{v:#?}");
    let (url, _) = upload("d.txt", b"five");
    let own = file_key_json(&keys().pairs[0].public_key().wrap_file_key(&other).unwrap());
    assert_eq!(
        w.client
            .public("PUT", &url, Some(&json!({"fileKey": own})))
            .status,
        201
    );
    let v = w.server.violations();
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(
        v[1].contains("uploader's fileKey") && v[1].contains("does not decrypt"),
        "{v:#?}"
    );

    // Channel creation shapes.
    let create = |body: Value| {
        w.client
            .api(alice, "POST", "/nodes/files/uploads", Some(&body))
    };
    create(json!({"name": "x"})).assert_error(400, Some(-80000));
    create(json!({"parentId": w.room})).assert_error(400, Some(-80000));
    create(json!({"parentId": w.room, "name": "a/b"})).assert_error(400, Some(-40755));
    create(json!({"parentId": w.room, "name": "x", "classification": 9}))
        .assert_error(400, Some(-40756));
    create(json!({"parentId": w.room, "name": "x", "size": -1})).assert_error(400, Some(-80001));
    create(json!({"parentId": w.room, "name": "x", "directS3Upload": "yes"}))
        .assert_error(400, Some(-80005));
    create(json!({"parentId": w.room, "name": "x", "timestampCreation": "yesterday"}))
        .assert_error(400, None);
    create(json!({"parentId": w.room, "name": "x", "size": 1u64 << 40}))
        .assert_error(400, Some(-80037));
    create(json!({"parentId": 999_999, "name": "x"})).assert_error(404, Some(-41000));
    let outsider = w.server.create_user("eve");
    w.client
        .api(
            &outsider,
            "POST",
            "/nodes/files/uploads",
            Some(&json!({"parentId": w.room, "name": "x"})),
        )
        .assert_error(403, None);
    // Cancel.
    let channel = open_channel(&w, alice, "cancel.bin", None, false);
    let id = channel["uploadId"].as_str().unwrap();
    w.client
        .api(bob, "DELETE", &format!("/nodes/files/uploads/{id}"), None)
        .assert_error(403, None);
    assert_eq!(
        w.client
            .api(alice, "DELETE", &format!("/nodes/files/uploads/{id}"), None)
            .status,
        204
    );
    w.client
        .public("POST", channel["uploadUrl"].as_str().unwrap(), None)
        .assert_error(404, Some(-20501));
    let channel = open_channel(&w, alice, "cancel2.bin", None, false);
    assert_eq!(
        w.client
            .public("DELETE", channel["uploadUrl"].as_str().unwrap(), None)
            .status,
        204
    );
    assert_eq!(w.server.violations().len(), 2);
}

#[test]
fn s3_upload_with_presigned_parts_and_status_polling() {
    let w = world();
    let alice = &w.users[0];
    let plain = pseudo_random(5 * 1024 * 1024 + 1000, 9);
    let (ciphertext, key) = encrypt_bytes(&plain).unwrap();
    let channel = open_channel(&w, alice, "s3.bin", Some(ciphertext.len()), true);
    let id = channel["uploadId"].as_str().unwrap().to_string();
    // No chunks on an S3 channel.
    put_chunk(
        &w,
        channel["uploadUrl"].as_str().unwrap(),
        0,
        &ciphertext[..10],
        "*",
    )
    .assert_error(400, Some(-90033));
    let status = || {
        w.client
            .api(alice, "GET", &format!("/nodes/files/uploads/{id}"), None)
            .json()
    };
    assert_eq!(status()["status"], "transfer");

    let urls_for = |size: usize, first: i64, last: i64| {
        let body = json!({"size": size, "firstPartNumber": first, "lastPartNumber": last});
        w.client.api(
            alice,
            "POST",
            &format!("/nodes/files/uploads/{id}/s3_urls"),
            Some(&body),
        )
    };
    urls_for(10, 0, 1).assert_error(400, Some(-80001));
    let parts = [
        &ciphertext[..5 * 1024 * 1024],
        &ciphertext[5 * 1024 * 1024..],
    ];
    let mut etags = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let r = urls_for(part.len(), i as i64 + 1, i as i64 + 1);
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let urls = r.json();
        assert_eq!(urls["urls"][0]["partNumber"], json!(i + 1));
        let url = urls["urls"][0]["url"].as_str().unwrap().to_string();
        assert!(
            url.starts_with(&format!("{}/s3/{id}/{}?", w.server.base_url(), i + 1)),
            "{url}"
        );
        // A wrong size does not fit the signature.
        let r = w.client.send("PUT", &url, &[], &part[..part.len() - 1]);
        assert_eq!(r.status, 403);
        let r = w.client.send("PUT", &url, &[], part);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let etag = r.header("etag").unwrap().to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        etags.push(etag.trim_matches('"').to_string());
    }
    let v = w.server.violations();
    assert_eq!(v.len(), 2, "{v:#?}");

    let own = file_key_json(&keys().pairs[0].public_key().wrap_file_key(&key).unwrap());
    let complete = |parts: Value| {
        w.client.api(
            alice,
            "PUT",
            &format!("/nodes/files/uploads/{id}/s3"),
            Some(&json!({"parts": parts, "resolutionStrategy": "autorename", "fileKey": own})),
        )
    };
    complete(
        json!([{"partNumber": 1, "partEtag": etags[0]}, {"partNumber": 3, "partEtag": etags[1]}]),
    )
    .assert_error(400, Some(-80045));
    complete(
        json!([{"partNumber": 1, "partEtag": etags[1]}, {"partNumber": 2, "partEtag": etags[1]}]),
    )
    .assert_error(400, Some(-80045));
    complete(json!([{"partNumber": 1}])).assert_error(400, Some(-80000));
    let r = complete(
        json!([{"partNumber": 2, "partEtag": etags[1]}, {"partNumber": 1, "partEtag": format!("\"{}\"", etags[0])}]),
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(status()["status"], "finishing");
    let done = status();
    assert_eq!(done["status"], "done");
    assert_eq!(done["node"]["name"], "s3.bin");
    let node = done["node"]["id"].as_i64().unwrap();
    assert!(w.server.file_content(node).unwrap() == ciphertext);
    assert_eq!(status()["status"], "done");
    assert_eq!(w.server.violations().len(), 2);

    // Small parts that are not the last one are refused at completion.
    let channel = open_channel(&w, alice, "small.bin", None, true);
    let id = channel["uploadId"].as_str().unwrap().to_string();
    let mut etags = Vec::new();
    for (n, part) in [&ciphertext[..100], &ciphertext[100..200]]
        .iter()
        .enumerate()
    {
        let body = json!({"size": part.len(), "firstPartNumber": n + 1, "lastPartNumber": n + 1});
        let r = w.client.api(
            alice,
            "POST",
            &format!("/nodes/files/uploads/{id}/s3_urls"),
            Some(&body),
        );
        let url = r.json()["urls"][0]["url"].as_str().unwrap().to_string();
        // The auth header never goes to S3.
        if n == 0 {
            let auth = format!("Bearer {}", alice.token);
            assert_eq!(
                w.client
                    .send("PUT", &url, &[("Authorization", &auth)], part)
                    .status,
                400
            );
        }
        etags.push(
            w.client
                .send("PUT", &url, &[], part)
                .header("etag")
                .unwrap()
                .to_string(),
        );
    }
    let v = w.server.violations();
    assert_eq!(v.len(), 3, "{v:#?}");
    assert!(
        v[2].contains("authorization header sent to a presigned S3 URL"),
        "{v:#?}"
    );
    let r = w.client.api(
        alice,
        "PUT",
        &format!("/nodes/files/uploads/{id}/s3"),
        Some(&json!({"parts": [{"partNumber": 1, "partEtag": etags[0]}, {"partNumber": 2, "partEtag": etags[1]}], "fileKey": own})),
    );
    r.assert_error(400, Some(-80046));

    // S3 switched off.
    w.server.set_s3_enabled(false);
    w.client
        .api(
            alice,
            "POST",
            "/nodes/files/uploads",
            Some(&json!({"parentId": w.room, "name": "n", "directS3Upload": true})),
        )
        .assert_error(412, Some(-90030));
}

// ------------------------------------------------------------------------------------------
// Faults

#[test]
fn status_faults_fire_exactly_count_times() {
    let w = world();
    let alice = &w.users[0];
    w.server.inject(Fault::Status {
        method: "GET",
        path_prefix: "/nodes/missingFileKeys".to_string(),
        status: 503,
        retry_after: None,
        count: 2,
    });
    w.server.inject(Fault::Status {
        method: "*",
        path_prefix: "/api/v4/user/account/".to_string(),
        status: 429,
        retry_after: Some(3),
        count: 1,
    });
    for expected in [503, 503, 200, 200] {
        let r = w.client.api(alice, "GET", "/nodes/missingFileKeys", None);
        assert_eq!(r.status, expected);
        if expected == 503 {
            r.assert_error(503, None);
            assert_eq!(r.header("retry-after"), None);
        }
    }
    let r = w.client.api(alice, "GET", "/user/account/keypairs", None);
    r.assert_error(429, None);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(
        w.client
            .api(alice, "GET", "/user/account/keypairs", None)
            .status,
        200
    );

    // A faulted POST has no effect.
    let (file, key, _) = put_encrypted(&w, "a.txt", b"x", 0);
    w.server.inject(Fault::Status {
        method: "POST",
        path_prefix: "/nodes/files/keys".to_string(),
        status: 500,
        retry_after: None,
        count: 1,
    });
    let bob = &w.users[1];
    let body = json!({"items": [{"userId": bob.id, "fileId": file,
        "fileKey": file_key_json(&keys().pairs[1].public_key().wrap_file_key(&key).unwrap())}]});
    assert_eq!(
        w.client
            .api(alice, "POST", "/nodes/files/keys", Some(&body))
            .status,
        500
    );
    assert!(w.server.file_key(file, bob.id).is_none());
    assert_eq!(
        w.client
            .api(alice, "POST", "/nodes/files/keys", Some(&body))
            .status,
        204
    );
    assert!(w.server.file_key(file, bob.id).is_some());

    let statuses: Vec<(String, u16)> = w
        .server
        .requests()
        .iter()
        .map(|r| (format!("{} {}", r.method, r.path), r.status))
        .collect();
    assert_eq!(
        statuses.iter().filter(|(_, s)| *s == 503).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|(_, s)| *s == 429).count(), 1);
    assert_eq!(statuses.iter().filter(|(_, s)| *s == 500).count(), 1);
    let recorded = w.server.requests();
    let last = recorded.last().unwrap();
    assert_eq!(last.method, "POST");
    assert_eq!(last.path, "/api/v4/nodes/files/keys");
    assert_eq!(
        last.authorization.as_deref(),
        Some(format!("Bearer {}", alice.token).as_str())
    );
    assert_eq!(last.body_len, body.to_string().len());
    assert!(
        last.headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/json")
    );
    assert_clean(&w.server);
}

#[test]
fn dropped_connections_mid_upload_and_mid_download() {
    let w = world();
    let alice = &w.users[0];
    let plain = pseudo_random(300_000, 5);
    let (ciphertext, key) = encrypt_bytes(&plain).unwrap();
    let channel = open_channel(&w, alice, "drop.bin", Some(ciphertext.len()), false);
    let url = channel["uploadUrl"].as_str().unwrap();
    w.server.inject(Fault::DropConnection {
        method: "POST",
        path_prefix: "/uploads/".to_string(),
        after_bytes: 64 * 1024,
        count: 1,
    });
    let total = ciphertext.len().to_string();
    let range = format!("bytes 0-{}/{total}", ciphertext.len() - 1);
    let dropped = w
        .client
        .try_send("POST", url, &[("Content-Range", &range)], &ciphertext);
    assert!(dropped.is_err(), "{dropped:?}");
    let r = w.server.requests();
    let last = r.last().unwrap();
    assert_eq!(last.status, 0);
    assert!(
        last.body_len >= 64 * 1024 && last.body_len < ciphertext.len(),
        "{}",
        last.body_len
    );
    // Nothing of it was stored: completing now finds no bytes.
    let own = file_key_json(&keys().pairs[0].public_key().wrap_file_key(&key).unwrap());
    w.client
        .public("PUT", url, Some(&json!({"fileKey": own})))
        .assert_error(400, Some(-80021));
    // The fault is used up: the resend goes through.
    assert_eq!(put_chunk(&w, url, 0, &ciphertext, &total).status, 201);
    let r = w.client.public("PUT", url, Some(&json!({"fileKey": own})));
    assert_eq!(r.status, 201);
    let id = r.json()["id"].as_i64().unwrap();

    // Download: headers with the full length, then the connection breaks.
    let download = w
        .client
        .api(alice, "POST", &format!("/nodes/files/{id}/downloads"), None)
        .json()["downloadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    w.server.inject(Fault::DropConnection {
        method: "GET",
        path_prefix: "/downloads/".to_string(),
        after_bytes: 100_000,
        count: 1,
    });
    let mut conn = w.client.connect();
    let target = download.strip_prefix(&w.server.base_url()).unwrap();
    write!(conn.get_mut(), "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut received = Vec::new();
    let _ = conn.read_to_end(&mut received);
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(200)]
    );
    assert!(
        text.to_ascii_lowercase()
            .contains(&format!("content-length: {}", ciphertext.len()))
    );
    let head_len = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let got = received.len() - head_len;
    assert!(got <= 100_000 && got < ciphertext.len(), "{got}");
    assert_eq!(&received[head_len..], &ciphertext[..got]);
    assert_eq!(w.server.requests().last().unwrap().status, 0);
    // Resume with Range.
    let r = w.client.send(
        "GET",
        &download,
        &[("Range", &format!("bytes={got}-"))],
        b"",
    );
    assert_eq!(r.status, 206);
    let mut all = received[head_len..].to_vec();
    all.extend_from_slice(&r.body);
    assert_eq!(decrypt_bytes(&all, &key).unwrap(), plain);

    // count = 2 drops two S3 part uploads, the third passes.
    let channel = open_channel(&w, alice, "s3drop.bin", None, true);
    let id = channel["uploadId"].as_str().unwrap();
    let body = json!({"size": 50_000, "firstPartNumber": 1, "lastPartNumber": 1});
    let r = w.client.api(
        alice,
        "POST",
        &format!("/nodes/files/uploads/{id}/s3_urls"),
        Some(&body),
    );
    let url = r.json()["urls"][0]["url"].as_str().unwrap().to_string();
    w.server.inject(Fault::DropConnection {
        method: "PUT",
        path_prefix: "/s3/".to_string(),
        after_bytes: 10,
        count: 2,
    });
    let part = &ciphertext[..50_000];
    assert!(w.client.try_send("PUT", &url, &[], part).is_err());
    assert!(w.client.try_send("PUT", &url, &[], part).is_err());
    assert_eq!(w.client.send("PUT", &url, &[], part).status, 200);
    assert_clean(&w.server);
}

#[test]
fn missing_keys_list_changes_between_pages() {
    let w = world();
    let (alice, bob) = (&w.users[0], &w.users[1]);
    let dave = w.server.create_user("dave");
    let (kp, container) = key_pair(3);
    w.server.add_user_key_pair(dave.id, container, kp);
    for i in 0..150 {
        put_encrypted(&w, &format!("{i}.txt"), b"x", 0);
    }
    w.server.inject(Fault::AddRoomMemberAfterMissingKeysPage {
        room_id: w.room,
        user_id: dave.id,
    });
    let page = |offset: usize| {
        w.client
            .api(
                alice,
                "GET",
                &format!("/nodes/missingFileKeys?offset={offset}&limit=100"),
                None,
            )
            .json()
    };
    let first = page(0);
    assert_eq!(first["range"]["total"], 300);
    let second = page(100);
    assert_eq!(second["range"]["total"], 450);
    // Dave's 150 pairs sort after the earlier ones (by file id, then user id), so the
    // client sees them on the later pages.
    let dave_items = |p: &Value| {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["userId"] == json!(dave.id))
            .count()
    };
    assert_eq!(dave_items(&first), 0);
    assert!(dave_items(&second) > 0);
    assert!(
        w.server
            .missing_keys()
            .iter()
            .filter(|(_, u)| *u == dave.id)
            .count()
            == 150
    );
    // Bob's view is the same list, minus what he cannot serve (nothing).
    assert_eq!(
        w.client
            .api(bob, "GET", "/nodes/missingFileKeys", None)
            .json()["range"]["total"],
        0
    );
    assert_eq!(w.server.missing_keys().len(), 450);
    assert_clean(&w.server);
}

// ------------------------------------------------------------------------------------------
// Rescue keys, previous key pairs, several key pair versions

#[test]
fn rescue_keys_come_first_and_use_key_selects_the_source() {
    let w = world();
    let c = &w.client;
    let (alice, bob) = (&w.users[0], &w.users[1]);
    let (system_kp, system) = key_pair(4);
    let (room_kp, rescue) = key_pair(5);
    w.server.set_system_rescue_key_pair(system, system_kp);
    w.server.set_room_rescue_key_pair(w.room, rescue, room_kp);
    let (file, key, _) = put_encrypted(&w, "a.txt", b"rescue me", 0);

    let page = c.api(alice, "GET", "/nodes/missingFileKeys", None).json();
    let order: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["userId"].as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![-1, -w.room, w.users[1].id, w.users[2].id]);
    // The rescue public keys are listed under the pseudo ids.
    let users = page["users"].as_array().unwrap();
    let system_public = users.iter().find(|u| u["id"] == -1).unwrap();
    assert_eq!(
        system_public["publicKeyContainer"]["publicKey"],
        json!(key_pair(4).1.public_key_container.public_key)
    );
    // The rescue keys are not in missing_keys() (users only).
    assert_eq!(w.server.missing_keys().len(), 2);
    // Nobody can serve from the rescue keys yet.
    let r = c.api(
        alice,
        "GET",
        &format!(
            "/nodes/missingFileKeys?use_key=room_rescue_key&room_id={}",
            w.room
        ),
        None,
    );
    assert_eq!(r.json()["range"]["total"], 0);

    // Alice hands the key to both rescue key pairs.
    let items: Vec<Value> = [(-1, system_kp), (-w.room, room_kp)]
        .iter()
        .map(|(id, kp)| json!({"userId": id, "fileId": file, "fileKey": file_key_json(&kp.public_key().wrap_file_key(&key).unwrap())}))
        .collect();
    assert_eq!(
        c.api(
            alice,
            "POST",
            "/nodes/files/keys",
            Some(&json!({"items": items}))
        )
        .status,
        204
    );
    assert_clean(&w.server);

    // Bob (room member, no file key) serves the others from the room rescue key.
    let r = c.api(
        bob,
        "GET",
        &format!(
            "/nodes/missingFileKeys?use_key=room_rescue_key&room_id={}",
            w.room
        ),
        None,
    );
    let page = r.json();
    assert_eq!(page["range"]["total"], 2, "{page}");
    let enc =
        EncryptedFileKey::from_json(&page["files"][0]["fileKeyContainer"].to_string()).unwrap();
    assert_eq!(room_kp.private_key().unwrap_file_key(&enc).unwrap(), key);
    // And from the system rescue key.
    let r = c.api(
        bob,
        "GET",
        "/nodes/missingFileKeys?use_key=system_rescue_key",
        None,
    );
    let page = r.json();
    assert_eq!(page["range"]["total"], 2);
    let enc =
        EncryptedFileKey::from_json(&page["files"][0]["fileKeyContainer"].to_string()).unwrap();
    assert_eq!(system_kp.private_key().unwrap_file_key(&enc).unwrap(), key);
    // The deprecated endpoints agree.
    let r = c.api(
        bob,
        "GET",
        &format!("/nodes/files/{file}/data_room_file_key"),
        None,
    );
    assert_eq!(r.status, 200);
    // A wrong key for a rescue key pair is caught like any other.
    let (_, other) = encrypt_bytes(b"x").unwrap();
    let bad = json!({"items": [{"userId": w.users[2].id, "fileId": file,
        "fileKey": file_key_json(&keys().pairs[2].public_key().wrap_file_key(&other).unwrap())}]});
    assert_eq!(
        c.api(bob, "POST", "/nodes/files/keys", Some(&bad)).status,
        204
    );
    assert_eq!(w.server.violations().len(), 1);
}

#[test]
fn previous_user_key_pairs_and_several_versions() {
    let w = world();
    let c = &w.client;
    let (alice, bob) = (&w.users[0], &w.users[1]);
    let (file, key, _) = put_encrypted(&w, "a.txt", b"migrate me", 1);
    // Bob migrates: his key pair 1 becomes previous, key pair 3 is his new one.
    w.server
        .mark_previous_user_key_pair(bob.id, UserKeyPairVersion::Rsa2048);
    let (new_kp, new_container) = key_pair(3);
    w.server.add_user_key_pair(bob.id, new_container, new_kp);
    // Bob needs a key again; he can serve himself from his previous key pair.
    assert!(w.server.missing_keys().contains(&(file, bob.id)));
    let r = c.api(
        bob,
        "GET",
        &format!(
            "/nodes/missingFileKeys?use_key=previous_user_key&user_id={}",
            bob.id
        ),
        None,
    );
    let page = r.json();
    assert_eq!(page["range"]["total"], 1, "{page}");
    let enc =
        EncryptedFileKey::from_json(&page["files"][0]["fileKeyContainer"].to_string()).unwrap();
    let plain = keys().pairs[1].private_key().unwrap_file_key(&enc).unwrap();
    assert_eq!(plain, key);
    // Both key pairs are listed by /keypairs, current first.
    let all = c.api(bob, "GET", "/user/account/keypairs", None).json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(
        all[0]["publicKeyContainer"]["publicKey"],
        json!(key_pair(3).1.public_key_container.public_key)
    );
    let mine = new_kp.public_key().wrap_file_key(&plain).unwrap();
    let body =
        json!({"items": [{"userId": bob.id, "fileId": file, "fileKey": file_key_json(&mine)}]});
    assert_eq!(
        c.api(bob, "POST", "/nodes/files/keys", Some(&body)).status,
        204
    );
    assert!(!w.server.missing_keys().contains(&(file, bob.id)));
    assert_clean(&w.server);

    // Over HTTP: POST /user/account/keypairs preserves the old private key.
    let dave = w.server.create_user("dave");
    let (_, first) = key_pair(4);
    assert_eq!(
        c.api(
            &dave,
            "POST",
            "/user/account/keypair",
            Some(&serde_json::to_value(&first).unwrap())
        )
        .status,
        204
    );
    let (_, second) = key_pair(5);
    let body = json!({
        "previousPrivateKey": first.private_key_container,
        "privateKeyContainer": second.private_key_container,
        "publicKeyContainer": second.public_key_container,
    });
    assert_eq!(
        c.api(&dave, "POST", "/user/account/keypairs", Some(&body))
            .status,
        204
    );
    let r = c.api(&dave, "GET", "/user/account/keypair", None).json();
    assert_eq!(
        r["publicKeyContainer"]["publicKey"],
        json!(second.public_key_container.public_key)
    );
    assert_eq!(
        c.api(&dave, "GET", "/user/account/keypairs", None)
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let _ = alice;
}

#[test]
fn users_with_two_key_pair_versions_are_listed_with_both_public_keys() {
    static RSA4096: OnceLock<UserKeyPair> = OnceLock::new();
    let big = RSA4096.get_or_init(|| UserKeyPair::generate(UserKeyPairVersion::Rsa4096).unwrap());
    let w = world();
    let c = &w.client;
    let (alice, bob) = (&w.users[0], &w.users[1]);
    let container = big
        .hazmat_to_container_with_iterations(&Password::new("big"), ITERATIONS)
        .unwrap();
    // Over HTTP this time: bob adds an RSA-4096 key pair next to his A key pair.
    let r = c.api(
        bob,
        "POST",
        "/user/account/keypair",
        Some(&serde_json::to_value(&container).unwrap()),
    );
    assert_eq!(r.status, 204);
    w.server.add_user_key_pair(bob.id, container, big);
    let (file, key, _) = put_encrypted(&w, "a.txt", b"two versions", 0);
    let page = c
        .api(
            alice,
            "GET",
            &format!("/nodes/missingFileKeys?user_id={}", bob.id),
            None,
        )
        .json();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let versions: Vec<&str> = page["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["id"] == json!(bob.id))
        .map(|u| u["publicKeyContainer"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, vec!["RSA-4096", "A"]);
    // Wrap for both, as the spec wants.
    let items: Vec<Value> = [big, &keys().pairs[1]]
        .iter()
        .map(|kp| json!({"userId": bob.id, "fileId": file, "fileKey": file_key_json(&kp.public_key().wrap_file_key(&key).unwrap())}))
        .collect();
    assert_eq!(
        c.api(
            alice,
            "POST",
            "/nodes/files/keys",
            Some(&json!({"items": items}))
        )
        .status,
        204
    );
    assert_clean(&w.server);
    // Without a version the server prefers RSA-4096; with one it answers that one.
    let k = c
        .api(
            bob,
            "GET",
            &format!("/nodes/files/{file}/user_file_key"),
            None,
        )
        .json();
    assert_eq!(k["version"], "RSA-4096/AES-256-GCM");
    let k = c
        .api(
            bob,
            "GET",
            &format!("/nodes/files/{file}/user_file_key?version=A"),
            None,
        )
        .json();
    assert_eq!(k["version"], "A");
    let k = c.api(bob, "GET", "/user/account/keypair", None).json();
    assert_eq!(k["publicKeyContainer"]["version"], "RSA-4096");
    // Bob holds keys of both versions: files[] carries one entry per version for him.
    let page = c
        .api(
            bob,
            "GET",
            &format!("/nodes/missingFileKeys?file_id={file}"),
            None,
        )
        .json();
    assert_eq!(
        page["items"],
        json!([{"userId": w.users[2].id, "fileId": file}])
    );
    let files: Vec<&str> = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fileKeyContainer"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(files, vec!["RSA-4096/AES-256-GCM", "A"]);
}

// ------------------------------------------------------------------------------------------
// Shares

#[test]
fn encrypted_download_share() {
    let w = world();
    let c = &w.client;
    let alice = &w.users[0];
    let (file, key, ciphertext) = put_encrypted(&w, "shared.pdf", b"for your eyes only", 0);
    let share_password = Password::new("share secret");
    w.server.add_share_password(&share_password);
    let share_kp = &keys().pairs[5];
    let share_container = share_kp
        .hazmat_to_container_with_iterations(&share_password, ITERATIONS)
        .unwrap();
    let file_key = file_key_json(&share_kp.public_key().wrap_file_key(&key).unwrap());
    let kp_json = serde_json::to_value(&share_container).unwrap();

    let create = |body: Value| c.api(alice, "POST", "/shares/downloads", Some(&body));
    create(json!({"nodeId": file, "keyPair": kp_json})).assert_error(400, Some(-50005));
    create(json!({"nodeId": file, "fileKey": file_key})).assert_error(400, Some(-50006));
    create(json!({"nodeId": file, "keyPair": kp_json, "fileKey": file_key, "password": "x"}))
        .assert_error(400, Some(-50003));
    create(json!({"nodeId": 999_999, "keyPair": kp_json, "fileKey": file_key}))
        .assert_error(404, Some(-41000));
    create(json!({"name": "x"})).assert_error(400, Some(-80000));
    let r =
        create(json!({"nodeId": file, "name": "Report", "keyPair": kp_json, "fileKey": file_key}));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let share = r.json();
    for field in [
        "accessKey",
        "cntDownloads",
        "createdAt",
        "createdBy",
        "id",
        "name",
        "nodeId",
        "notifyCreator",
    ] {
        assert!(share.get(field).is_some(), "{field} missing in {share}");
    }
    assert_eq!(share["isEncrypted"], true);
    let access = share["accessKey"].as_str().unwrap().to_string();
    assert_eq!(w.server.share_access_keys(), vec![access.clone()]);
    assert_clean(&w.server);

    // The public side.
    let info = c
        .public("GET", &format!("/public/shares/downloads/{access}"), None)
        .json();
    assert_eq!(info["isEncrypted"], true);
    assert_eq!(info["fileName"], "shared.pdf");
    assert_eq!(info["size"], json!(ciphertext.len()));
    let private: dracoon_crypto::PrivateKeyContainer =
        serde_json::from_value(info["privateKeyContainer"].clone()).unwrap();
    let enc = EncryptedFileKey::from_json(&info["fileKey"].to_string()).unwrap();
    let plain = private.unwrap_file_key(&enc, &share_password).unwrap();
    let url_path = format!("/public/shares/downloads/{access}");
    c.public(
        "POST",
        &url_path,
        Some(&json!({"password": "share secret"})),
    )
    .assert_error(400, Some(-50008));
    let r = c.public("POST", &url_path, None);
    assert_eq!(r.status, 201);
    let url = r.json()["downloadUrl"].as_str().unwrap().to_string();
    let r = c.send("GET", &url, &[("Range", "bytes=0-4")], b"");
    assert_eq!(r.status, 206);
    let rest = c.send("GET", &url, &[("Range", "bytes=5-")], b"");
    let mut all = r.body;
    all.extend_from_slice(&rest.body);
    assert_eq!(decrypt_bytes(&all, &plain).unwrap(), b"for your eyes only");
    c.public("GET", "/public/shares/downloads/nope", None)
        .assert_error(404, Some(-50000));
    assert_clean(&w.server);

    // A share whose fileKey is not the file's key is a violation.
    let (_, other) = encrypt_bytes(b"x").unwrap();
    let wrong = file_key_json(&share_kp.public_key().wrap_file_key(&other).unwrap());
    assert_eq!(
        create(json!({"nodeId": file, "keyPair": kp_json, "fileKey": wrong})).status,
        201
    );
    let v = w.server.violations();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].contains("POST /shares/downloads"), "{v:#?}");

    // Unencrypted rooms: no keys, passwords allowed and checked.
    let plain_room = w.server.create_room("Open", false, &[alice.id]);
    let open_file = w
        .server
        .put_file(plain_room, "open.txt", b"hello".to_vec(), &key, &[]);
    create(json!({"nodeId": open_file, "keyPair": kp_json})).assert_error(400, Some(-50007));
    let r = create(json!({"nodeId": open_file, "password": "pw", "maxDownloads": 1}));
    assert_eq!(r.status, 201);
    let access = r.json()["accessKey"].as_str().unwrap().to_string();
    let path = format!("/public/shares/downloads/{access}");
    c.public("POST", &path, Some(&json!({"password": "wrong"})))
        .assert_error(401, Some(-50009));
    let url = c
        .public("POST", &path, Some(&json!({"password": "pw"})))
        .json()["downloadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.send("GET", &url, &[], b"").body, b"hello");
    c.public("POST", &path, Some(&json!({"password": "pw"})))
        .assert_error(404, Some(-50002));
}

#[test]
fn upload_share_into_an_encrypted_room() {
    let w = world();
    let c = &w.client;
    let outsider = w.server.create_user("nokeys");
    w.server.add_room_member(w.room, outsider.id);
    let access = w.server.create_upload_share(w.room);
    let info = c
        .public("GET", &format!("/public/shares/uploads/{access}"), None)
        .json();
    assert_eq!(info["isEncrypted"], true);
    for field in ["createdAt", "creatorName", "isProtected"] {
        assert!(info.get(field).is_some(), "{field} missing in {info}");
    }
    let listed: Vec<i64> = info["userUserPublicKeyList"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, w.users.iter().map(|u| u.id).collect::<Vec<_>>());

    let plain = pseudo_random(70_000, 11);
    let (ciphertext, key) = encrypt_bytes(&plain).unwrap();
    let r = c.public(
        "POST",
        &format!("/public/shares/uploads/{access}"),
        Some(&json!({"name": "from outside.bin", "size": ciphertext.len()})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let channel = r.json();
    let id = channel["uploadId"].as_str().unwrap();
    let url = channel["uploadUrl"].as_str().unwrap();
    // Chunks through uploadUrl and through the share path.
    assert_eq!(
        put_chunk(&w, url, 0, &ciphertext[..30_000], "*").status,
        201
    );
    let share_path = format!("/api/v4/public/shares/uploads/{access}/{id}");
    assert_eq!(
        put_chunk(&w, &share_path, 30_000, &ciphertext[30_000..], "*").status,
        201
    );
    let items: Vec<Value> = info["userUserPublicKeyList"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let public: dracoon_crypto::PublicKeyContainer =
                serde_json::from_value(i["publicKeyContainer"].clone()).unwrap();
            json!({"userId": i["id"], "fileKey": file_key_json(&public.wrap_file_key(&key).unwrap())})
        })
        .collect();
    c.public("PUT", &share_path, Some(&json!({})))
        .assert_error(400, Some(-40763));
    let r = c.public("PUT", &share_path, Some(&json!({"items": items})));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["name"], "from outside.bin");
    assert_eq!(r.json()["size"], json!(ciphertext.len()));
    let node = w.server.find_file(w.room, "from outside.bin").unwrap();
    for user in &w.users {
        assert!(w.server.file_key(node, user.id).is_some());
    }
    assert!(w.server.missing_keys().is_empty());
    assert_clean(&w.server);

    // S3 through the share.
    let r = c.public(
        "POST",
        &format!("/public/shares/uploads/{access}"),
        Some(&json!({"name": "s3.bin", "directS3Upload": true})),
    );
    let id = r.json()["uploadId"].as_str().unwrap().to_string();
    let base = format!("/public/shares/uploads/{access}/{id}");
    let r = c.public(
        "POST",
        &format!("{base}/s3_urls"),
        Some(&json!({"size": ciphertext.len(), "firstPartNumber": 1, "lastPartNumber": 1})),
    );
    assert_eq!(r.status, 201);
    let part_url = r.json()["urls"][0]["url"].as_str().unwrap().to_string();
    let etag = c
        .send("PUT", &part_url, &[], &ciphertext)
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(c.public("GET", &base, None).json()["status"], "transfer");
    let r = c.public(
        "PUT",
        &format!("{base}/s3"),
        Some(&json!({"parts": [{"partNumber": 1, "partEtag": etag}], "userFileKeyList": items})),
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(c.public("GET", &base, None).json()["status"], "finishing");
    let done = c.public("GET", &base, None).json();
    assert_eq!(done["status"], "done");
    assert_eq!(done["fileName"], "s3.bin");
    assert_eq!(done["size"], json!(ciphertext.len()));
    c.public("GET", "/public/shares/uploads/nope", None)
        .assert_error(404, Some(-50501));
    assert_clean(&w.server);
}

// ------------------------------------------------------------------------------------------
// Connections, public endpoints, rooms

#[test]
fn keep_alive_and_concurrent_connections() {
    let w = world();
    let alice = w.users[0].clone();
    let auth = format!("Bearer {}", alice.token);
    let mut conn = w.client.connect();
    for _ in 0..5 {
        let r = exchange(
            &mut conn,
            "GET",
            "/api/v4/config/info/policies/algorithms",
            &[("Authorization", &auth)],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        // An error answer keeps the connection too.
        let r = exchange(
            &mut conn,
            "GET",
            "/api/v4/nodes/missingFileKeys?limit=x",
            &[("Authorization", &auth)],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 400);
    }
    let base = w.server.base_url();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let base = base.clone();
            let auth = auth.clone();
            std::thread::spawn(move || {
                let client = Client { base };
                let mut conn = client.connect();
                for _ in 0..20 {
                    let r = exchange(
                        &mut conn,
                        "GET",
                        "/api/v4/user/account/keypair",
                        &[("Authorization", &auth)],
                        b"",
                    )
                    .unwrap();
                    assert_eq!(r.status, 200, "thread {i}");
                }
            })
        })
        .collect();
    // A slow upload on another connection does not hold anyone up.
    let channel = open_channel(&w, &alice, "slow.bin", None, false);
    let url = channel["uploadUrl"].as_str().unwrap().to_string();
    let mut slow = w.client.connect();
    let target = url.strip_prefix(&base).unwrap().to_string();
    write!(slow.get_mut(), "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Range: bytes 0-9/10\r\nContent-Length: 10\r\n\r\n01234").unwrap();
    for t in threads {
        t.join().unwrap();
    }
    slow.get_mut().write_all(b"56789").unwrap();
    assert_eq!(read_response(&mut slow, false).unwrap().status, 201);
    assert_eq!(w.server.requests().len(), 10 + 1 + 160 + 1);
    assert_clean(&w.server);
}

#[test]
fn auth_headers_on_public_endpoints_are_violations() {
    let w = world();
    let alice = &w.users[0];
    let (file, _, _) = put_encrypted(&w, "a.txt", b"x", 0);
    let url = w
        .client
        .api(
            alice,
            "POST",
            &format!("/nodes/files/{file}/downloads"),
            None,
        )
        .json()["downloadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let auth = format!("Bearer {}", alice.token);
    // Served as the real server would, but recorded.
    assert_eq!(
        w.client
            .send("GET", &url, &[("Authorization", &auth)], b"")
            .status,
        200
    );
    let channel = open_channel(&w, alice, "b.bin", None, false);
    let r = w.client.send(
        "POST",
        channel["uploadUrl"].as_str().unwrap(),
        &[
            ("X-Sds-Auth-Token", &alice.token),
            ("Content-Range", "bytes 0-0/1"),
        ],
        b"z",
    );
    assert_eq!(r.status, 201);
    let v = w.server.violations();
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(
        v[0].contains("authorization header sent to the public endpoint GET /downloads/{token}"),
        "{v:#?}"
    );
    assert!(v[1].contains("x-sds-auth-token"), "{v:#?}");
    // Unknown endpoints.
    w.client
        .api(alice, "GET", "/nodes/nothing", None)
        .assert_error(404, None);
    w.client
        .public("GET", "/elsewhere", None)
        .assert_error(404, None);
}

#[test]
fn room_encryption() {
    let w = world();
    let c = &w.client;
    let alice = &w.users[0];
    let room = w.server.create_room("New", false, &[alice.id]);
    let path = format!("/nodes/rooms/{room}/encrypt");
    c.api(alice, "PUT", &path, Some(&json!({})))
        .assert_error(400, Some(-80000));
    c.api(alice, "PUT", &path, Some(&json!({"isEncrypted": "true"})))
        .assert_error(400, Some(-80005));
    let (_, rescue) = key_pair(5);
    let r = c.api(
        alice,
        "PUT",
        &path,
        Some(&json!({"isEncrypted": true, "useDataSpaceRescueKey": false, "dataRoomRescueKey": rescue})),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let node = r.json();
    assert_eq!(node["type"], "room");
    assert_eq!(node["isEncrypted"], true);
    assert_eq!(node["encryptionInfo"]["roomKeyState"], "available");
    assert_eq!(
        c.api(alice, "GET", &format!("/nodes/rooms/{room}/keypair"), None)
            .status,
        200
    );
    c.api(
        alice,
        "PUT",
        &path,
        Some(&json!({"isEncrypted": true, "dataRoomRescueKey": rescue})),
    )
    .assert_error(400, Some(-40004));
    // A room with files cannot change its encryption.
    put_encrypted(&w, "a.txt", b"x", 0);
    c.api(
        alice,
        "PUT",
        &format!("/nodes/rooms/{}/encrypt", w.room),
        Some(&json!({"isEncrypted": false})),
    )
    .assert_error(400, Some(-40003));
    assert_clean(&w.server);
}

#[test]
fn api_misuse_is_reported_not_panicked() {
    let server = TestServer::start().unwrap();
    let (kp, container) = key_pair(0);
    server.add_user_key_pair(424_242, container.clone(), kp);
    server.add_room_member(1, 2);
    let user = server.create_user("u");
    server.add_user_key_pair(user.id, container, &keys().pairs[1]);
    let v = server.violations();
    assert_eq!(v.len(), 3, "{v:#?}");
    assert!(v.iter().all(|m| m.starts_with("testkit misuse:")), "{v:#?}");
    drop(server);
}
