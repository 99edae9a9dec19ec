//! Runs a vector manifest (the official one in `vectors/official`, or the repo's own in
//! `vectors/`) through every API level that applies to each case.
//!
//! Manifest format: see `vectors/official/README.md`. Each case states its expected outcome
//! (`ok` or an error class); a case passes when every API path gives that outcome.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dracoon_crypto::{
    EncryptedFileKey, Error, FileDecryptor, FileEncryptor, Password, PlainFileKey,
    PrivateKeyContainer, PublicKeyContainer, UnverifiedDecryptingReader, UserKeyPairContainer,
    UserPrivateKey, UserPublicKey, decrypt_bytes, decrypt_seekable, decrypt_stream,
    decrypt_to_path, verify_stream,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
pub struct Case {
    pub id: String,
    pub op: String,
    pub inputs: HashMap<String, String>,
    pub expect: String,
    #[serde(default)]
    pub password_trim: bool,
    #[serde(default, rename = "match")]
    pub match_: Option<Match>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
pub struct Match {
    pub ciphertext: bool,
    pub tag: bool,
}

/// Totals of a run.
#[derive(Debug, Default)]
pub struct Summary {
    pub ran: usize,
    pub ok: usize,
    pub expected_errors: usize,
    pub failures: Vec<String>,
    pub by_op: HashMap<String, usize>,
}

/// What a case came out as: `ok` or an error class.
type Outcome = Result<(), String>;

fn class(e: &Error) -> String {
    e.class().to_string()
}

/// Runs every case of `dir/manifest.json`.
pub fn run_manifest(dir: &Path) -> Summary {
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.join("manifest.json").display()));
    let manifest: Manifest = serde_json::from_str(&text).expect("manifest.json parses");
    let mut runner = Runner {
        dir: dir.to_path_buf(),
        unlocked: HashMap::new(),
    };
    let mut summary = Summary::default();
    for case in &manifest.cases {
        summary.ran += 1;
        *summary.by_op.entry(case.op.clone()).or_default() += 1;
        if case.expect == "ok" {
            summary.ok += 1;
        } else {
            summary.expected_errors += 1;
        }
        for (path, outcome) in runner.run(case) {
            let got = match &outcome {
                Ok(()) => "ok".to_string(),
                Err(c) => c.clone(),
            };
            if got != case.expect {
                summary.failures.push(format!(
                    "{} [{}] via {path}: expected {}, got {got}",
                    case.id, case.op, case.expect
                ));
            }
        }
    }
    summary
}

struct Runner {
    dir: PathBuf,
    /// Unlocked private keys by (file, password), so each key costs one PBKDF2 run where a
    /// case does not test unlocking itself.
    unlocked: HashMap<(String, String), UserPrivateKey>,
}

impl Runner {
    fn path(&self, case: &Case, input: &str) -> PathBuf {
        let rel = case
            .inputs
            .get(input)
            .unwrap_or_else(|| panic!("{}: input {input} missing", case.id));
        self.dir.join(rel)
    }

    fn text(&self, case: &Case, input: &str) -> String {
        let p = self.path(case, input);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {}: {e}", case.id, p.display()))
    }

    fn b64_file(&self, case: &Case, input: &str) -> Vec<u8> {
        STANDARD
            .decode(self.text(case, input).trim_ascii())
            .unwrap_or_else(|e| panic!("{}: {input} is not base64: {e}", case.id))
    }

    fn password(&self, case: &Case) -> Password {
        let raw = self.text(case, "password_file");
        let pw = if case.password_trim {
            raw.strip_suffix("\r\n")
                .or_else(|| raw.strip_suffix('\n'))
                .unwrap_or(&raw)
                .to_string()
        } else {
            raw
        };
        Password::new(pw)
    }

    fn has(case: &Case, input: &str) -> bool {
        case.inputs.contains_key(input)
    }

    /// Unlocks (or, for `plain_private_key`, reads) the case's private key, cached.
    fn private_key(&mut self, case: &Case) -> Result<UserPrivateKey, Error> {
        if Self::has(case, "plain_private_key") && !Self::has(case, "private_key") {
            let c = PrivateKeyContainer::from_json(&self.text(case, "plain_private_key"))?;
            return UserPrivateKey::from_plain_container(&c);
        }
        let text = self.text(case, "private_key");
        let pw = self.password(case);
        let cache_key = (text.clone(), pw.expose().to_string());
        if let Some(k) = self.unlocked.get(&cache_key) {
            return Ok(k.clone());
        }
        let key = PrivateKeyContainer::from_json(&text)?.unlock(&pw)?;
        self.unlocked.insert(cache_key, key.clone());
        Ok(key)
    }

    fn run(&mut self, case: &Case) -> Vec<(&'static str, Outcome)> {
        match case.op.as_str() {
            "unlock_keypair" => self.unlock_keypair(case),
            "unlock_private_key" => {
                vec![("PrivateKeyContainer::unlock", self.unlock_private_key(case))]
            }
            "unwrap_file_key" => self.unwrap_file_key(case),
            "wrap_file_key" => vec![("UserPublicKey::wrap_file_key", self.wrap_file_key(case))],
            "decrypt_file" => self.decrypt_file(case),
            "encrypt_file" => self.encrypt_file(case),
            "parse_public_key" => {
                vec![("UserPublicKey::from_container", self.parse_public_key(case))]
            }
            "parse_file_key" => vec![("FileKey::from_json", self.parse_file_key(case))],
            other => vec![("?", Err(format!("unknown op {other}")))],
        }
    }

    fn unlock_keypair(&mut self, case: &Case) -> Vec<(&'static str, Outcome)> {
        if Self::has(case, "keypair_fixture") {
            return vec![(
                "fixture: UserKeyPairContainer::unlock",
                self.unlock_fixture(case),
            )];
        }
        let container =
            PrivateKeyContainer::from_json(&self.text(case, "private_key")).and_then(|private| {
                Ok(UserKeyPairContainer {
                    private_key_container: private,
                    public_key_container: PublicKeyContainer::from_json(
                        &self.text(case, "public_key"),
                    )?,
                })
            });
        let container = match container {
            Ok(c) => c,
            Err(e) => return vec![("parse containers", Err(class(&e)))],
        };
        let pw = self.password(case);
        let mut out = Vec::new();

        // Level 1: unlock the key pair (and compare with the plain fixture if given).
        let unlocked = container.unlock(&pw);
        let level1 = match &unlocked {
            Ok(kp) => self.compare_with_plain(case, kp.private_key()),
            Err(e) => Err(class(e)),
        };
        out.push(("UserKeyPairContainer::unlock", level1));

        // Level 2: check(): true for ok, false for a wrong password, an error otherwise.
        let level2 = match container.check(&pw) {
            Ok(true) => Ok(()),
            Ok(false) => Err("wrong_password".to_string()),
            Err(e) => Err(class(&e)),
        };
        out.push(("UserKeyPairContainer::check", level2));

        // Level 3: the private key alone, where the case is about the private key.
        if case.expect == "ok" {
            let level3 = container
                .private_key_container
                .unlock(&pw)
                .map_err(|e| class(&e))
                .and_then(|k| {
                    if unlocked.as_ref().is_ok_and(|kp| kp.private_key() == &k) {
                        Ok(())
                    } else {
                        Err("private key differs from the key pair's".into())
                    }
                });
            out.push(("PrivateKeyContainer::unlock", level3));
        }
        out
    }

    fn compare_with_plain(&self, case: &Case, key: &UserPrivateKey) -> Outcome {
        if !Self::has(case, "plain_private_key") {
            return Ok(());
        }
        let plain = PrivateKeyContainer::from_json(&self.text(case, "plain_private_key"))
            .and_then(|c| UserPrivateKey::from_plain_container(&c))
            .map_err(|e| format!("plain_private_key unreadable: {e}"))?;
        if &plain == key {
            Ok(())
        } else {
            Err("decrypted key differs from plain_private_key".into())
        }
    }

    fn unlock_fixture(&self, case: &Case) -> Outcome {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Fixture {
            plain_user_key_pair_container: serde_json::Value,
            encrypted_user_key_pair_container: serde_json::Value,
            config: Config,
        }
        #[derive(Deserialize)]
        struct Config {
            password: String,
        }
        let f: Fixture =
            serde_json::from_str(&self.text(case, "keypair_fixture")).map_err(|e| e.to_string())?;
        let enc = UserKeyPairContainer::from_json(&f.encrypted_user_key_pair_container.to_string())
            .map_err(|e| class(&e))?;
        let kp = enc
            .unlock(&Password::new(f.config.password))
            .map_err(|e| class(&e))?;
        let plain = UserKeyPairContainer::from_json(&f.plain_user_key_pair_container.to_string())
            .map_err(|e| class(&e))?;
        let plain_private = UserPrivateKey::from_plain_container(&plain.private_key_container)
            .map_err(|e| class(&e))?;
        let plain_public =
            UserPublicKey::from_container(&plain.public_key_container).map_err(|e| class(&e))?;
        if &plain_private != kp.private_key() || &plain_public != kp.public_key() {
            return Err("fixture's plain key pair differs from the decrypted one".into());
        }
        Ok(())
    }

    fn unlock_private_key(&mut self, case: &Case) -> Outcome {
        let c = PrivateKeyContainer::from_json(&self.text(case, "private_key"))
            .map_err(|e| class(&e))?;
        c.unlock(&self.password(case))
            .map(|_| ())
            .map_err(|e| class(&e))
    }

    fn unwrap_file_key(&mut self, case: &Case) -> Vec<(&'static str, Outcome)> {
        let efk = match EncryptedFileKey::from_json(&self.text(case, "encrypted_file_key")) {
            Ok(k) => k,
            Err(e) => return vec![("EncryptedFileKey::from_json", Err(class(&e)))],
        };
        let expected = PlainFileKey::from_json(&self.text(case, "plain_file_key"));
        let compare = |got: PlainFileKey| -> Outcome {
            match &expected {
                Ok(exp) if *exp == got => Ok(()),
                Ok(_) => Err("unwrapped key differs from plain_file_key".into()),
                Err(e) => Err(format!("plain_file_key unreadable: {e}")),
            }
        };
        let mut out = Vec::new();
        if Self::has(case, "private_key") {
            // Container level: the version check must come before the password is used, so a
            // wrong password cannot change a version mismatch into anything else.
            let container = match PrivateKeyContainer::from_json(&self.text(case, "private_key")) {
                Ok(c) => c,
                Err(e) => return vec![("PrivateKeyContainer::from_json", Err(class(&e)))],
            };
            if case.expect == "version_mismatch" {
                let r =
                    container.unwrap_file_key(&efk, &Password::new("certainly not the password"));
                out.push((
                    "unwrap_file_key with a wrong password",
                    r.map(|_| ()).map_err(|e| class(&e)),
                ));
            }
        }
        let level = self
            .private_key(case)
            .and_then(|k| k.unwrap_file_key(&efk))
            .map_err(|e| class(&e))
            .and_then(compare);
        out.push(("UserPrivateKey::unwrap_file_key", level));
        out
    }

    fn wrap_file_key(&mut self, case: &Case) -> Outcome {
        let plain =
            PlainFileKey::from_json(&self.text(case, "plain_file_key")).map_err(|e| class(&e))?;
        let public = PublicKeyContainer::from_json(&self.text(case, "public_key"))
            .and_then(|c| UserPublicKey::from_container(&c))
            .map_err(|e| class(&e))?;
        let wrapped = public.wrap_file_key(&plain).map_err(|e| class(&e))?;
        if wrapped.iv() != plain.iv() || wrapped.tag() != plain.tag() {
            return Err("iv/tag not kept".into());
        }
        if wrapped.wrapped_key().len() != public.version().modulus_bits() as usize / 8 {
            return Err("wrapped key has the wrong length".into());
        }
        if Self::has(case, "encrypted_file_key") {
            let reference = EncryptedFileKey::from_json(&self.text(case, "encrypted_file_key"))
                .map_err(|e| class(&e))?;
            if reference.version() != wrapped.version() {
                return Err(format!(
                    "version {} instead of {}",
                    wrapped.version(),
                    reference.version()
                ));
            }
        }
        // Round trip through JSON and back through the private key.
        let again = EncryptedFileKey::from_json(&wrapped.to_json()).map_err(|e| class(&e))?;
        if Self::has(case, "private_key") || Self::has(case, "plain_private_key") {
            let private = self.private_key(case).map_err(|e| class(&e))?;
            let back = private.unwrap_file_key(&again).map_err(|e| class(&e))?;
            if back != plain {
                return Err("round trip gave another key".into());
            }
        }
        Ok(())
    }

    fn decrypt_file(&mut self, case: &Case) -> Vec<(&'static str, Outcome)> {
        let key = match PlainFileKey::from_json(&self.text(case, "plain_file_key")) {
            Ok(k) => k,
            Err(e) => return vec![("PlainFileKey::from_json", Err(class(&e)))],
        };
        let ct = self.b64_file(case, "ciphertext_b64");
        let expected =
            Self::has(case, "plaintext_b64").then(|| self.b64_file(case, "plaintext_b64"));
        let check = |got: Vec<u8>| -> Outcome {
            match &expected {
                Some(pt) if *pt != got => Err("plaintext differs".into()),
                _ => Ok(()),
            }
        };
        let mut out = Vec::new();
        out.push((
            "decrypt_bytes",
            decrypt_bytes(&ct, &key)
                .map_err(|e| class(&e))
                .and_then(check),
        ));
        for (name, chunk) in [
            ("FileDecryptor 1 chunk", usize::MAX),
            ("FileDecryptor 16-byte chunks", 16),
            ("FileDecryptor 5-byte chunks", 5),
            ("FileDecryptor 1-byte chunks", 1),
        ] {
            let mut dec = FileDecryptor::new(&key);
            let mut buf = ct.clone();
            for piece in buf.chunks_mut(chunk.min(ct.len().max(1))) {
                dec.update_in_place(piece).expect("update");
            }
            out.push((
                name,
                dec.finalize()
                    .map_err(|e| class(&e))
                    .and_then(|()| check(buf)),
            ));
        }
        let mut reader = UnverifiedDecryptingReader::new(ct.as_slice(), &key);
        let mut got = Vec::new();
        out.push((
            "UnverifiedDecryptingReader",
            reader
                .read_to_end(&mut got)
                .map_err(|e| class(&Error::from(e)))
                .and_then(|_| check(got)),
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out.bin");
        let r = decrypt_to_path(ct.as_slice(), &target, &key).map_err(|e| class(&e));
        let r = match r {
            Ok(_) => check(std::fs::read(&target).expect("output exists")),
            Err(c) if target.exists() => Err(format!("{c}, but the output file exists")),
            Err(c) => Err(c),
        };
        out.push(("decrypt_to_path", r));
        // The verify-first streams: the sink gets everything or nothing.
        let all_or_nothing = |name: &str, r: Result<u64, Error>, sink: Vec<u8>| match r {
            Ok(_) => check(sink),
            Err(e) if sink.is_empty() => Err(class(&e)),
            Err(e) => Err(format!(
                "{}, after {name} released {} bytes",
                class(&e),
                sink.len()
            )),
        };
        let mut sink = Vec::new();
        let r = decrypt_stream(ct.as_slice(), &mut sink, &key);
        out.push(("decrypt_stream", all_or_nothing("decrypt_stream", r, sink)));
        let mut sink = Vec::new();
        let r = decrypt_seekable(std::io::Cursor::new(&ct), &mut sink, &key);
        out.push((
            "decrypt_seekable",
            all_or_nothing("decrypt_seekable", r, sink),
        ));
        out.push((
            "verify_stream",
            verify_stream(ct.as_slice(), &key)
                .map_err(|e| class(&e))
                .and_then(|_| decrypt_bytes(&ct, &key).map_err(|e| class(&e)))
                .and_then(check),
        ));
        out
    }

    fn encrypt_file(&mut self, case: &Case) -> Vec<(&'static str, Outcome)> {
        let key = match PlainFileKey::from_json(&self.text(case, "plain_file_key")) {
            Ok(k) => k,
            Err(e) => return vec![("PlainFileKey::from_json", Err(class(&e)))],
        };
        let pt = self.b64_file(case, "plaintext_b64");
        let expected_ct = self.b64_file(case, "ciphertext_b64");
        let mut out = Vec::new();
        for (name, chunk) in [
            ("FileEncryptor 1 chunk", usize::MAX),
            ("FileEncryptor 16-byte chunks", 16),
            ("FileEncryptor 5-byte chunks", 5),
        ] {
            let mut enc = FileEncryptor::hazmat_with_file_key(&key);
            let mut buf = pt.clone();
            for piece in buf.chunks_mut(chunk.min(pt.len().max(1))) {
                enc.update_in_place(piece).expect("update");
            }
            let got = enc.finalize();
            let ct_match = buf == expected_ct;
            let tag_match = got.tag() == key.tag();
            let outcome = match case.match_ {
                Some(m) if m.ciphertext != ct_match || m.tag != tag_match => Err(format!(
                    "ciphertext match {ct_match} (manifest {}), tag match {tag_match} (manifest {})",
                    m.ciphertext, m.tag
                )),
                _ if ct_match && tag_match => Ok(()),
                _ => Err("bad_file".to_string()),
            };
            out.push((name, outcome));
        }
        out
    }

    fn parse_public_key(&mut self, case: &Case) -> Outcome {
        let c =
            PublicKeyContainer::from_json(&self.text(case, "public_key")).map_err(|e| class(&e))?;
        let key = UserPublicKey::from_container(&c).map_err(|e| class(&e))?;
        // Writing and reading back gives the same key.
        let again = key
            .to_container()
            .and_then(|c| UserPublicKey::from_container(&c))
            .map_err(|e| class(&e))?;
        if again == key {
            Ok(())
        } else {
            Err("re-encoded key differs".into())
        }
    }

    fn parse_file_key(&mut self, case: &Case) -> Outcome {
        if Self::has(case, "encrypted_file_key") {
            let k = EncryptedFileKey::from_json(&self.text(case, "encrypted_file_key"))
                .map_err(|e| class(&e))?;
            let again = EncryptedFileKey::from_json(&k.to_json()).map_err(|e| class(&e))?;
            if again != k {
                return Err("re-encoded encrypted file key differs".into());
            }
        }
        if Self::has(case, "plain_file_key") {
            let k = PlainFileKey::from_json(&self.text(case, "plain_file_key"))
                .map_err(|e| class(&e))?;
            let again = PlainFileKey::from_json(&k.to_json()).map_err(|e| class(&e))?;
            if again != k {
                return Err("re-encoded plain file key differs".into());
            }
        }
        Ok(())
    }
}
