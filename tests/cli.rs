//! The CLI contract (CLI.md): flags, JSON shapes, passwords, exit statuses, atomic output,
//! `-` for stdin/stdout, and interoperability with files made by the official SDKs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use dracoon_crypto::{
    EncryptedFileKey, Password, PlainFileKey, UserKeyPairContainer, UserKeyPairVersion,
};

const BIN: &str = env!("CARGO_BIN_EXE_dracoon-crypto");
const PASSWORD: &str = "Qwer1234!ä🐛";

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("DRACOON_CRYPTO_PASSWORD");
    c
}

fn run(c: &mut Command) -> Output {
    c.output().expect("the CLI runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// One key pair made by the CLI (RSA-2048 keeps it quick), shared by the tests.
fn key_pair() -> &'static (tempfile::TempDir, PathBuf) {
    static KP: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    KP.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let kp = dir.path().join("kp.json");
        let o = run(cmd(&["keygen", "--version", "A", "--out", p(&kp)])
            .env("DRACOON_CRYPTO_PASSWORD", PASSWORD));
        assert!(o.status.success(), "keygen: {}", stderr(&o));
        (dir, kp)
    })
}

/// The official vectors (the repository's copy, or `DRACOON_VECTORS`); missing ones fail.
fn vectors() -> PathBuf {
    let dir = std::env::var_os("DRACOON_VECTORS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/official"),
        PathBuf::from,
    );
    assert!(
        dir.join("manifest.json").is_file(),
        "the official vectors are missing: {}",
        dir.display()
    );
    dir
}

#[test]
fn keygen_writes_a_key_pair_in_the_api_shape() {
    let (_dir, kp) = key_pair();
    let text = std::fs::read_to_string(kp).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["privateKeyContainer"]["version"], "A");
    assert_eq!(json["publicKeyContainer"]["version"], "A");
    assert!(
        json["privateKeyContainer"]["privateKey"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    );
    assert!(
        json["publicKeyContainer"]["publicKey"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----\n")
    );
    let container = UserKeyPairContainer::from_json(&text).unwrap();
    assert!(container.check(&Password::new(PASSWORD)).unwrap());
}

#[test]
fn keygen_rsa4096_from_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw.txt");
    // First line only, CRLF stripped, nothing else trimmed.
    std::fs::write(&pw, " spaced pw \r\nsecond line\n").unwrap();
    let kp = dir.path().join("kp4096.json");
    let o = run(&mut cmd(&[
        "keygen",
        "--version",
        "RSA-4096",
        "--out",
        p(&kp),
        "--password-file",
        p(&pw),
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let container =
        UserKeyPairContainer::from_json(&std::fs::read_to_string(&kp).unwrap()).unwrap();
    assert_eq!(container.version().unwrap(), UserKeyPairVersion::Rsa4096);
    assert!(container.check(&Password::new(" spaced pw ")).unwrap());
    let o = run(&mut cmd(&[
        "check-keypair",
        "--keypair",
        p(&kp),
        "--password-file",
        p(&pw),
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn check_keypair_exit_statuses() {
    let (_dir, kp) = key_pair();
    let ok =
        run(cmd(&["check-keypair", "--keypair", p(kp)]).env("DRACOON_CRYPTO_PASSWORD", PASSWORD));
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    let wrong =
        run(cmd(&["check-keypair", "--keypair", p(kp)])
            .env("DRACOON_CRYPTO_PASSWORD", "not-it-123"));
    assert_eq!(wrong.status.code(), Some(1));
    let msg = stderr(&wrong);
    assert!(msg.contains("wrong_password"), "{msg}");
    assert!(
        !msg.contains("not-it-123"),
        "the password must not be printed"
    );
    assert_eq!(msg.lines().count(), 1, "one line on stderr");

    let no_password = run(&mut cmd(&["check-keypair", "--keypair", p(kp)]));
    assert_eq!(
        no_password.status.code(),
        Some(2),
        "{}",
        stderr(&no_password)
    );

    let missing = run(cmd(&["check-keypair", "--keypair", "/nonexistent/kp.json"])
        .env("DRACOON_CRYPTO_PASSWORD", "x"));
    assert_eq!(missing.status.code(), Some(1));

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"privateKeyContainer\": 1}").unwrap();
    let o =
        run(cmd(&["check-keypair", "--keypair", p(&broken)]).env("DRACOON_CRYPTO_PASSWORD", "x"));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("invalid_key_pair"), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["keygen", "--out", "x.json"][..],
        &["keygen", "--version", "B", "--out", "x.json"],
        &["encrypt", "--in", "a"],
        &["frobnicate"],
        &[
            "decrypt",
            "--keypair",
            "k",
            "--file-key",
            "f",
            "--in",
            "i",
            "--out",
            "o",
            "--bogus",
        ],
    ] {
        let o = run(&mut cmd(args));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn encrypt_decrypt_round_trip_and_atomic_failure() {
    let (_kdir, kp) = key_pair();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.bin");
    let data: Vec<u8> = (0..3_000_003u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&plain, &data).unwrap();
    let cipher = dir.path().join("cipher.bin");
    let efk = dir.path().join("efk.json");
    let o = run(&mut cmd(&[
        "encrypt",
        "--public-key",
        p(kp),
        "--in",
        p(&plain),
        "--out",
        p(&cipher),
        "--file-key-out",
        p(&efk),
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let ct = std::fs::read(&cipher).unwrap();
    assert_eq!(
        ct.len(),
        data.len(),
        "GCM keeps the length; the tag is in the file key"
    );
    let key = EncryptedFileKey::from_json(&std::fs::read_to_string(&efk).unwrap()).unwrap();
    assert_eq!(key.version().as_str(), "A");

    let out = dir.path().join("out.bin");
    let o = run(cmd(&[
        "decrypt",
        "--keypair",
        p(kp),
        "--file-key",
        p(&efk),
        "--in",
        p(&cipher),
        "--out",
        p(&out),
    ])
    .env("DRACOON_CRYPTO_PASSWORD", PASSWORD));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), data);

    // Tampered ciphertext: exit 1, the target is untouched, no temporary file remains.
    let mut bad = ct.clone();
    bad[1_500_000] ^= 0x40;
    std::fs::write(&cipher, &bad).unwrap();
    std::fs::write(&out, b"old content").unwrap();
    let fresh = dir.path().join("fresh.bin");
    for target in [&out, &fresh] {
        let o = run(cmd(&[
            "decrypt",
            "--keypair",
            p(kp),
            "--file-key",
            p(&efk),
            "--in",
            p(&cipher),
            "--out",
            p(target),
        ])
        .env("DRACOON_CRYPTO_PASSWORD", PASSWORD));
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("bad_file"), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(&out).unwrap(), b"old content");
    assert!(!fresh.exists(), "no output after a failed decrypt");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn stdin_and_stdout() {
    let (_kdir, kp) = key_pair();
    let dir = tempfile::tempdir().unwrap();
    let efk = dir.path().join("efk.json");
    let data = b"piped through the tool".repeat(1000);

    let mut child = cmd(&[
        "encrypt",
        "--public-key",
        p(kp),
        "--in",
        "-",
        "--out",
        "-",
        "--file-key-out",
        p(&efk),
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let ct = o.stdout;
    assert_eq!(ct.len(), data.len());

    let decrypt = |ct: &[u8]| {
        let mut child = cmd(&[
            "decrypt",
            "--keypair",
            p(kp),
            "--file-key",
            p(&efk),
            "--in",
            "-",
            "--out",
            "-",
        ])
        .env("DRACOON_CRYPTO_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let ct = ct.to_vec();
        let feeder = std::thread::spawn(move || stdin.write_all(&ct));
        let o = child.wait_with_output().unwrap();
        feeder.join().unwrap().unwrap();
        o
    };
    let o = decrypt(&ct);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, data);

    // Streamed to stdout, a bad tag still gives a non-zero exit status.
    let mut bad = ct.clone();
    *bad.last_mut().unwrap() ^= 1;
    let o = decrypt(&bad);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad_file"));
    assert!(o.stdout.is_empty(), "no plaintext before the tag verified");
}

/// CLI.md Guarantees: with `--out -`, a bad tag gives exit 1 and not one byte on stdout, for
/// every kind of input (a file by path, a pipe, stdin redirected from a file, a FIFO by path),
/// even when the damage is in the first block (a streaming decryptor would already have
/// released megabytes).
#[test]
fn a_bad_tag_releases_nothing_on_stdout() {
    let (_kdir, kp) = key_pair();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.bin");
    let data: Vec<u8> = (0..5_000_011u32).map(|i| (i % 239) as u8).collect();
    std::fs::write(&plain, &data).unwrap();
    let cipher = dir.path().join("cipher.bin");
    let efk = dir.path().join("efk.json");
    let o = run(&mut cmd(&[
        "encrypt",
        "--public-key",
        p(kp),
        "--in",
        p(&plain),
        "--out",
        p(&cipher),
        "--file-key-out",
        p(&efk),
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let good = std::fs::read(&cipher).unwrap();

    let decrypt = |input: &str, stdin: Stdio, feed: Option<Vec<u8>>| {
        let mut child = cmd(&[
            "decrypt",
            "--keypair",
            p(kp),
            "--file-key",
            p(&efk),
            "--in",
            input,
            "--out",
            "-",
        ])
        .env("DRACOON_CRYPTO_PASSWORD", PASSWORD)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let feeder = feed.map(|bytes| {
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                // The CLI may stop reading early on some failures; a broken pipe is fine.
                let _ = stdin.write_all(&bytes);
            })
        });
        let o = child.wait_with_output().unwrap();
        if let Some(f) = feeder {
            f.join().unwrap();
        }
        o
    };

    for (what, flip) in [
        ("first byte", 0),
        ("middle", 2_500_000),
        ("last byte", good.len() - 1),
    ] {
        let mut bad = good.clone();
        bad[flip] ^= 0x01;
        std::fs::write(&cipher, &bad).unwrap();
        let fifo = dir.path().join("fifo");
        let _ = std::fs::remove_file(&fifo);
        let fifo_ok = Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        let mut cases = vec![
            ("file by path", decrypt(p(&cipher), Stdio::null(), None)),
            ("pipe", decrypt("-", Stdio::piped(), Some(bad.clone()))),
            (
                "stdin from a file",
                decrypt(
                    "-",
                    Stdio::from(std::fs::File::open(&cipher).unwrap()),
                    None,
                ),
            ),
        ];
        if fifo_ok {
            let writer = {
                let fifo = fifo.clone();
                let bad = bad.clone();
                std::thread::spawn(move || {
                    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                        let _ = f.write_all(&bad);
                    }
                })
            };
            cases.push(("FIFO by path", decrypt(p(&fifo), Stdio::null(), None)));
            writer.join().unwrap();
        }
        for (input, o) in cases {
            assert_eq!(
                o.status.code(),
                Some(1),
                "{input}, flip at {what}: {}",
                stderr(&o)
            );
            assert!(stderr(&o).contains("bad_file"), "{input}: {}", stderr(&o));
            assert!(
                o.stdout.is_empty(),
                "{input}, flip at {what}: {} plaintext bytes reached stdout",
                o.stdout.len()
            );
        }
    }

    // And the intact file, by each route, decrypts in full.
    std::fs::write(&cipher, &good).unwrap();
    for (input, o) in [
        ("file by path", decrypt(p(&cipher), Stdio::null(), None)),
        ("pipe", decrypt("-", Stdio::piped(), Some(good.clone()))),
        (
            "stdin from a file",
            decrypt(
                "-",
                Stdio::from(std::fs::File::open(&cipher).unwrap()),
                None,
            ),
        ),
    ] {
        assert!(o.status.success(), "{input}: {}", stderr(&o));
        assert!(o.stdout == data, "{input}: wrong plaintext");
    }
}

#[test]
fn wrap_and_unwrap_keys() {
    let (_kdir, kp) = key_pair();
    let dir = tempfile::tempdir().unwrap();
    let pfk_in = dir.path().join("pfk_in.json");
    let key = dracoon_crypto::FileEncryptor::new().unwrap().finalize();
    std::fs::write(&pfk_in, key.to_json().as_bytes()).unwrap();
    let efk = dir.path().join("efk.json");
    let o = run(&mut cmd(&[
        "wrap-key",
        "--plain-file-key",
        p(&pfk_in),
        "--public-key",
        p(kp),
        "--out",
        p(&efk),
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let pfk_out = dir.path().join("pfk_out.json");
    let o = run(cmd(&[
        "unwrap-key",
        "--file-key",
        p(&efk),
        "--keypair",
        p(kp),
        "--out",
        p(&pfk_out),
    ])
    .env("DRACOON_CRYPTO_PASSWORD", PASSWORD));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&pfk_out).unwrap();
    assert_eq!(PlainFileKey::from_json(&text).unwrap(), key);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["version"], "A");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&pfk_out).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "a plain file key file is private to its owner"
        );
    }
}

#[test]
fn official_sdk_files_open_with_the_cli() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    // A key pair file from the JavaScript SDK's containers.
    let js = v.join("dco3-crypto/keys/javascript");
    let kp = dir.path().join("kp.json");
    std::fs::write(
        &kp,
        format!(
            r#"{{"privateKeyContainer": {}, "publicKeyContainer": {}}}"#,
            std::fs::read_to_string(js.join("kp_rsa2048/private_key.json")).unwrap(),
            std::fs::read_to_string(js.join("kp_rsa2048/public_key.json")).unwrap()
        ),
    )
    .unwrap();
    let pw = js.join("kp_rsa2048/password.txt");
    let enc = dir.path().join("enc.bin");
    std::fs::write(
        &enc,
        base64_file(&v.join("dco3-crypto/files/javascript/enc_file.b64")),
    )
    .unwrap();
    let out = dir.path().join("plain.bin");
    let o = run(&mut cmd(&[
        "decrypt",
        "--keypair",
        p(&kp),
        "--file-key",
        p(&js.join("fk_rsa2048_aes256gcm/enc_file_key.json")),
        "--in",
        p(&enc),
        "--out",
        p(&out),
        "--password-file",
        p(&pw),
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        base64_file(&v.join("dco3-crypto/files/javascript/plain_file.b64"))
    );

    // The wrong version: RSA-4096 file key with the RSA-2048 key pair.
    let o = run(&mut cmd(&[
        "unwrap-key",
        "--file-key",
        p(&js.join("fk_rsa4096_aes256gcm/enc_file_key.json")),
        "--keypair",
        p(&kp),
        "--out",
        p(&dir.path().join("x.json")),
        "--password-file",
        p(&pw),
    ]));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("version_mismatch"), "{}", stderr(&o));

    // A public key container from the Java SDK as --public-key.
    let java_pub = v.join("java-crypto-sdk/unit/data/kp_rsa4096/public_key.json");
    let pfk = v.join("java-crypto-sdk/unit/data/fk_rsa4096_aes256gcm/plain_file_key.json");
    let efk = dir.path().join("efk.json");
    let o = run(&mut cmd(&[
        "wrap-key",
        "--plain-file-key",
        p(&pfk),
        "--public-key",
        p(&java_pub),
        "--out",
        p(&efk),
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let wrapped = EncryptedFileKey::from_json(&std::fs::read_to_string(&efk).unwrap()).unwrap();
    assert_eq!(wrapped.version().as_str(), "RSA-4096/AES-256-GCM");
    assert_eq!(wrapped.wrapped_key().len(), 512);
}

fn base64_file(path: &Path) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(std::fs::read_to_string(path).unwrap().trim())
        .unwrap()
}

/// Peak RSS of the streaming CLI stays far below 16 MiB: 512 MiB are encrypted from a pipe
/// and decrypted into a pipe.
#[cfg(target_os = "linux")]
#[test]
fn streaming_memory_is_bounded() {
    use std::io::Read;

    /// Waits for the child and returns (success, its peak RSS in KiB), sampling `VmHWM` from
    /// /proc while it runs. (`wait4`'s `ru_maxrss` would not do: `exec` records the high-water
    /// mark of the address space it replaces, which after `vfork`/`posix_spawn` is this test
    /// process's, so the child would be charged with whatever the parallel tests allocate.)
    fn wait_peak(mut child: std::process::Child) -> (bool, u64) {
        let status = format!("/proc/{}/status", child.id());
        let mut peak = 0;
        loop {
            if let Ok(text) = std::fs::read_to_string(&status)
                && let Some(kib) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
            if let Some(exit) = child.try_wait().unwrap() {
                return (exit.success(), peak);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    const LEN: usize = 512 << 20;
    let (_kdir, kp) = key_pair();
    let dir = tempfile::tempdir().unwrap();
    let efk = dir.path().join("efk.json");
    let cipher = dir.path().join("cipher.bin");
    let mut enc = cmd(&[
        "encrypt",
        "--public-key",
        p(kp),
        "--in",
        "-",
        "--out",
        p(&cipher),
        "--file-key-out",
        p(&efk),
    ])
    .stdin(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = enc.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let block = vec![0x5Au8; 1 << 20];
        for _ in 0..LEN / block.len() {
            stdin.write_all(&block).unwrap();
        }
    });
    let (ok, enc_rss) = wait_peak(enc);
    feeder.join().unwrap();
    assert!(ok);
    assert!(enc_rss > 0, "VmHWM was sampled");
    assert_eq!(std::fs::metadata(&cipher).unwrap().len(), LEN as u64);

    let mut dec = cmd(&[
        "decrypt",
        "--keypair",
        p(kp),
        "--file-key",
        p(&efk),
        "--in",
        p(&cipher),
        "--out",
        "-",
    ])
    .env("DRACOON_CRYPTO_PASSWORD", PASSWORD)
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = dec.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut total = 0usize;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = stdout.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&b| b == 0x5A));
            total += n;
        }
        total
    });
    let (ok, dec_rss) = wait_peak(dec);
    let total = reader.join().unwrap();
    assert!(ok);
    assert_eq!(total, LEN);
    println!(
        "peak RSS: encrypt {enc_rss} KiB, decrypt {dec_rss} KiB for {} MiB",
        LEN >> 20
    );
    assert!(
        enc_rss < 16 * 1024 && dec_rss < 16 * 1024,
        "encrypt {enc_rss} KiB, decrypt {dec_rss} KiB"
    );
}

/// CLI.md Guarantees: a progress bar on stderr when stderr is a terminal (a real
/// pseudo-terminal here), nothing when it is a pipe, nothing with `--quiet`; stdout carries only
/// the result either way.
#[cfg(target_os = "linux")]
#[test]
fn progress_bar_only_on_a_terminal() {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use std::io::Read;

    /// Runs `args` with stderr on a fresh pty and returns (status, what the terminal showed).
    fn on_pty(args: &[&str]) -> (std::process::ExitStatus, String) {
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("a pty");
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap();
        let mut child = cmd(args)
            .env("DRACOON_CRYPTO_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(slave))
            .spawn()
            .unwrap();
        let mut master = std::fs::File::from(master);
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            // Reading the master fails with EIO once the last slave is closed.
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&seen).into_owned()
        });
        let status = child.wait().unwrap();
        (status, reader.join().unwrap())
    }

    let (_kdir, kp) = key_pair();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.bin");
    std::fs::write(&plain, vec![7u8; 3 << 20]).unwrap();
    let (cipher, efk, out) = (
        dir.path().join("c.bin"),
        dir.path().join("k.json"),
        dir.path().join("o.bin"),
    );
    let encrypt = [
        "encrypt",
        "--public-key",
        p(kp),
        "--in",
        p(&plain),
        "--out",
        p(&cipher),
        "--file-key-out",
        p(&efk),
    ];
    let (status, shown) = on_pty(&encrypt);
    assert!(status.success(), "{shown}");
    assert!(
        shown.contains("encrypting"),
        "no bar on the terminal: {shown:?}"
    );
    assert!(
        shown.contains("3.00 MiB"),
        "the bar counts bytes: {shown:?}"
    );
    assert!(shown.contains("/s"), "the bar shows a rate: {shown:?}");

    let decrypt = [
        "decrypt",
        "--keypair",
        p(kp),
        "--file-key",
        p(&efk),
        "--in",
        p(&cipher),
        "--out",
        p(&out),
    ];
    let (status, shown) = on_pty(&decrypt);
    assert!(status.success(), "{shown}");
    assert!(
        shown.contains("decrypting"),
        "no bar on the terminal: {shown:?}"
    );

    // --quiet (before or after the subcommand): nothing on the terminal.
    let mut quiet = vec!["--quiet"];
    quiet.extend_from_slice(&decrypt);
    let (status, shown) = on_pty(&quiet);
    assert!(status.success());
    assert!(shown.is_empty(), "--quiet drew {shown:?}");
    let mut quiet = decrypt.to_vec();
    quiet.push("-q");
    let (status, shown) = on_pty(&quiet);
    assert!(status.success());
    assert!(shown.is_empty(), "-q drew {shown:?}");

    // Piped stderr: silent.
    let o = run(cmd(&decrypt).env("DRACOON_CRYPTO_PASSWORD", PASSWORD));
    assert!(o.status.success());
    assert!(o.stderr.is_empty(), "piped stderr got {:?}", stderr(&o));
    let o = run(&mut cmd(&encrypt));
    assert!(o.status.success());
    assert!(o.stderr.is_empty() && o.stdout.is_empty());
}
