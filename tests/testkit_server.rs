//! The in-process DRACOON server (`dracoon_crypto::testkit`) driven with plain HTTP/1.1 written
//! by hand over `std::net::TcpStream`: authentication, request shapes and error codes, paging,
//! uploads (chunked, multipart, S3), Range downloads, shares, key checks and injected faults.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use dracoon_crypto::testkit::{Fault, TestServer, TestUser};
use dracoon_crypto::{
    EncryptedFileKey, Password, PlainFileKey, UserKeyPair, UserKeyPairContainer,
    UserKeyPairVersion, decrypt_bytes, encrypt_bytes,
};
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
