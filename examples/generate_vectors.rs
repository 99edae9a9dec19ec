//! Generates the repository's own test vectors into `vectors/` (recorded outputs: every run
//! draws new random keys, so regenerate and commit the whole folder at once).
//!
//! ```text
//! cargo run --release --features hazmat --example generate_vectors [-- OUT_DIR]
//! ```
//!
//! The vectors use the same manifest format as the official SDK vectors, so
//! `tests/vectors.rs` checks them with exactly the code paths that check the official ones.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dracoon_crypto::{
    EncryptedFileKey, FileEncryptor, Password, PlainFileKey, UserKeyPair, UserKeyPairVersion,
};
use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct KeyPairVector {
    dir: &'static str,
    version: UserKeyPairVersion,
    password: &'static str,
    /// `None`: the current SDK profile (1,300,000 iterations).
    iterations: Option<u32>,
    note: &'static str,
}

const KEY_PAIRS: &[KeyPairVector] = &[
    KeyPairVector {
        dir: "kp_rsa2048",
        version: UserKeyPairVersion::Rsa2048,
        password: "Qwer1234!",
        iterations: None,
        note: "RSA-2048 (A), current profile: 20-byte salt, 1,300,000 iterations, PRF omitted",
    },
    KeyPairVector {
        dir: "kp_rsa4096",
        version: UserKeyPairVersion::Rsa4096,
        password: "Qwer1234!ä🐛",
        iterations: None,
        note: "RSA-4096, current profile, non-Latin-1 password (UTF-8 only)",
    },
    KeyPairVector {
        dir: "kp_rsa4096_10k",
        version: UserKeyPairVersion::Rsa4096,
        password: "acw9q857n(",
        iterations: Some(10_000),
        note: "RSA-4096, legacy 10,000-iteration count (as SDKs wrote before 2023)",
    },
];

/// (name, length): an empty file, a partial block, and more than 1 MiB, not block-aligned.
const FILES: &[(&str, usize)] = &[("empty", 0), ("short", 35), ("large", (1 << 20) + 4099)];

fn write(path: &Path, content: impl AsRef<[u8]>) -> Res<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, content)?;
    Ok(())
}

fn write_json(path: &Path, value: &Value) -> Res<()> {
    write(path, serde_json::to_string_pretty(value)? + "\n")
}

fn case(id: String, op: &str, inputs: Value, expect: &str, note: &str) -> Value {
    json!({ "id": id, "op": op, "inputs": inputs, "expect": expect, "note": note })
}

/// Deterministic file content: a readable, non-repeating byte pattern.
fn content(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x2545_F491;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}

fn main() -> Res<()> {
    let out: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors"));
    let mut cases = Vec::new();
    let mut pairs = Vec::new();

    for kp in KEY_PAIRS {
        eprintln!("generating {} ...", kp.dir);
        let key_pair = UserKeyPair::generate(kp.version)?;
        let password = Password::new(kp.password);
        let container = match kp.iterations {
            None => key_pair.to_container(&password)?,
            Some(n) => key_pair.hazmat_to_container_with_iterations(&password, n)?,
        };
        let dir = out.join("keys").join(kp.dir);
        write_json(
            &dir.join("private_key.json"),
            &serde_json::to_value(&container.private_key_container)?,
        )?;
        write_json(
            &dir.join("public_key.json"),
            &serde_json::to_value(&container.public_key_container)?,
        )?;
        write(&dir.join("password.txt"), kp.password)?;
        let rel = |f: &str| format!("keys/{}/{f}", kp.dir);
        cases.push(case(
            format!("own/{}/unlock", kp.dir),
            "unlock_keypair",
            json!({"private_key": rel("private_key.json"), "public_key": rel("public_key.json"), "password_file": rel("password.txt")}),
            "ok",
            kp.note,
        ));
        cases.push(case(
            format!("own/{}/parse_public_key", kp.dir),
            "parse_public_key",
            json!({"public_key": rel("public_key.json")}),
            "ok",
            "SPKI PEM, LF, 64-character lines",
        ));
        pairs.push((kp, key_pair));
    }
    write(&out.join("keys/wrong_password.txt"), "Invalid-Password")?;
    cases.push(case(
        "own/kp_rsa2048/unlock_wrong_password".into(),
        "unlock_keypair",
        json!({"private_key": "keys/kp_rsa2048/private_key.json", "public_key": "keys/kp_rsa2048/public_key.json", "password_file": "keys/wrong_password.txt"}),
        "wrong_password",
        "wrong password",
    ));
    cases.push(case(
        "own/kp_rsa2048_private+kp_rsa4096_public/unlock".into(),
        "unlock_keypair",
        json!({"private_key": "keys/kp_rsa2048/private_key.json", "public_key": "keys/kp_rsa4096/public_key.json", "password_file": "keys/kp_rsa2048/password.txt"}),
        "version_mismatch",
        "private key A with a public key RSA-4096",
    ));

    for &(name, len) in FILES {
        eprintln!("encrypting {name} ({len} bytes) ...");
        let plaintext = content(len);
        let mut ciphertext = plaintext.clone();
        let mut enc = FileEncryptor::new()?;
        enc.update_in_place(&mut ciphertext)?;
        let file_key: PlainFileKey = enc.finalize();
        let dir = out.join("files").join(name);
        write(&dir.join("plain.b64"), STANDARD.encode(&plaintext))?;
        write(&dir.join("enc.b64"), STANDARD.encode(&ciphertext))?;
        write(
            &dir.join("plain_file_key.json"),
            format!("{}\n", file_key.to_json().as_str()),
        )?;
        let rel = |f: &str| format!("files/{name}/{f}");

        cases.push(case(
            format!("own/files/{name}/decrypt"),
            "decrypt_file",
            json!({"plain_file_key": rel("plain_file_key.json"), "ciphertext_b64": rel("enc.b64"), "plaintext_b64": rel("plain.b64")}),
            "ok",
            "decrypts in one piece and in 16-, 5- and 1-byte chunks",
        ));
        cases.push(case(
            format!("own/files/{name}/encrypt"),
            "encrypt_file",
            json!({"plain_file_key": rel("plain_file_key.json"), "plaintext_b64": rel("plain.b64"), "ciphertext_b64": rel("enc.b64")}),
            "ok",
            "ciphertext and tag reproduced exactly",
        ));
        if let Some(Value::Object(last)) = cases.last_mut() {
            last.insert("match".into(), json!({"ciphertext": true, "tag": true}));
        }
        cases.push(case(
            format!("own/files/{name}/parse"),
            "parse_file_key",
            json!({"plain_file_key": rel("plain_file_key.json")}),
            "ok",
            "plain file key, version A",
        ));

        // A tampered ciphertext (last byte) or, for the empty file, a tampered tag (not for the
        // large file, to keep the folder small; the property tests tamper with large files).
        add_key_cases(&mut cases, &pairs, name, &dir, &file_key)?;
        if len > 1 << 16 {
            continue;
        }
        let (what, tampered_ct, tampered_key) = if let Some(last) = ciphertext.last() {
            let mut ct = ciphertext.clone();
            if let Some(b) = ct.last_mut() {
                *b = last ^ 0x01;
            }
            ("last ciphertext byte flipped", ct, None)
        } else {
            let mut json_key: Value = serde_json::from_str(&file_key.to_json())?;
            json_key["tag"] = json!(STANDARD.encode([0u8; 16]));
            ("tag replaced by zeros", ciphertext.clone(), Some(json_key))
        };
        write(&dir.join("enc_tampered.b64"), STANDARD.encode(&tampered_ct))?;
        let key_input = match tampered_key {
            Some(k) => {
                write_json(&dir.join("plain_file_key_bad_tag.json"), &k)?;
                rel("plain_file_key_bad_tag.json")
            }
            None => rel("plain_file_key.json"),
        };
        cases.push(case(
            format!("own/files/{name}/decrypt_tampered"),
            "decrypt_file",
            json!({"plain_file_key": key_input, "ciphertext_b64": rel("enc_tampered.b64")}),
            "bad_file",
            what,
        ));
    }

    let count = cases.len();
    write_json(
        &out.join("manifest.json"),
        &json!({"version": 1, "cases": cases}),
    )?;
    eprintln!("wrote {count} cases to {}", out.display());
    Ok(())
}

/// Wraps the file key for every key pair and records unwrap, wrap, parse and mismatch cases.
fn add_key_cases(
    cases: &mut Vec<Value>,
    pairs: &[(&KeyPairVector, UserKeyPair)],
    name: &str,
    dir: &Path,
    file_key: &PlainFileKey,
) -> Res<()> {
    let rel = |f: &str| format!("files/{name}/{f}");
    for (kp, key_pair) in pairs {
        let wrapped: EncryptedFileKey = key_pair.public_key().wrap_file_key(file_key)?;
        let efk = format!("enc_file_key_{}.json", kp.dir);
        write(&dir.join(&efk), format!("{}\n", wrapped.to_json()))?;
        let key_inputs = json!({
            "encrypted_file_key": rel(&efk),
            "private_key": format!("keys/{}/private_key.json", kp.dir),
            "public_key": format!("keys/{}/public_key.json", kp.dir),
            "password_file": format!("keys/{}/password.txt", kp.dir),
            "plain_file_key": rel("plain_file_key.json"),
        });
        cases.push(case(
            format!("own/files/{name}/{}/unwrap", kp.dir),
            "unwrap_file_key",
            key_inputs.clone(),
            "ok",
            "wrapped by this crate",
        ));
        cases.push(case(
            format!("own/files/{name}/{}/wrap", kp.dir),
            "wrap_file_key",
            key_inputs,
            "ok",
            "wrap again: version, iv and tag kept, round trip",
        ));
        cases.push(case(
            format!("own/files/{name}/{}/parse_enc", kp.dir),
            "parse_file_key",
            json!({"encrypted_file_key": rel(&efk)}),
            "ok",
            "encrypted file key",
        ));
        // The same file key with the key pair of the other version.
        if let Some((other, _)) = pairs.iter().find(|(o, _)| o.version != kp.version) {
            cases.push(case(
                format!("own/files/{name}/{}+{}/unwrap", kp.dir, other.dir),
                "unwrap_file_key",
                json!({
                    "encrypted_file_key": rel(&efk),
                    "private_key": format!("keys/{}/private_key.json", other.dir),
                    "password_file": format!("keys/{}/password.txt", other.dir),
                    "plain_file_key": rel("plain_file_key.json"),
                }),
                "version_mismatch",
                "file key of one version, key pair of the other",
            ));
        }
    }
    Ok(())
}
