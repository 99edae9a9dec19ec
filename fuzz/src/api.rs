//! Fixtures of the transport targets (`api_models`, `workflows`): one fixed RSA-2048 test key
//! pair, a small file encrypted under a fixed file key, and valid bodies of every API answer the
//! workflows parse, with recognisable secret markers in every URL, token and password.
//!
//! The key pair is `fuzz/keys/rsa2048_test_only.pem` (a throw-away key made for these targets
//! with `openssl genpkey`), so that a corpus entry means the same thing in every fuzz process:
//! a key generated per process would make any answer that embeds a wrapped key useless after a
//! restart, and a crash that depends on one irreproducible. The containers the workflows unlock
//! are made from it once per process with 1 PBKDF2 iteration (fuzz builds clamp unlocking to 4).

use std::sync::OnceLock;

use dracoon_crypto::transport::{Bytes, KeyRing, http};
use dracoon_crypto::{
    EncryptedFileKey, FileEncryptor, Password, PlainFileKey, PrivateKeyContainer,
    PublicKeyContainer, UserKeyPair, UserKeyPairContainer, UserKeyPairVersion, UserPrivateKey,
};
use dracoon_crypto_testkit::Model;
use serde_json::{Value, json};

/// The server's base URL (its host carries the URL marker).
pub const BASE: &str = "https://api.zq7host.example";
/// The bearer token.
pub const AUTH_TOKEN: &str = "AUTHTOKEN-SECRET-9f3k";
/// The upload URL of an upload channel (token in the path).
pub const UPLOAD_URL: &str = "https://up.zq7host.example/api/v4/uploads/UPLTOKEN-SECRET-4c1d";
/// The deprecated upload token.
pub const UPLOAD_TOKEN: &str = "UPLTOKEN-SECRET-4c1d";
/// The download URL (token in the path).
pub const DOWNLOAD_URL: &str = "https://dl.zq7host.example/api/v4/downloads/DLTOKEN-SECRET-5e2b";
/// A share's access key (appears in request paths).
pub const ACCESS_KEY: &str = "ACCESSKEY-SECRET-31xq";
/// The key pair password.
pub const KEY_PASSWORD: &str = "KEYPW-SECRET-8d0w";
/// The share password (encrypts the share's private key; never leaves the client).
pub const SHARE_PASSWORD: &str = "SHAREPW-SECRET-2m6n";
/// A share's access password for upload shares (sent, by design, to the share endpoint).
pub const ACCESS_PASSWORD: &str = "ACCESSPW-SECRET-0p0p";
/// Substrings that no error or event may contain: every secret above has `SECRET` in it, every
/// URL the host marker.
pub const MARKERS: [&str; 2] = ["SECRET", "zq7host"];
/// Upload channel id.
pub const UPLOAD_ID: &str = "upl-77";
/// The client's user (the first the model creates).
pub const ME: i64 = 2;
/// Ids used by the fixtures.
pub const FILE_A: i64 = 101;
/// A second file of the missing-keys list.
pub const FILE_B: i64 = 102;
/// A user with two public keys (the fixture's RSA-2048 and the vectors' RSA-4096 key).
pub const USER_TWO_KEYS: i64 = 7;
/// A user with one public key.
pub const USER_ONE_KEY: i64 = 8;
/// The node id of uploaded files.
pub const NODE_ID: i64 = 555;
/// The room of the files, the uploads and the shares (members: the client's user and users 7
/// and 8; room rescue key: the fixture's pair).
pub const ROOM_ID: i64 = 9;

/// A presigned S3 URL for `part`.
#[must_use]
pub fn presigned_url(part: i64) -> String {
    format!(
        "https://s3.zq7host.example/bucket/obj?partNumber={part}&X-Amz-Signature=S3SIG-SECRET-77aa"
    )
}

/// The plaintext of the file the download fixtures serve (77 bytes: not block-aligned).
pub const PLAINTEXT: &[u8] =
    b"fuzzing the transport: 77 bytes of plaintext, ranged, resumed and verified!!";

/// Everything built once per process.
pub struct Fixture {
    /// The user's (and the rescue keys') key pair.
    pub pair: UserKeyPair,
    /// A ring with just that pair.
    pub ring: KeyRing,
    /// The pair encrypted with [`KEY_PASSWORD`] (1 iteration).
    pub container: UserKeyPairContainer,
    /// Its private key encrypted with [`SHARE_PASSWORD`] (1 iteration): a share's key.
    pub share_private: PrivateKeyContainer,
    /// The public key of user 7's second key (RSA-4096, from the repo's vectors).
    pub other_public: PublicKeyContainer,
    /// The file key of the download fixture.
    pub file_key: PlainFileKey,
    /// It, wrapped for [`Fixture::pair`].
    pub wrapped: EncryptedFileKey,
    /// [`PLAINTEXT`] encrypted under it.
    pub ciphertext: Vec<u8>,
}

/// The process-wide fixture.
///
/// # Panics
/// If the embedded test key or the vectors' public key no longer parse.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let plain = PrivateKeyContainer {
            version: UserKeyPairVersion::Rsa2048,
            private_key: include_str!("../keys/rsa2048_test_only.pem").to_owned(),
            created_at: None,
            created_by: None,
            expire_at: None,
        };
        let private = UserPrivateKey::from_plain_container(&plain).expect("fixture key");
        let pair = UserKeyPair::from_private(private).expect("fixture key pair");
        let container = pair
            .hazmat_to_container_with_iterations(&Password::new(KEY_PASSWORD), 1)
            .expect("fixture container");
        let share_private = pair
            .private_key()
            .hazmat_to_container_with_iterations(&Password::new(SHARE_PASSWORD), 1)
            .expect("share container");
        let other_public = PublicKeyContainer::from_json(include_str!(
            "../../vectors/keys/kp_rsa4096/public_key.json"
        ))
        .expect("vectors' RSA-4096 public key");
        let file_key = crate::plain_file_key(&[0x42; 32], &[0x24; 12], &[0; 16]);
        let mut enc = FileEncryptor::hazmat_with_file_key(&file_key);
        let mut ciphertext = PLAINTEXT.to_vec();
        enc.update_in_place(&mut ciphertext).expect("encrypt");
        let file_key = enc.finalize();
        let wrapped = pair.public_key().wrap_file_key(&file_key).expect("wrap");
        let ring = KeyRing::new(vec![
            UserKeyPair::unlock(&container, &Password::new(KEY_PASSWORD)).expect("unlock"),
        ]);
        Fixture {
            pair,
            ring,
            container,
            share_private,
            other_public,
            file_key,
            wrapped,
            ciphertext,
        }
    })
}

/// The honest DRACOON of the `workflows` target, built once per process (each run works on a
/// [`Model::fork`] of it), with the ids and secrets the templates name:
/// * at [`BASE`] (so every URL it hands out carries the host marker);
/// * the client's user, token [`AUTH_TOKEN`], key pair [`Fixture::container`];
/// * user 7 with two key pairs (the fixture's and the vectors' RSA-4096), user 8 with the
///   fixture's; all three members of room [`ROOM_ID`], whose rescue key pair (and the system's)
///   is the fixture's;
/// * files [`FILE_A`] and [`FILE_B`] (both [`Fixture::ciphertext`]), keyed for the client's
///   user and the rescue keys, so that (A, 7), (A, 8) and (B, 8) are missing; B is also keyed
///   for 7;
/// * an encrypted download share of A and an upload share into the room, both at
///   [`ACCESS_KEY`] (the share's key pair: [`Fixture::share_private`]);
/// * the next node (an upload's) gets [`NODE_ID`]. The server's key checks are off: each costs
///   an RSA unwrap, and the harness checks what it needs itself.
///
/// # Panics
/// If the model refuses the fixture (a testkit regression the tests must show).
pub fn world() -> &'static Model {
    static W: OnceLock<Model> = OnceLock::new();
    W.get_or_init(|| {
        let f = fixture();
        let m = Model::with_base_url(BASE);
        let me = m.create_user_with_token("fuzz-user", AUTH_TOKEN);
        assert_eq!(me.id, ME, "the client's user id");
        m.add_user_key_pair(me.id, f.container.clone(), &f.pair);
        m.skip_ids_to(USER_TWO_KEYS);
        let two = m.create_user("two-keys");
        let one = m.create_user("one-key");
        assert_eq!((two.id, one.id), (USER_TWO_KEYS, USER_ONE_KEY), "user ids");
        m.add_user_key_pair(two.id, f.container.clone(), &f.pair);
        m.add_user_key_pair_unchecked(
            two.id,
            UserKeyPairContainer {
                private_key_container: PrivateKeyContainer::from_json(include_str!(
                    "../../vectors/keys/kp_rsa4096/private_key.json"
                ))
                .expect("vectors' RSA-4096 private key"),
                public_key_container: f.other_public.clone(),
            },
        );
        m.add_user_key_pair(one.id, f.container.clone(), &f.pair);
        let room = m.create_room("fuzz-room", true, &[me.id, two.id, one.id]);
        assert_eq!(room, ROOM_ID, "room id");
        m.set_room_rescue_key_pair(room, f.container.clone(), &f.pair);
        m.set_system_rescue_key_pair(f.container.clone(), &f.pair);
        m.skip_ids_to(FILE_A);
        let rescue = [-ROOM_ID, -1];
        let keys = |users: &[i64]| -> Vec<(i64, EncryptedFileKey)> {
            users
                .iter()
                .chain(&rescue)
                .map(|&u| (u, f.wrapped.clone()))
                .collect()
        };
        let a = m.put_file(room, "a.bin", f.ciphertext.clone(), &f.file_key, &keys(&[me.id]));
        let b = m.put_file(
            room,
            "b.bin",
            f.ciphertext.clone(),
            &f.file_key,
            &keys(&[me.id, two.id]),
        );
        assert_eq!((a, b), (FILE_A, FILE_B), "file ids");
        let share = json!({
            "nodeId": FILE_A,
            "keyPair": {
                "privateKeyContainer": to_value(&f.share_private),
                "publicKeyContainer": to_value(&f.pair.public_key().to_container().expect("public")),
            },
            "fileKey": to_value(&f.wrapped),
        });
        let request = http::Request::post(format!("{BASE}/api/v4/shares/downloads"))
            .header("authorization", format!("Bearer {AUTH_TOKEN}"))
            .header("content-type", "application/json")
            .body(Bytes::from(serde_json::to_vec(&share).expect("JSON")))
            .expect("a request");
        let answer = m.dispatch(request);
        assert_eq!(answer.status(), 201, "download share: {:?}", answer.body());
        let created: Value = serde_json::from_slice(answer.body()).expect("a share");
        let key = created["accessKey"].as_str().expect("an access key");
        assert!(m.set_share_access_key(key, ACCESS_KEY));
        let upload_share = m.create_upload_share(room);
        assert!(m.set_share_access_key(&upload_share, ACCESS_KEY));
        m.skip_ids_to(NODE_ID);
        m.set_key_checks(false);
        assert_eq!(m.missing_keys(), [(FILE_A, USER_TWO_KEYS), (FILE_A, USER_ONE_KEY), (FILE_B, USER_ONE_KEY)]);
        assert!(m.violations().is_empty(), "{:?}", m.violations());
        m
    })
}

/// The answers the fixtures provide, as JSON (the `Node` of an upload, a missing-keys page,
/// ...). The index is what a `workflows` input names with `Body::Template`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// `MissingKeysResponse`: file A for users 7 (two keys) and 8, file B (no key listed) for 8.
    MissingKeys,
    /// `MissingKeysResponse` with nothing missing.
    MissingKeysEmpty,
    /// The uploaded node's missing keys (users 7 and 8, no file key listed: the uploader has it).
    MissingKeysUploaded,
    /// `FileFileKeys` answer of `GET user_file_key`: the fixture's wrapped file key.
    UserFileKey,
    /// `DownloadTokenGenerateResponse`.
    DownloadUrl,
    /// `CreateFileUploadResponse`.
    UploadChannel,
    /// `PresignedUrlList` for part 1.
    PresignedUrls,
    /// `S3FileUploadStatus` `done`, with the node.
    S3Done,
    /// `S3FileUploadStatus` `transfer`.
    S3Transfer,
    /// `S3FileUploadStatus` `error`.
    S3Error,
    /// `Node` of the uploaded file.
    Node,
    /// `ErrorResponse`.
    Error,
    /// `UserKeyPairContainer`.
    KeyPair,
    /// A list of key pairs (one of an unknown version).
    KeyPairs,
    /// `PublicDownloadShare` of an encrypted share.
    PublicDownloadShare,
    /// `PublicUploadShare` with users 7 and 8's keys.
    PublicUploadShare,
    /// `CreateShareUploadChannelResponse`.
    ShareUploadChannel,
    /// `PublicUploadedFileData`.
    UploadedFileData,
    /// `DownloadShare`.
    DownloadShare,
    /// `AlgorithmVersionInfoList`.
    Algorithms,
}

impl Template {
    /// Every template, in index order.
    pub const ALL: [Template; 20] = [
        Template::MissingKeys,
        Template::MissingKeysEmpty,
        Template::MissingKeysUploaded,
        Template::UserFileKey,
        Template::DownloadUrl,
        Template::UploadChannel,
        Template::PresignedUrls,
        Template::S3Done,
        Template::S3Transfer,
        Template::S3Error,
        Template::Node,
        Template::Error,
        Template::KeyPair,
        Template::KeyPairs,
        Template::PublicDownloadShare,
        Template::PublicUploadShare,
        Template::ShareUploadChannel,
        Template::UploadedFileData,
        Template::DownloadShare,
        Template::Algorithms,
    ];

    /// The template with index `i` (modulo the number of templates).
    #[must_use]
    pub fn from_index(i: u8) -> Self {
        Self::ALL[usize::from(i) % Self::ALL.len()]
    }

    /// The body as JSON.
    #[must_use]
    pub fn value(self) -> Value {
        let f = fixture();
        let own = f
            .pair
            .public_key()
            .to_container()
            .expect("public container");
        let node = json!({"id": NODE_ID, "name": "f.bin", "type": "file", "parentId": 9,
            "size": PLAINTEXT.len(), "isEncrypted": true, "hash": "h"});
        match self {
            Template::MissingKeys => missing_keys(&[
                (FILE_A, USER_TWO_KEYS),
                (FILE_A, USER_ONE_KEY),
                (FILE_B, USER_ONE_KEY),
            ]),
            Template::MissingKeysEmpty => missing_keys(&[]),
            Template::MissingKeysUploaded => {
                missing_keys(&[(NODE_ID, USER_TWO_KEYS), (NODE_ID, USER_ONE_KEY)])
            }
            Template::UserFileKey => to_value(&f.wrapped),
            Template::DownloadUrl => json!({"downloadUrl": DOWNLOAD_URL}),
            Template::UploadChannel => {
                json!({"uploadId": UPLOAD_ID, "uploadUrl": UPLOAD_URL, "token": UPLOAD_TOKEN})
            }
            Template::PresignedUrls => {
                json!({"urls": [{"url": presigned_url(1), "partNumber": 1}]})
            }
            Template::S3Done => json!({"status": "done", "node": node}),
            Template::S3Transfer => json!({"status": "transfer"}),
            Template::S3Error => json!({"status": "error", "errorDetails":
                {"code": 400, "message": "bad parts", "errorCode": -80042}}),
            Template::Node => node,
            Template::Error => {
                json!({"code": 404, "message": "Not found", "debugInfo": "x", "errorCode": -40000})
            }
            Template::KeyPair => to_value(&f.container),
            Template::KeyPairs => {
                let mut unknown = to_value(&f.container);
                unknown["publicKeyContainer"]["version"] = json!("RSA-8192");
                json!([to_value(&f.container), unknown])
            }
            Template::PublicDownloadShare => json!({
                "isEncrypted": true,
                "fileKey": to_value(&f.wrapped),
                "privateKeyContainer": to_value(&f.share_private),
                "size": PLAINTEXT.len(),
                "fileName": "f.bin",
                "name": "share",
                "isProtected": false,
                "limitReached": false,
            }),
            Template::PublicUploadShare => json!({
                "isEncrypted": true,
                "isProtected": false,
                "name": "drop box",
                "userUserPublicKeyList": {"items": [
                    {"id": USER_TWO_KEYS, "publicKeyContainer": to_value(&own)},
                    {"id": USER_TWO_KEYS, "publicKeyContainer": to_value(&f.other_public)},
                    {"id": USER_ONE_KEY, "publicKeyContainer": to_value(&own)},
                ]},
            }),
            Template::ShareUploadChannel => json!({"uploadId": UPLOAD_ID, "uploadUrl": UPLOAD_URL}),
            Template::UploadedFileData => json!({"name": "f.bin", "size": PLAINTEXT.len(),
                "createdAt": "2024-01-01T00:00:00Z", "hash": "h"}),
            Template::DownloadShare => json!({"id": 3, "accessKey": ACCESS_KEY, "nodeId": FILE_A,
                "name": "share", "isEncrypted": true, "notes": "n"}),
            Template::Algorithms => json!({
                "fileKeyAlgorithms": [{"version": "A", "description": "AES-256-GCM", "status": "REQUIRED"}],
                "keyPairAlgorithms": [{"version": "RSA-4096", "description": "RSA-4096", "status": "REQUIRED"},
                                      {"version": "A", "description": "RSA-2048", "status": "DISCOURAGED"}],
            }),
        }
    }

    /// The body as bytes (built once per process).
    #[must_use]
    pub fn bytes(self) -> Vec<u8> {
        static B: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
        let all = B.get_or_init(|| {
            Template::ALL
                .iter()
                .map(|t| serde_json::to_vec(&t.value()).expect("JSON"))
                .collect()
        });
        let i = Template::ALL.iter().position(|&t| t == self).unwrap_or(0);
        all[i].clone()
    }
}

fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("fixture serialises")
}

/// A `MissingKeysResponse` listing `pairs`, the users' public keys (user 7 has two) and the
/// file key of file A wrapped for the fixture's pair. File B's key is not listed (the entry is
/// skipped: one RSA unwrap per run is enough), nor the uploaded node's (its uploader holds the
/// plain key).
#[must_use]
pub fn missing_keys(pairs: &[(i64, i64)]) -> Value {
    static OWN: OnceLock<Value> = OnceLock::new();
    let f = fixture();
    let own = OWN.get_or_init(|| {
        to_value(
            &f.pair
                .public_key()
                .to_container()
                .expect("public container"),
        )
    });
    let mut users = Vec::new();
    let mut files = Vec::new();
    let mut seen_users = Vec::new();
    let mut seen_files = Vec::new();
    for &(file, user) in pairs {
        if !seen_users.contains(&user) {
            seen_users.push(user);
            users.push(json!({"id": user, "publicKeyContainer": own}));
            if user == USER_TWO_KEYS {
                users.push(json!({"id": user, "publicKeyContainer": to_value(&f.other_public)}));
            }
        }
        if file == FILE_A && !seen_files.contains(&file) {
            seen_files.push(file);
            files.push(json!({"id": file, "fileKeyContainer": to_value(&f.wrapped)}));
        }
    }
    let items: Vec<Value> = pairs
        .iter()
        .map(|(f, u)| json!({"fileId": f, "userId": u}))
        .collect();
    json!({"range": {"offset": 0, "limit": 100, "total": pairs.len()},
        "items": items, "users": users, "files": files})
}

/// Seeds of the `api_models` target: every template, and shapes the models must tolerate.
#[must_use]
pub fn seed_bodies() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Template::ALL.iter().map(|t| t.bytes()).collect();
    let extra: [&[u8]; 8] = [
        br#"{"range":null,"items":null,"users":null,"files":null}"#,
        br#"{"items":[{"userId":1}],"users":["x",{"id":2,"publicKeyContainer":{"version":"X","publicKey":"p"}}],"files":[{"id":3}]}"#,
        br#"{"id":9007199254740993,"name":"n","type":"file","x":{"y":[1.5,-0.0,null]}}"#,
        br#"{"status":"error","errorDetails":{"code":70000,"message":"m"}}"#,
        br#"{"urls":null}"#,
        br#"[null,1,"a",{"publicKeyContainer":{}}]"#,
        br#"{"code":-1,"message":"","debugInfo":null,"errorCode":2147483647}"#,
        br#"{"downloadUrl":""}"#,
    ];
    out.extend(extra.iter().map(|b| b.to_vec()));
    out
}
