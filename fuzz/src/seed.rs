//! Seeds `fuzz/corpus/<target>/` from the official vectors and the repo's own `vectors/`.
//!
//! Every fuzz target calls [`from_env`] in its `init` block: when `DRACOON_FUZZ_SEED` names a
//! directory, the target writes its seed inputs there and exits instead of fuzzing. So seeding
//! needs no build of its own:
//!
//! ```text
//! DRACOON_FUZZ_SEED=fuzz/corpus/stream cargo +nightly fuzz run stream
//! ```
//!
//! Vector folders: `$DRACOON_VECTORS` (if set), else `<repo>/vectors/official` and
//! `<repo>/vectors`; missing folders are skipped. The vectors are read, never copied into the
//! repo: corpus entries go to the git-ignored `fuzz/corpus/`, named by the SHA-1 of their
//! content as libFuzzer names them.
//!
//! Fuzz builds clamp PBKDF2 to 4 iterations, so the vectors' own keys (10,000 or more
//! iterations) can never open there. Besides the vector files themselves, the seeder therefore
//! writes the vectors' plain keys encrypted with at most 4 iterations, in every PBES2 shape
//! the reader accepts, so the paths behind a successful unlock are reachable.

use std::path::{Path, PathBuf};

use crate::inputs::{
    Mutation, PrivateKeyInput, PrivateKeyMode, PublicKeyInput, PublicKeyMode, StreamInput,
    TamperInput,
};
use crate::{pem, plain_file_key_parts};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dracoon_crypto::{
    Password, PlainFileKey, PrivateKeyContainer, UserKeyPair, UserKeyPairVersion, UserPrivateKey,
};
use dracoon_crypto_testkit::der::{self, Cipher, Pbes2, Prf};
use sha1::Digest as _;

/// Longest plaintext taken from a vector file.
const MAX_CONTENT_SEED: usize = 12 * 1024;

struct Corpus {
    /// The target whose entries are written; the others are generated and dropped.
    target: String,
    dir: PathBuf,
    written: usize,
}

impl Corpus {
    fn add(&mut self, target: &'static str, bytes: &[u8]) {
        if target != self.target {
            return;
        }
        let name: String = sha1::Sha1::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = self.dir.join(name);
        if !path.exists() {
            if let Err(e) = std::fs::write(&path, bytes) {
                eprintln!("seed: cannot write {}: {e}", path.display());
                std::process::exit(1);
            }
            self.written += 1;
        }
    }

    fn private(&mut self, input: &PrivateKeyInput<'_>) {
        let bytes = input.encode();
        assert_eq!(
            PrivateKeyInput::parse(&bytes).as_ref(),
            Some(input),
            "private_key input encoding does not round-trip"
        );
        self.add("private_key", &bytes);
    }

    fn public(&mut self, mode: PublicKeyMode, rsa4096: bool, document: &[u8]) {
        let input = PublicKeyInput {
            mode,
            rsa4096,
            document,
        };
        self.add("public_key", &input.encode());
    }

    fn stream(&mut self, input: &StreamInput<'_>) {
        let bytes = input.encode();
        assert_eq!(
            StreamInput::parse(&bytes).as_ref(),
            Some(input),
            "stream encoding"
        );
        self.add("stream", &bytes);
    }

    fn workflow(&mut self, input: &crate::script::WorkflowInput, blobs: &[Vec<u8>]) {
        let bytes = input.encode(blobs);
        let parsed = crate::script::WorkflowInput::parse(&bytes);
        let blob_refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        assert!(
            parsed
                .as_ref()
                .is_some_and(|(i, b)| i == input && (blobs.is_empty() || *b == blob_refs)),
            "workflows input encoding does not round-trip"
        );
        self.add("workflows", &bytes);
    }

    fn tamper(&mut self, input: &TamperInput<'_>) {
        let bytes = input.encode();
        assert_eq!(
            TamperInput::parse(&bytes).as_ref(),
            Some(input),
            "tamper encoding"
        );
        self.add("tamper", &bytes);
    }
}

/// Seeds `target`'s corpus and exits when `DRACOON_FUZZ_SEED` names the corpus directory;
/// does nothing otherwise. Called from every target's `init` block.
pub fn from_env(target: &str) {
    let Some(dir) = std::env::var_os("DRACOON_FUZZ_SEED") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let written = seed(target, &dir, &vector_dirs());
    let total = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    println!(
        "seed: {target}: {written} new, {total} in {}",
        dir.display()
    );
    std::process::exit(0);
}

/// The vector folders: `$DRACOON_VECTORS` (or, unset, the repository's copy of the official
/// vectors in `vectors/official`)
/// and the repo's own `vectors/`.
#[must_use]
pub fn vector_dirs() -> Vec<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let repo = manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut dirs: Vec<PathBuf> = match std::env::var_os("DRACOON_VECTORS") {
        Some(v) => std::env::split_paths(&v).collect(),
        None => vec![repo.join("vectors/official")],
    };
    let own = repo.join("vectors");
    if !dirs.contains(&own) {
        dirs.push(own);
    }
    dirs
}

/// Writes the seed inputs of `target` into `dir` and returns how many were new.
///
/// # Panics
/// When an input encoder does not round-trip through its target's parser (the `arbitrary`
/// format changed): better loud than a corpus of garbage.
pub fn seed(target: &str, dir: &Path, vector_dirs: &[PathBuf]) -> usize {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("seed: cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let mut corpus = Corpus {
        target: target.to_owned(),
        dir: dir.to_path_buf(),
        written: 0,
    };
    let mut plain_keys: Vec<UserPrivateKey> = Vec::new();
    for d in vector_dirs {
        if !d.is_dir() {
            eprintln!("seed: no vectors at {} (skipped)", d.display());
            continue;
        }
        seed_dir(&mut corpus, d, &mut plain_keys);
    }
    if target == "private_key" || target == "public_key" {
        if plain_keys.is_empty() {
            eprintln!("seed: no plain keys in the vectors; generating an RSA-2048 key");
            match UserKeyPair::generate(UserKeyPairVersion::Rsa2048) {
                Ok(kp) => plain_keys.push(kp.private_key().clone()),
                Err(e) => eprintln!("seed: key generation failed: {e}"),
            }
        }
        // One key per version is enough for the generated shapes.
        let mut seen = Vec::new();
        plain_keys.retain(|k| {
            let fresh = !seen.contains(&k.version());
            seen.push(k.version());
            fresh
        });
        for key in &plain_keys {
            seed_key_shapes(&mut corpus, key);
        }
    }
    seed_synthetic(&mut corpus);
    seed_transport(&mut corpus);
    corpus.written
}

/// The transport targets' seeds: the fixtures' answer bodies for `api_models`; for
/// `workflows` every workflow with every seed script, and each workflow's honest run again
/// with its captured answer bodies as blobs (so byte mutations act on real answers).
fn seed_transport(corpus: &mut Corpus) {
    use crate::script::{Answer, Body, WorkflowInput, seed_scripts, seed_workflows};
    match corpus.target.as_str() {
        "api_models" => {
            for body in crate::api::seed_bodies() {
                corpus.add("api_models", &body);
            }
        }
        "workflows" => {
            for workflow in seed_workflows() {
                for (retries, after, answers) in seed_scripts() {
                    let input = WorkflowInput::scripted(workflow, retries, after, answers);
                    corpus.workflow(&input, &[]);
                }
                let honest = WorkflowInput::honest(workflow);
                let outcome = crate::harness::run(&honest, &[]);
                let n = outcome.bodies.len().min(64);
                let input = WorkflowInput {
                    answers: (0..n).map(|i| Answer::body(Body::Blob(i as u8))).collect(),
                    ..honest
                };
                corpus.workflow(&input, &outcome.bodies[..n]);
            }
        }
        _ => {}
    }
}

fn read(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

fn read_password(path: &Path, trim: bool) -> Option<String> {
    let mut s = String::from_utf8(read(path)?).ok()?;
    if trim {
        while s.ends_with('\n') || s.ends_with('\r') {
            s.pop();
        }
    }
    Some(s)
}

/// The DER inside a PEM string (any line endings), if it is valid base64.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----\n").or_else(|| pem.find("-----\r\n"))?;
    let end = pem.rfind("-----END")?;
    let body: String = pem
        .get(start + 5..end)?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD.decode(body).ok()
}

fn json_str(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

fn private_seeds(corpus: &mut Corpus, json: &[u8], password: &str) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let rsa4096 = json_str(&v, "version").as_deref() == Some("RSA-4096");
    let base = PrivateKeyInput {
        mode: PrivateKeyMode::ContainerJson,
        rsa4096,
        unwrap_check: false,
        iterations: 4,
        password: password.to_owned(),
        document: json,
    };
    corpus.private(&base);
    corpus.private(&PrivateKeyInput {
        password: "wrong-ä-#password".into(),
        ..base.clone()
    });
    if let Some(p) = json_str(&v, "privateKey") {
        corpus.private(&PrivateKeyInput {
            mode: PrivateKeyMode::Pem,
            document: p.as_bytes(),
            ..base.clone()
        });
        if let Some(der) = pem_body(&p) {
            corpus.private(&PrivateKeyInput {
                mode: PrivateKeyMode::EncryptedDer,
                document: &der,
                ..base.clone()
            });
        }
    }
}

fn seed_dir(corpus: &mut Corpus, dir: &Path, plain_keys: &mut Vec<UserPrivateKey>) {
    // 1. The manifest, when there is one: pairs passwords with keys, files with their keys.
    if let Some(manifest) = read(&dir.join("manifest.json"))
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    {
        let cases = manifest
            .get("cases")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        for case in &cases {
            seed_case(corpus, dir, case, plain_keys);
        }
    }
    // 2. Every JSON file by its name (covers a vectors/ folder without a manifest).
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.ends_with(".json") || name == "manifest.json" {
                continue;
            }
            let Some(bytes) = read(&path) else { continue };
            if name.contains("file_key") {
                corpus.add("file_key", &bytes);
            } else if name.contains("public_key") {
                corpus.public(PublicKeyMode::Json, false, &bytes);
            } else if name.contains("private_key") {
                let mode = if name.contains("plain") {
                    PrivateKeyMode::PlainContainerJson
                } else {
                    PrivateKeyMode::ContainerJson
                };
                corpus.private(&PrivateKeyInput {
                    mode,
                    rsa4096: false,
                    unwrap_check: false,
                    iterations: 1,
                    password: String::new(),
                    document: &bytes,
                });
            } else if name.starts_with("kp_") {
                seed_fixture(corpus, &bytes, plain_keys);
            }
        }
    }
}

/// A key pair fixture: `{plainUserKeyPairContainer, encryptedUserKeyPairContainer, config}`.
fn seed_fixture(corpus: &mut Corpus, bytes: &[u8], plain_keys: &mut Vec<UserPrivateKey>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    let password = v
        .get("config")
        .and_then(|c| json_str(c, "password"))
        .unwrap_or_default();
    if let Some(enc) = v.get("encryptedUserKeyPairContainer") {
        let doc = enc.to_string();
        corpus.private(&PrivateKeyInput {
            mode: PrivateKeyMode::KeyPairJson,
            rsa4096: false,
            unwrap_check: false,
            iterations: 2,
            password,
            document: doc.as_bytes(),
        });
    }
    if let Some(plain) = v
        .get("plainUserKeyPairContainer")
        .and_then(|p| p.get("privateKeyContainer"))
    {
        seed_plain(corpus, plain.to_string().as_bytes(), plain_keys);
    }
}

fn seed_plain(corpus: &mut Corpus, json: &[u8], plain_keys: &mut Vec<UserPrivateKey>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let rsa4096 = json_str(&v, "version").as_deref() == Some("RSA-4096");
    let base = PrivateKeyInput {
        mode: PrivateKeyMode::PlainContainerJson,
        rsa4096,
        unwrap_check: true,
        iterations: 3,
        password: "Qwer1234!".into(),
        document: json,
    };
    corpus.private(&base);
    let Some(p) = json_str(&v, "privateKey") else {
        return;
    };
    corpus.private(&PrivateKeyInput {
        mode: PrivateKeyMode::PlainPem,
        document: p.as_bytes(),
        ..base.clone()
    });
    let Some(pkcs1) = pem_body(&p) else { return };
    corpus.private(&PrivateKeyInput {
        mode: PrivateKeyMode::PlainPkcs1Der,
        document: &pkcs1,
        ..base.clone()
    });
    let pkcs8 = der::pkcs8_from_pkcs1(&pkcs1);
    corpus.private(&PrivateKeyInput {
        mode: PrivateKeyMode::PlainPkcs8Der,
        document: &pkcs8,
        ..base.clone()
    });
    // Redundant leading zeros in each INTEGER (the Java SDK's bad_asn1 shape).
    for i in 0..9 {
        if let Some(z) = der::with_redundant_zero(&pkcs1, i) {
            corpus.private(&PrivateKeyInput {
                mode: PrivateKeyMode::PlainPkcs1Der,
                document: &z,
                unwrap_check: false,
                ..base.clone()
            });
        }
    }
    if let Ok(c) = PrivateKeyContainer::from_json(&String::from_utf8_lossy(json))
        && let Ok(key) = UserPrivateKey::from_plain_container(&c)
    {
        plain_keys.push(key);
    }
}

fn seed_case(
    corpus: &mut Corpus,
    dir: &Path,
    case: &serde_json::Value,
    plain_keys: &mut Vec<UserPrivateKey>,
) {
    let Some(inputs) = case.get("inputs") else {
        return;
    };
    let file = |k: &str| json_str(inputs, k).map(|p| dir.join(p));
    let trim = case
        .get("password_trim")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let password = file("password_file")
        .and_then(|p| read_password(&p, trim))
        .unwrap_or_default();

    let private = file("private_key").and_then(|p| read(&p));
    if let Some(json) = &private {
        private_seeds(corpus, json, &password);
    }
    let public = file("public_key").and_then(|p| read(&p));
    if let Some(json) = &public {
        corpus.public(PublicKeyMode::Json, false, json);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(json) {
            let rsa4096 = json_str(&v, "version").as_deref() == Some("RSA-4096");
            if let Some(p) = json_str(&v, "publicKey") {
                corpus.public(PublicKeyMode::Pem, rsa4096, p.as_bytes());
                if let Some(d) = pem_body(&p) {
                    corpus.public(PublicKeyMode::Der, rsa4096, &d);
                }
            }
        }
    }
    if let (Some(pk), Some(pubk)) = (&private, &public) {
        let (Ok(a), Ok(b)) = (
            serde_json::from_slice::<serde_json::Value>(pk),
            serde_json::from_slice::<serde_json::Value>(pubk),
        ) else {
            return;
        };
        let pair = serde_json::json!({"privateKeyContainer": a, "publicKeyContainer": b});
        let doc = pair.to_string();
        corpus.private(&PrivateKeyInput {
            mode: PrivateKeyMode::KeyPairJson,
            rsa4096: false,
            unwrap_check: false,
            iterations: 1,
            password: password.clone(),
            document: doc.as_bytes(),
        });
    }
    if let Some(json) = file("plain_private_key").and_then(|p| read(&p)) {
        seed_plain(corpus, &json, plain_keys);
    }
    if let Some(json) = file("keypair_fixture").and_then(|p| read(&p)) {
        seed_fixture(corpus, &json, plain_keys);
    }
    for k in ["encrypted_file_key", "plain_file_key"] {
        if let Some(json) = file(k).and_then(|p| read(&p)) {
            corpus.add("file_key", &json);
        }
    }
    // Content: the plain file key's key and IV over the plaintext (or the ciphertext when
    // only that is given; any bytes are a plaintext).
    let key = file("plain_file_key")
        .and_then(|p| read(&p))
        .and_then(|j| PlainFileKey::from_json(&String::from_utf8_lossy(&j)).ok());
    let data = file("plaintext_b64")
        .or_else(|| file("ciphertext_b64"))
        .and_then(|p| read(&p))
        .and_then(|b| STANDARD.decode(String::from_utf8_lossy(&b).trim()).ok());
    if let (Some(key), Some(mut data)) = (key, data) {
        // Large files add nothing a 12 KiB prefix does not (several bulk strides), and would
        // raise libFuzzer's input size limit for the whole run.
        data.truncate(MAX_CONTENT_SEED);
        let (k, iv, _) = plain_file_key_parts(&key);
        corpus.stream(&StreamInput {
            key: k,
            iv,
            enc_chunks: [7, 16, 1, 0, 33, 5],
            dec_chunks: [16, 3, 0, 64, 1, 2],
            copy_mask: 0x5A,
            plaintext: &data,
        });
        corpus.tamper(&TamperInput {
            key: k,
            iv,
            chunks: [5, 11, 16],
            mutation: Mutation::FlipCiphertext { pos: 3, mask: 1 },
            plaintext: &data,
        });
    }
}

/// Every PBES2 shape the reader accepts, with at most 4 iterations, for one key.
fn seed_key_shapes(corpus: &mut Corpus, key: &UserPrivateKey) {
    let rsa4096 = key.version() == UserKeyPairVersion::Rsa4096;
    // The crate's own writer, with the profile's shape.
    for (pw, it) in [("Qwer1234!", 1u32), ("Qwer1234!ä🐛", 4), ("#~|@$%&*", 2)] {
        let Ok(c) = key.hazmat_to_container_with_iterations(&Password::new(pw), it) else {
            continue;
        };
        let json = c.to_json();
        let base = PrivateKeyInput {
            mode: PrivateKeyMode::ContainerJson,
            rsa4096,
            unwrap_check: it == 4,
            iterations: it,
            password: pw.into(),
            document: json.as_bytes(),
        };
        corpus.private(&base);
        corpus.private(&PrivateKeyInput {
            mode: PrivateKeyMode::Pem,
            document: c.private_key.as_bytes(),
            ..base.clone()
        });
        let crlf = c.private_key.replace('\n', "\r\n");
        corpus.private(&PrivateKeyInput {
            mode: PrivateKeyMode::Pem,
            document: crlf.as_bytes(),
            ..base.clone()
        });
        if let Ok(pc) = key.public_key().to_container() {
            let pair = serde_json::json!({
                "privateKeyContainer": serde_json::from_str::<serde_json::Value>(&json).ok(),
                "publicKeyContainer": serde_json::from_str::<serde_json::Value>(&pc.to_json()).ok(),
            })
            .to_string();
            corpus.private(&PrivateKeyInput {
                mode: PrivateKeyMode::KeyPairJson,
                document: pair.as_bytes(),
                ..base.clone()
            });
            corpus.public(PublicKeyMode::Pem, rsa4096, pc.public_key.as_bytes());
            if let Some(d) = pem_body(&pc.public_key) {
                corpus.public(PublicKeyMode::Der, rsa4096, &d);
            }
        }
    }
    // Hand-made shapes around the key's plain DER.
    let Some(pkcs1) = plain_pkcs1_of(key) else {
        return;
    };
    let pkcs8 = der::pkcs8_from_pkcs1(&pkcs1);
    let shapes = [
        (Prf::Absent, Cipher::Aes256, 20usize, false),
        (Prf::Sha1NoParams, Cipher::Aes256, 20, true),
        (Prf::Sha1Null, Cipher::Aes192, 8, false),
        (Prf::Sha256Null, Cipher::Aes128, 128, true),
        (Prf::Sha256Null, Cipher::Aes256, 1024, false),
    ];
    for (i, (prf, cipher, salt_len, key_length)) in shapes.into_iter().enumerate() {
        let p = Pbes2 {
            salt: (0..salt_len).map(|j| (j * 7 + i) as u8).collect(),
            iterations: (i as u64 % 4) + 1,
            prf,
            cipher,
            key_length: key_length.then(|| cipher.key_len() as u64),
            iv: [i as u8; 16],
            ..Pbes2::default()
        };
        for (payload, pw) in [(&pkcs8, "Qwer1234!"), (&pkcs1, "Qwer1234!ä")] {
            let der = p.encrypt(payload, pw.as_bytes());
            corpus.private(&PrivateKeyInput {
                mode: PrivateKeyMode::EncryptedDer,
                rsa4096,
                unwrap_check: false,
                iterations: 1,
                password: pw.into(),
                document: &der,
            });
        }
        // Latin-1 password bytes: opens only through the ISO-8859-1 candidate.
        let der = p.encrypt(&pkcs8, b"Qwer1234!\xE4");
        corpus.private(&PrivateKeyInput {
            mode: PrivateKeyMode::EncryptedDer,
            rsa4096,
            unwrap_check: false,
            iterations: 2,
            password: "Qwer1234!ä".into(),
            document: &der,
        });
    }
    // A payload with a redundant leading zero, encrypted (the Java bad_asn1 case).
    if let Some(z) = der::with_redundant_zero(&pkcs1, 6) {
        let p = Pbes2 {
            salt: vec![1; 20],
            iterations: 3,
            prf: Prf::Absent,
            iv: [9; 16],
            ..Pbes2::default()
        };
        let der = p.encrypt(&der::pkcs8_from_pkcs1(&z), b"Qwer1234!");
        corpus.private(&PrivateKeyInput {
            mode: PrivateKeyMode::EncryptedDer,
            rsa4096,
            unwrap_check: true,
            iterations: 3,
            password: "Qwer1234!".into(),
            document: &der,
        });
    }
}

/// PKCS#1 DER of a key: the only way out through the public API is the encrypted container,
/// which this seeder decrypts itself (PBES2, the crate's profile, 1 iteration).
fn plain_pkcs1_of(key: &UserPrivateKey) -> Option<Vec<u8>> {
    use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
    let pw = b"seed";
    let c = key
        .hazmat_to_container_with_iterations(&Password::new("seed"), 1)
        .ok()?;
    let der = pem_body(&c.private_key)?;
    // EncryptedPrivateKeyInfo: SEQ { SEQ { OID, SEQ { SEQ{OID, SEQ{salt, iter}}, SEQ{OID, iv} } }, data }
    let top = der::elements(&der)?;
    let alg = der::elements(&der::tlv(0x30, &top.first()?.1))?;
    let params = der::elements(&der::tlv(0x30, &alg.get(1)?.1))?;
    let kdf = der::elements(&der::tlv(0x30, &params.first()?.1))?;
    let kdf_params = der::elements(&der::tlv(0x30, &kdf.get(1)?.1))?;
    let salt = &kdf_params.first()?.1;
    let scheme = der::elements(&der::tlv(0x30, &params.get(1)?.1))?;
    let iv: [u8; 16] = scheme.get(1)?.1.as_slice().try_into().ok()?;
    let data = &top.get(1)?.1;
    let mut dk = [0u8; 32];
    {
        use hmac::{Hmac, KeyInit, Mac};
        for (i, chunk) in dk.chunks_mut(20).enumerate() {
            let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(pw).ok()?;
            mac.update(salt);
            mac.update(&(i as u32 + 1).to_be_bytes());
            let u = mac.finalize().into_bytes();
            chunk.copy_from_slice(&u[..chunk.len()]);
        }
    }
    let mut buf = data.clone();
    let dec = cbc::Decryptor::<aes::Aes256>::new_from_slices(&dk, &iv).ok()?;
    let plain = dec.decrypt_padded::<Pkcs7>(&mut buf).ok()?.to_vec();
    // PrivateKeyInfo: SEQ { INT 0, SEQ alg, OCTET STRING pkcs1 }
    let info = der::elements(&plain)?;
    Some(info.get(2)?.1.clone())
}

fn seed_synthetic(corpus: &mut Corpus) {
    // Content of every size class around block and chunk boundaries.
    let big: Vec<u8> = (0..9000u32).map(|i| (i * 31 % 251) as u8).collect();
    for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 255, 4096, 4113, 9000] {
        let pt = &big[..len];
        corpus.stream(&StreamInput {
            key: [len as u8; 32],
            iv: [0x5A; 12],
            enc_chunks: [1, 15, 16, 17, 4096, 0],
            dec_chunks: [65535, 3, 0, 0, 13, 32],
            copy_mask: len as u8,
            plaintext: pt,
        });
    }
    let muts = [
        Mutation::FlipCiphertext { pos: 0, mask: 0x80 },
        Mutation::FlipTag { pos: 15, mask: 1 },
        Mutation::FlipIv { pos: 11, mask: 1 },
        Mutation::FlipKey { pos: 0, mask: 1 },
        Mutation::Truncate { by: 0 },
        Mutation::Extend {
            bytes: [0; 4],
            len: 0,
        },
        Mutation::Swap { a: 0, b: 17 },
    ];
    for (i, m) in muts.into_iter().enumerate() {
        for len in [0usize, 16, 33, 4113] {
            corpus.tamper(&TamperInput {
                key: [i as u8; 32],
                iv: [len as u8; 12],
                chunks: [16, 1, 0],
                mutation: m.clone(),
                plaintext: &big[..len],
            });
        }
    }
    // File key JSON shapes the parsers must handle.
    let key = STANDARD.encode([0x11u8; 32]);
    let wrapped = STANDARD.encode([0x22u8; 256]);
    let wrapped4096 = STANDARD.encode([0x33u8; 512]);
    let iv = STANDARD.encode([0x44u8; 12]);
    let tag = STANDARD.encode([0x55u8; 16]);
    let docs = [
        format!(r#"{{"key":"{key}","iv":"{iv}","tag":"{tag}","version":"A"}}"#),
        format!(r#"{{"key":"{key}","iv":"{iv}","tag":"{tag}","version":"AES-256-GCM"}}"#),
        format!(r#"{{"key":" {key}\n","iv":"{iv}","tag":null,"version":"A"}}"#),
        format!(r#"{{"key":"{key}","iv":"{iv}","version":"A"}}"#),
        format!(r#"{{"key":"{wrapped}","iv":"{iv}","tag":"{tag}","version":"A","x":[1]}}"#),
        format!(
            r#"{{"key":"{wrapped4096}","iv":"{iv}","tag":"{tag}","version":"RSA-4096/AES-256-GCM"}}"#
        ),
        format!(
            r#"{{"key":"{}","iv":"{iv}","tag":"{tag}","version":"A"}}"#,
            key.replace('+', "\\u002B")
        ),
    ];
    for d in &docs {
        corpus.add("file_key", d.as_bytes());
    }
    // A plain PEM seed for each public-key mode, even without vectors.
    corpus.public(
        PublicKeyMode::Json,
        false,
        br#"{"version":"A","publicKey":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}"#,
    );
    let spki = der::seq(&[
        &der::seq(&[&der::tlv(0x06, der::OID_RSA), &[0x05, 0x00]]),
        &der::tlv(0x03, &[0, 0x30, 0x06, 0x02, 0x01, 0x0F, 0x02, 0x01, 0x03]),
    ]);
    corpus.public(PublicKeyMode::Der, false, &spki);
    let p = pem("PUBLIC KEY", &spki, true);
    corpus.public(PublicKeyMode::Pem, true, p.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::PrivateKeyInput;
    use dracoon_crypto::Password;

    /// The PBKDF2 iteration count of an `EncryptedPrivateKeyInfo`.
    fn iterations_of(der: &[u8]) -> Option<u64> {
        let top = der::elements(der)?;
        let alg = der::elements(&der::tlv(0x30, &top.first()?.1))?;
        let params = der::elements(&der::tlv(0x30, &alg.get(1)?.1))?;
        let kdf = der::elements(&der::tlv(0x30, &params.first()?.1))?;
        let kdf_params = der::elements(&der::tlv(0x30, &kdf.get(1)?.1))?;
        let count = &kdf_params.get(1)?.1;
        (count.len() <= 8).then(|| count.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)))
    }

    /// The point of the generated seeds: with at most 4 iterations they open, so the fuzz
    /// build (which clamps PBKDF2 to 4 iterations) reaches the oracles behind a successful
    /// unlock. Needs the official vectors.
    #[test]
    fn private_key_seeds_reach_the_success_paths() {
        let dirs = vector_dirs();
        if !dirs.iter().any(|d| d.join("manifest.json").is_file()) {
            eprintln!("no vectors: skipped");
            return;
        }
        let dir = std::env::temp_dir().join(format!("dracoon-seed-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(seed("private_key", &dir, &dirs) > 100);
        let (mut encrypted, mut plain) = (0, 0);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            let Some(input) = PrivateKeyInput::parse(&bytes) else {
                continue;
            };
            let version = if input.rsa4096 {
                UserKeyPairVersion::Rsa4096
            } else {
                UserKeyPairVersion::Rsa2048
            };
            let container = |pem: String| PrivateKeyContainer {
                version,
                private_key: pem,
                created_at: None,
                created_by: None,
                expire_at: None,
            };
            match input.mode {
                PrivateKeyMode::EncryptedDer | PrivateKeyMode::Pem => {
                    let (pem_text, der) = if input.mode == PrivateKeyMode::Pem {
                        let text = String::from_utf8_lossy(input.document).into_owned();
                        let der = pem_body(&text).unwrap_or_default();
                        (text, der)
                    } else {
                        let text = pem("ENCRYPTED PRIVATE KEY", input.document, false);
                        (text, input.document.to_vec())
                    };
                    if iterations_of(&der).is_some_and(|n| n <= 4) {
                        let pw = Password::new(input.password.clone());
                        encrypted += usize::from(container(pem_text).unlock(&pw).is_ok());
                    }
                }
                PrivateKeyMode::PlainPkcs1Der => {
                    let der = pem("RSA PRIVATE KEY", input.document, true);
                    let c = container(der);
                    plain += usize::from(UserPrivateKey::from_plain_container(&c).is_ok());
                }
                _ => {}
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("opened: {encrypted} encrypted seeds, {plain} plain seeds");
        assert!(encrypted >= 20, "only {encrypted} encrypted seeds open");
        assert!(plain >= 10, "only {plain} plain seeds parse");
    }

    /// The public-key seeds hold real keys in every mode, so the round-trip and wrap oracles
    /// run. Needs the official vectors.
    #[test]
    fn public_key_seeds_parse() {
        use crate::inputs::{PublicKeyInput, PublicKeyMode};
        use dracoon_crypto::{PublicKeyContainer, UserPublicKey};
        let dirs = vector_dirs();
        if !dirs.iter().any(|d| d.join("manifest.json").is_file()) {
            eprintln!("no vectors: skipped");
            return;
        }
        let dir = std::env::temp_dir().join(format!("dracoon-seed-pk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(seed("public_key", &dir, &dirs) > 20);
        let mut ok = [0usize; 3];
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            let Some(input) = PublicKeyInput::parse(&bytes) else {
                continue;
            };
            let version = if input.rsa4096 {
                UserKeyPairVersion::Rsa4096
            } else {
                UserKeyPairVersion::Rsa2048
            };
            let text = String::from_utf8_lossy(input.document).into_owned();
            let container = |public_key: String| PublicKeyContainer {
                version,
                public_key,
                created_at: None,
                created_by: None,
                expire_at: None,
            };
            let (slot, c) = match input.mode {
                PublicKeyMode::Json => (0, PublicKeyContainer::from_json(&text).ok()),
                PublicKeyMode::Pem => (1, Some(container(text))),
                PublicKeyMode::Der => {
                    (2, Some(container(pem("PUBLIC KEY", input.document, false))))
                }
            };
            if c.is_some_and(|c| UserPublicKey::from_container(&c).is_ok()) {
                ok[slot] += 1;
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("parsed: {ok:?} (JSON, PEM, DER)");
        assert!(ok.iter().all(|&n| n >= 5), "{ok:?}");
    }
}
