//! Whole-process race of our CLI against the peer's CLI equivalent (`dco3-cli`, on
//! `dco3_crypto` / OpenSSL), run alternately on the same files, so anyone can repeat the
//! figures in benches/README.md:
//!
//! ```text
//! cargo build --release --features cli
//! cargo build --release -p dracoon-crypto-benches --bin dco3-cli --bin cli-race
//! target/release/cli-race [--size-mib 2048] [--rounds 5] [--dir DIR]
//! ```
//!
//! Cases: `encrypt --out -`, `decrypt --out -` (ours: verify, then decrypt: two passes),
//! `decrypt --out FILE` (ours: one pass into a temporary file, fsync, rename) and the decrypt
//! of a 16-byte file (key unlock and file key unwrap only). Standard output goes to /dev/null.
//! Reported: the median wall time of each side, their ratio (ours / peer; below 1 = ours is
//! faster) and the peak RSS (`VmHWM`, sampled every millisecond).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "race-Pa55word!";

struct Opts {
    size_mib: u64,
    rounds: usize,
    dir: PathBuf,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    Opts {
        size_mib: get("--size-mib")
            .and_then(|v| v.parse().ok())
            .unwrap_or(2048),
        rounds: get("--rounds").and_then(|v| v.parse().ok()).unwrap_or(5),
        dir: get("--dir").map_or_else(
            || std::env::temp_dir().join("dracoon-cli-race"),
            PathBuf::from,
        ),
    }
}

/// Runs `cmd` to completion: (wall time, peak RSS in KiB). Panics on failure.
fn timed(mut cmd: Command, what: &str) -> (Duration, u64) {
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let elapsed = start.elapsed();
    assert!(status.success(), "{what} failed: {status}");
    (elapsed, peak)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn devnull() -> Stdio {
    Stdio::from(File::create("/dev/null").expect("/dev/null"))
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    /// Standard output to /dev/null (else the output is a file).
    to_null: bool,
}

fn main() {
    let o = opts();
    let bin_dir = std::env::current_exe()
        .expect("current exe")
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let ours = bin_dir.join("dracoon-crypto");
    let peer = bin_dir.join("dco3-cli");
    for b in [&ours, &peer] {
        assert!(
            b.is_file(),
            "{} is missing: build it first (see the module docs)",
            b.display()
        );
    }
    std::fs::create_dir_all(&o.dir).expect("work dir");
    let d = {
        let dir = o.dir.clone();
        move |name: &str| dir.join(name).to_string_lossy().into_owned()
    };

    // One key pair (ours, RSA-4096, the current PBKDF2 profile), one plaintext, one ciphertext.
    let mut keygen = Command::new(&ours);
    keygen
        .args(["keygen", "--version", "RSA-4096", "--out", &d("kp.json")])
        .env("DRACOON_CRYPTO_PASSWORD", PASSWORD);
    timed(keygen, "keygen");
    let size = o.size_mib << 20;
    {
        let mut f = File::create(d("plain.bin")).expect("plain file");
        let block: Vec<u8> = (0..1u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        for _ in 0..o.size_mib {
            f.write_all(&block).expect("write plain");
        }
        std::fs::write(d("small.bin"), b"sixteen bytes!!!").expect("small file");
    }
    for (input, out, key) in [
        ("plain.bin", "cipher.bin", "efk.json"),
        ("small.bin", "small.enc", "small.json"),
    ] {
        let mut c = Command::new(&ours);
        c.args([
            "encrypt",
            "--public-key",
            &d("kp.json"),
            "--in",
            &d(input),
            "--out",
            &d(out),
            "--file-key-out",
            &d(key),
        ]);
        timed(c, "encrypt fixture");
    }
    // Interop check: the peer decrypts our file, we decrypt the peer's.
    let mut c = Command::new(&peer);
    c.args([
        "decrypt",
        "--keypair",
        &d("kp.json"),
        "--file-key",
        &d("small.json"),
        "--in",
        &d("small.enc"),
        "--out",
        &d("small.peer"),
    ])
    .env("DRACOON_CRYPTO_PASSWORD", PASSWORD);
    timed(c, "peer decrypts ours");
    assert_eq!(
        std::fs::read(d("small.peer")).ok().as_deref(),
        Some(&b"sixteen bytes!!!"[..])
    );

    let args = |v: &[&str]| -> Vec<String> {
        v.iter()
            .map(|a| match a.strip_prefix('@') {
                Some(file) => d(file),
                None => (*a).to_owned(),
            })
            .collect()
    };
    let cases = vec![
        Case {
            name: "encrypt --out -",
            args: args(&[
                "encrypt",
                "--public-key",
                "@kp.json",
                "--in",
                "@plain.bin",
                "--out",
                "-",
                "--file-key-out",
                "@race.json",
            ]),
            to_null: true,
        },
        Case {
            name: "decrypt --out -",
            args: args(&[
                "decrypt",
                "--keypair",
                "@kp.json",
                "--file-key",
                "@efk.json",
                "--in",
                "@cipher.bin",
                "--out",
                "-",
            ]),
            to_null: true,
        },
        Case {
            name: "decrypt --out FILE",
            args: args(&[
                "decrypt",
                "--keypair",
                "@kp.json",
                "--file-key",
                "@efk.json",
                "--in",
                "@cipher.bin",
                "--out",
                "@out.bin",
            ]),
            to_null: false,
        },
        Case {
            name: "decrypt 16 B (unlock + unwrap)",
            args: args(&[
                "decrypt",
                "--keypair",
                "@kp.json",
                "--file-key",
                "@small.json",
                "--in",
                "@small.enc",
                "--out",
                "-",
            ]),
            to_null: true,
        },
    ];

    println!(
        "cli-race: {} MiB, {} rounds, alternating; ours = {}, peer = {}",
        o.size_mib,
        o.rounds,
        ours.display(),
        peer.display()
    );
    println!();
    println!(
        "| case | ours (median) | peer (median) | ratio ours/peer | peak RSS ours | peak RSS peer |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for case in &cases {
        let mut times = [Vec::new(), Vec::new()];
        let mut rss = [0u64, 0u64];
        for round in 0..o.rounds + 1 {
            // Alternate which side goes first; round 0 warms the page cache and is dropped.
            let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for side in order {
                let _ = std::fs::remove_file(d("out.bin"));
                let mut c = Command::new(if side == 0 { &ours } else { &peer });
                c.args(&case.args).env("DRACOON_CRYPTO_PASSWORD", PASSWORD);
                if case.to_null {
                    c.stdout(devnull());
                }
                let (t, r) = timed(c, case.name);
                if round > 0 {
                    times[side].push(t);
                    rss[side] = rss[side].max(r);
                }
            }
        }
        let [a, b] = times;
        let (ma, mb) = (median(a), median(b));
        println!(
            "| `{}` | {:.3} s | {:.3} s | {:.2} | {:.1} MiB | {:.1} MiB |",
            case.name,
            ma.as_secs_f64(),
            mb.as_secs_f64(),
            ma.as_secs_f64() / mb.as_secs_f64(),
            rss[0] as f64 / 1024.0,
            rss[1] as f64 / 1024.0
        );
    }
    let _ = size;
    let _ = std::fs::remove_dir_all(&o.dir);
}
