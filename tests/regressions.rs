//! Regression tests for findings of the fuzzing campaign and the hardening review (issue 5).
//!
//! Each test replays the exact failing input through the public API and passes because the
//! finding is fixed. Failing fuzz inputs are kept as small files under
//! `tests/regressions/<target>/`.

use std::sync::OnceLock;

use dracoon_crypto::error::KeyPairProblem;
use dracoon_crypto::{
    Error, Password, PrivateKeyContainer, PublicKeyContainer, UserKeyPairContainer,
    UserKeyPairVersion, UserPrivateKey, UserPublicKey,
};
use dracoon_crypto_testkit::der;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};

/// A generated RSA-2048 key: (PKCS#1 RSAPrivateKey DER, SubjectPublicKeyInfo DER).
fn key2048() -> &'static (Vec<u8>, Vec<u8>) {
    static K: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    K.get_or_init(|| {
        let key = rsa::PrivateKey::new(&mut rand::rngs::SysRng, 2048).expect("RSA-2048");
        let pkcs8 = key.to_pkcs8_der().expect("PKCS#8").as_bytes().to_vec();
        let spki = key
            .to_public_key()
            .to_public_key_der()
            .expect("SPKI")
            .as_bytes()
            .to_vec();
        let pkcs1 = der::elements(&pkcs8)
            .and_then(|e| e.get(2).map(|(_, c)| c.clone()))
            .expect("PrivateKeyInfo holds an RSAPrivateKey");
        (pkcs1, spki)
    })
}

fn private(version: UserKeyPairVersion, pem: String) -> PrivateKeyContainer {
    PrivateKeyContainer {
        version,
        private_key: pem,
        created_at: None,
        created_by: None,
        expire_at: None,
    }
}

/// The key pair of [`key2048`], opened from its plain PKCS#1 PEM.
fn pair2048() -> dracoon_crypto::UserKeyPair {
    let plain = private(
        UserKeyPairVersion::Rsa2048,
        der::pem("RSA PRIVATE KEY", &key2048().0),
    );
    dracoon_crypto::UserKeyPair::from_private(UserPrivateKey::from_plain_container(&plain).unwrap())
        .unwrap()
}

fn public(version: UserKeyPairVersion, pem: String) -> PublicKeyContainer {
    PublicKeyContainer {
        version,
        public_key: pem,
        created_at: None,
        created_by: None,
        expire_at: None,
    }
}

/// The SDKs' PBES2 shape with one iteration.
fn encrypt(payload: &[u8], password: &str) -> String {
    let p = der::Pbes2 {
        salt: vec![7; 20],
        iv: [3; 16],
        ..der::Pbes2::default()
    };
    der::pem(
        "ENCRYPTED PRIVATE KEY",
        &p.encrypt(payload, password.as_bytes()),
    )
}

/// An RSAPrivateKey whose private exponent no longer fits its primes (d + 2).
fn broken_pkcs1() -> Vec<u8> {
    let mut parts = der::elements(&key2048().0).expect("PKCS#1");
    let d = &mut parts[3].1;
    let last = d.len() - 1;
    d[last] = d[last].wrapping_add(2);
    der::seq_of(&parts)
}

/// An RSAPrivateKey with a 513-byte (4104-bit) modulus: over the crate's 4096-bit cap.
fn oversized_pkcs1() -> Vec<u8> {
    let mut n = vec![0xC3u8; 513];
    n[512] |= 1;
    der::seq(&[
        &der::uint(0),
        &der::int_bytes(&n),
        &der::uint(65537),
        &der::int_bytes(&n[..512]),
        &der::int_bytes(&n[..257]),
        &der::int_bytes(&n[..257]),
        &der::uint(1),
        &der::uint(1),
        &der::uint(1),
    ])
}

// ------------------------------------------------------------------------------------------
// Finding 1 (hardening review): a private key that decrypts with the RIGHT password but holds
// an unusable RSA key is reported as `WrongPassword`.
//
// `pkcs8::decrypt` treats every parse failure of the decrypted payload as "wrong password for
// this candidate" (FORMAT.md §2.6 rule 3 is about *malformed DER* after lucky padding). A
// payload that is well-formed DER but an invalid or oversized RSA key can only come from the
// right password; reporting `WrongPassword` makes `UserKeyPairContainer::check` return
// `Ok(false)` and sends users into retrying a correct password. The plain path
// (`from_plain_container`) reports the same payload correctly as `InvalidKeyPair(InvalidKey)`.

#[test]
fn right_password_with_unusable_key_is_an_invalid_key_pair() {
    for (what, payload) in [
        ("d + 2", broken_pkcs1()),
        ("4104-bit modulus", oversized_pkcs1()),
        ("d + 2 in PKCS#8", der::pkcs8_from_pkcs1(&broken_pkcs1())),
    ] {
        let c = private(UserKeyPairVersion::Rsa2048, encrypt(&payload, "Qwer1234!"));
        let e = c.unlock(&Password::new("Qwer1234!")).err();
        assert!(
            matches!(e, Some(Error::InvalidKeyPair(KeyPairProblem::InvalidKey))),
            "{what}: {e:?}"
        );
        let pair = UserKeyPairContainer {
            private_key_container: c,
            public_key_container: public(
                UserKeyPairVersion::Rsa2048,
                der::pem("PUBLIC KEY", &key2048().1),
            ),
        };
        assert!(
            pair.check(&Password::new("Qwer1234!")).is_err(),
            "{what}: check() must not say 'wrong password'"
        );
    }
}

#[test]
fn unusable_key_is_refused_in_every_form_today() {
    // What holds before and after the fix: no such key ever opens, and the plain reader
    // already names the problem.
    for payload in [broken_pkcs1(), oversized_pkcs1()] {
        let c = private(
            UserKeyPairVersion::Rsa2048,
            der::pem("RSA PRIVATE KEY", &payload),
        );
        assert!(matches!(
            UserPrivateKey::from_plain_container(&c),
            Err(Error::InvalidKeyPair(KeyPairProblem::InvalidKey))
        ));
        let c = private(UserKeyPairVersion::Rsa2048, encrypt(&payload, "pw"));
        assert!(c.unlock(&Password::new("pw")).is_err());
    }
    // The wrong password on a good key stays WrongPassword.
    let c = private(
        UserKeyPairVersion::Rsa2048,
        encrypt(&der::pkcs8_from_pkcs1(&key2048().0), "right"),
    );
    assert!(matches!(
        c.unlock(&Password::new("wrong")),
        Err(Error::WrongPassword)
    ));
    assert!(c.unlock(&Password::new("right")).is_ok());
}

// ------------------------------------------------------------------------------------------
// Finding 2 (hardening review): public keys below 1024 or above 4096 bits get the vague
// `InvalidKeyPair(InvalidKey)` ("the RSA key is invalid") instead of
// `InvalidKeyPair(ModulusSize)`, which 1024..=4096-bit keys of the wrong size get.
//
// `parse_spki` hands n to `rsa::PublicKey::new`, which refuses < 1024 bits itself
// (ModulusTooSmall), and refuses n longer than 512 bytes before the version is known. These
// are exactly the keys a hostile server would send; the size check belongs before any bignum
// work, with the version at hand.

fn spki_with_modulus(n_len: usize) -> Vec<u8> {
    let mut n = vec![0xC5u8; n_len];
    n[n_len - 1] |= 1;
    let rsa_pub = der::seq(&[&der::int_bytes(&n), &der::uint(65537)]);
    let mut bits = vec![0u8];
    bits.extend_from_slice(&rsa_pub);
    der::seq(&[
        &der::seq(&[&der::tlv(0x06, der::OID_RSA), &[0x05, 0x00]]),
        &der::tlv(0x03, &bits),
    ])
}

#[test]
fn public_key_modulus_sizes_outside_1024_to_4096_are_modulus_size_errors() {
    for (version, n_len, expected, found) in [
        (UserKeyPairVersion::Rsa2048, 64usize, 2048u32, 512u32),
        (UserKeyPairVersion::Rsa2048, 96, 2048, 768),
        (UserKeyPairVersion::Rsa4096, 513, 4096, 4104),
        (UserKeyPairVersion::Rsa4096, 1024, 4096, 8192),
    ] {
        let c = public(version, der::pem("PUBLIC KEY", &spki_with_modulus(n_len)));
        let e = UserPublicKey::from_container(&c).err();
        assert!(
            matches!(
                e,
                Some(Error::InvalidKeyPair(KeyPairProblem::ModulusSize { expected: x, found: f }))
                    if x == expected && f == found
            ),
            "{n_len} bytes: {e:?}"
        );
    }
}

#[test]
fn public_key_moduli_outside_1024_to_4096_are_refused_today() {
    for n_len in [64usize, 96, 513, 1024] {
        for version in [UserKeyPairVersion::Rsa2048, UserKeyPairVersion::Rsa4096] {
            let c = public(version, der::pem("PUBLIC KEY", &spki_with_modulus(n_len)));
            let e = UserPublicKey::from_container(&c).err();
            assert_eq!(e.map(|e| e.class()), Some("invalid_key_pair"), "{n_len}");
        }
    }
}

// ------------------------------------------------------------------------------------------
// Transport findings (issue 5, second round: the `workflows` fuzz target).
//
// A fake server as a `BlockingTransport` whose `sleep` returns at once, as the fuzz target's
// does. It counts the requests and gives up (with an error the workflow reports) after 5,000,
// so that a test of the unfixed code fails instead of hanging.

mod transport_fake {
    use std::sync::Mutex;
    use std::time::Duration;

    use dracoon_crypto::TransportError;
    use dracoon_crypto::transport::{BlockingTransport, Bytes, http};

    pub const GIVE_UP: usize = 5_000;

    pub type Req = http::Request<Bytes>;

    pub struct Fake<F> {
        pub answer: F,
        pub requests: Mutex<usize>,
        pub slept: Mutex<Duration>,
    }

    impl<F> Fake<F> {
        pub fn new(answer: F) -> Self {
            Fake {
                answer,
                requests: Mutex::new(0),
                slept: Mutex::new(Duration::ZERO),
            }
        }

        pub fn requests(&self) -> usize {
            *self.requests.lock().unwrap()
        }
    }

    impl<F> BlockingTransport for Fake<F>
    where
        F: Fn(&http::Request<Bytes>) -> (u16, Vec<(&'static str, String)>, String) + Sync,
    {
        fn send(
            &self,
            request: http::Request<Bytes>,
            _limit: dracoon_crypto::transport::BodyLimit,
        ) -> Result<http::Response<Bytes>, TransportError> {
            let mut n = self.requests.lock().unwrap();
            *n += 1;
            if *n > GIVE_UP {
                return Err(TransportError::new(
                    dracoon_crypto::TransportErrorKind::Other,
                    "the test server gave up",
                ));
            }
            let (status, headers, body) = (self.answer)(&request);
            let mut b = http::Response::builder().status(status);
            for (k, v) in headers {
                b = b.header(k, v);
            }
            Ok(b.body(Bytes::from(body)).unwrap())
        }

        fn sleep(&self, duration: Duration) {
            *self.slept.lock().unwrap() += duration;
        }
    }
}

/// Finding 3 (`workflows`): S3 status polling measured its timeout on the wall clock only. With
/// a transport whose `sleep` returns early (a test fake, an async runtime with paused time) a
/// server that answers `transfer` forever was polled until the wall clock ran out: hundreds of
/// thousands of requests for the default 10 minutes. Found by the `workflows` harness's
/// termination oracle: an S3 upload whose status answers repeat `{"status":"transfer"}` with a
/// 3.9 s timeout ran into its 20,000-request cap (`fuzz/src/harness.rs`, test
/// `s3_transfer_forever_ends`). Fixed in `src/transport/upload.rs`: the back-off slept counts
/// too.
#[test]
fn s3_polling_ends_with_a_transport_that_does_not_sleep() {
    use dracoon_crypto::transport::{Blocking, Client, UploadOptions, block_on};
    use std::time::Duration;

    let fake = transport_fake::Fake::new(|req: &transport_fake::Req| {
        let path = req.uri().path();
        let method = req.method().as_str();
        match (method, path) {
            ("POST", "/api/v4/nodes/files/uploads") => (
                201,
                vec![],
                r#"{"uploadId":"u1","uploadUrl":"https://h.example/api/v4/uploads/t"}"#.into(),
            ),
            ("POST", "/api/v4/nodes/files/uploads/u1/s3_urls") => (
                201,
                vec![],
                r#"{"urls":[{"url":"https://s3.example/p?sig=x","partNumber":1}]}"#.into(),
            ),
            ("PUT", "/p") => (200, vec![("etag", "\"e1\"".into())], String::new()),
            ("PUT", "/api/v4/nodes/files/uploads/u1/s3") => (202, vec![], String::new()),
            ("GET", "/api/v4/nodes/files/uploads/u1") => {
                (200, vec![], r#"{"status":"transfer"}"#.into())
            }
            _ => (204, vec![], String::new()),
        }
    });
    let transport = Blocking(fake);
    let client = Client::new(&transport, "https://dracoon.example")
        .unwrap()
        .with_auth_token("t")
        .with_s3_timeout(Duration::from_secs(60));
    let pair = pair2048();
    let r = block_on(client.upload(
        &b"data"[..],
        pair.public_key(),
        &UploadOptions::new(1, "f").s3(true),
        &mut |_| {},
    ));
    let e = r.expect_err("the upload cannot finish");
    assert!(
        e.to_string()
            .contains("did not finish the S3 upload in time"),
        "{e}"
    );
    // 60 s of back-off (100 ms doubling, capped at 2 s) is 34 polls; 4 requests before them,
    // one to delete the upload after.
    let fake = &transport.0;
    assert!(
        fake.requests() <= 4 + 34 + 1,
        "{} requests",
        fake.requests()
    );
    assert!(*fake.slept.lock().unwrap() <= Duration::from_secs(60));
}

/// Finding 4 (`workflows`): the missing-key distribution walked on through a server that
/// ignores `offset` and lists the same unservable page again and again: every answer moved
/// the offset on, and only `max_requests` (100,000 by default, and not settable for the
/// distribution that `upload(.., distribute)` runs) ended it. Found by the `workflows`
/// harness's termination oracle: an upload with `distribute` whose list answers repeat one page
/// ran into its 20,000-request cap (`fuzz/src/harness.rs`, test `same_page_forever_ends`).
/// Fixed in `src/transport/distribute.rs`: the same page twice without progress ends the run
/// (`complete: false`).
#[test]
fn distribution_stops_when_the_server_repeats_a_page() {
    use dracoon_crypto::transport::{Blocking, Client, KeyRing, MissingKeysFilter, block_on};

    // File 3 for user 2, without the file key: never servable.
    let fake = transport_fake::Fake::new(|_req: &transport_fake::Req| {
        (
            200,
            vec![],
            r#"{"range":{"offset":0,"limit":100,"total":1},"items":[{"userId":2,"fileId":3}],"users":[],"files":[]}"#.into(),
        )
    });
    let transport = Blocking(fake);
    let client = Client::new(&transport, "https://dracoon.example")
        .unwrap()
        .with_auth_token("t");
    let report = block_on(
        client.distribute_missing_keys(&KeyRing::new(Vec::new()), &MissingKeysFilter::new()),
    )
    .unwrap();
    assert!(!report.complete);
    assert!(
        report.list_requests <= 3,
        "{} list requests",
        report.list_requests
    );
    assert_eq!(report.skipped.len(), 1);
}

/// Finding 5 (`api_models`): numbers in the fields `Node` and `DownloadShare` keep as they
/// were received (`other`) do not survive a round trip. serde_json parses an integer literal
/// too long for `u64` into an `f64` that is not always the nearest one (without its
/// `float_roundtrip` feature), writes it in its shortest form, and reads that back as the
/// neighbouring `f64`: `1.01e+81` becomes `1.0100000000000001e+81`. Harmless for this crate
/// (it reads none of those fields) but the models promise to keep them "as received". Fixed
/// in Cargo.toml: `serde_json = { version = "1", features = ["float_roundtrip"] }`.
#[test]
fn node_and_share_keep_long_numbers_exactly() {
    use dracoon_crypto::transport::models::{DownloadShare, Node};
    let input = include_bytes!("regressions/api_models/node_float_not_round_tripped.json");
    let node: Node = serde_json::from_slice(input).unwrap();
    let again: Node = serde_json::from_slice(&serde_json::to_vec(&node).unwrap()).unwrap();
    assert_eq!(again, node);
    let share: DownloadShare = serde_json::from_slice(input).unwrap();
    let again: DownloadShare =
        serde_json::from_slice(&serde_json::to_vec(&share).unwrap()).unwrap();
    assert!(again == share);
}

/// Finding 6 (review of the range check behind the `workflows` harness's `Content-Range`
/// edits, confirmed with a harness input: `fuzz/src/harness.rs`, probes): a ranged download answer
/// `206` with `Content-Range: bytes 0-18446744073709551615/*` made the length check
/// `last - start + 1` overflow: a panic in builds with overflow checks (debug, tests), a wrapped
/// value otherwise. Fixed in `src/transport/download.rs` with a checked add.
#[test]
fn download_range_ending_at_u64_max_is_an_invalid_response() {
    let e =
        download_with_chunk_answer("bytes 0-18446744073709551615/*", "").expect_err("no plaintext");
    assert!(
        e.to_string().contains("range does not match request"),
        "{e}"
    );
}

/// Review of the download path (2026-12-07): `download_to_vec` reserved the whole file up
/// front from the total the first answer's `Content-Range` claims. A server (or anyone on the
/// way) that claims `bytes 0-0/1000000000000000` made the client ask the allocator for a
/// petabyte: the process aborted. Fixed in `src/transport/download.rs`: a total beyond what one
/// GCM message can hold is an invalid response, and the up-front reservation is fallible (the
/// buffer otherwise grows with the bytes that actually arrive).
#[test]
fn a_claimed_total_beyond_memory_is_an_error_not_an_abort() {
    let e =
        download_with_chunk_answer("bytes 0-0/1000000000000000", "x").expect_err("no plaintext");
    assert!(e.to_string().contains("larger than one file can be"), "{e}");
    // Below the GCM limit but beyond this machine's memory: the claim reserves nothing that
    // fails; the download goes on (and ends here at the second answer, which repeats the
    // first range).
    let claim = format!("bytes 0-0/{}", dracoon_crypto::MAX_MESSAGE_LEN);
    let e = download_with_chunk_answer(&claim, "x").expect_err("no plaintext");
    assert!(
        e.to_string().contains("range does not match request"),
        "{e}"
    );
}

/// `download_to_vec` of file 1, in 1-byte chunks, from a server whose every ranged GET is
/// answered `206` with `content_range` and `body`.
fn download_with_chunk_answer(content_range: &str, body: &str) -> dracoon_crypto::Result<Vec<u8>> {
    use dracoon_crypto::transport::{Blocking, Client, block_on};

    let file_key = dracoon_crypto::PlainFileKey::from_json(
        r#"{"key":"QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=","iv":"JCQkJCQkJCQkJCQk","tag":"AAAAAAAAAAAAAAAAAAAAAA==","version":"A"}"#,
    )
    .unwrap();
    let pair = pair2048();
    let wrapped = pair
        .public_key()
        .wrap_file_key(&file_key)
        .unwrap()
        .to_json();
    let content_range = content_range.to_owned();
    let body = body.to_owned();
    let fake = transport_fake::Fake::new(move |req: &transport_fake::Req| match req.uri().path() {
        "/api/v4/nodes/files/1/user_file_key" => (200, vec![], wrapped.clone()),
        "/api/v4/nodes/files/1/downloads" => (
            200,
            vec![],
            r#"{"downloadUrl":"https://dl.example/api/v4/downloads/t"}"#.into(),
        ),
        _ => (
            206,
            vec![("content-range", content_range.clone())],
            body.clone(),
        ),
    });
    let transport = Blocking(fake);
    let client = Client::new(&transport, "https://dracoon.example")
        .unwrap()
        .with_auth_token("t");
    let keys = dracoon_crypto::transport::KeyRing::new(vec![pair]);
    let options = dracoon_crypto::transport::DownloadOptions::default().chunk_size(1);
    block_on(client.download_to_vec(1, &keys, &options))
}

/// Finding 7 (`workflows`, the first campaign against the testkit model): an upload whose
/// source is longer than its declared size (2 declared, 3 delivered, 2-byte chunks) sent its
/// last chunk as `Content-Range: bytes 2-2/2`, a range beyond the total it names, before it
/// found the mismatch after the loop. The model records that as a client defect. Fixed in
/// `src/transport/upload.rs`: the loop stops before a byte beyond the declared size leaves.
#[test]
fn a_source_longer_than_declared_sends_nothing_beyond_the_declared_size() {
    use dracoon_crypto::transport::{Blocking, Client, UploadOptions, block_on};
    use dracoon_crypto_testkit::Model;

    let pair = pair2048();
    let container = pair
        .hazmat_to_container_with_iterations(&Password::new("pw"), 1000)
        .unwrap();
    for s3 in [false, true] {
        let model = Model::new();
        let user = model.create_user("u");
        model.add_user_key_pair(user.id, container.clone(), &pair);
        let room = model.create_room("r", true, &[user.id]);
        let client = Client::new(Blocking(model.transport()), &model.base_url())
            .unwrap()
            .with_auth_token(&user.token);
        let options = UploadOptions::new(room, "f.bin")
            .size(2)
            .chunk_size(2)
            .s3(s3);
        let e = block_on(client.upload(&b"abc"[..], pair.public_key(), &options, &mut |_| {}))
            .expect_err("a wrong declared size never succeeds");
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert_eq!(model.violations(), Vec::<String>::new(), "s3: {s3}");
        let sent: usize = model
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/api/v4/uploads/") || r.path.starts_with("/s3/"))
            .map(|r| r.body_len)
            .sum();
        assert!(sent <= 2, "s3: {s3}: {sent} bytes sent");
        assert_eq!(model.find_file(room, "f.bin"), None);
    }
}
