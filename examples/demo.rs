//! The main job, end to end: a key pair, a sizeable file encrypted in a stream, its file key
//! wrapped and unwrapped, the file decrypted and verified, with throughput figures.
//!
//! ```text
//! cargo run --release --example demo [-- --offline] [-- --size-mib N]
//! ```

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::time::Instant;

use dracoon_crypto::{
    EncryptedFileKey, Password, UserKeyPair, UserKeyPairContainer, UserKeyPairVersion,
    decrypt_file, encrypt_file,
};
use sha2::{Digest, Sha256};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Options from the command line.
struct Options {
    size_mib: u64,
}

fn options() -> Res<Options> {
    let mut size_mib = 256;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--offline" => {}
            "--size-mib" => {
                size_mib = args.next().ok_or("--size-mib needs a number")?.parse()?;
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(Options { size_mib })
}

fn main() -> Res<()> {
    let opts = options()?;
    offline_demo(&opts)
}

fn mib_per_s(bytes: u64, since: Instant) -> f64 {
    bytes as f64 / (1 << 20) as f64 / since.elapsed().as_secs_f64()
}

/// Writes `len` bytes of generated content to `path` and returns their SHA-256.
fn generate_file(path: &Path, len: u64) -> Res<[u8; 32]> {
    let mut out = io::BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut hash = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut left = len;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            state ^= state << 7;
            state ^= state >> 9;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n])?;
        hash.update(&block[..n]);
        left -= n as u64;
    }
    out.flush()?;
    Ok(hash.finalize().into())
}

fn sha256_file(path: &Path) -> Res<[u8; 32]> {
    let mut input = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hash.finalize().into())
}

/// Key pair, streaming encryption, key wrapping, decryption, all on this machine.
fn offline_demo(opts: &Options) -> Res<()> {
    let dir = tempfile::tempdir()?;
    let password = Password::new("Correct horse battery staple ✓");

    println!("1. Key pair (RSA-4096), private key encrypted with the password");
    let t = Instant::now();
    let key_pair = UserKeyPair::generate(UserKeyPairVersion::Rsa4096)?;
    println!("   generated in {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let container: UserKeyPairContainer = key_pair.to_container(&password)?;
    println!(
        "   encrypted (PBES2, PBKDF2-HMAC-SHA1 x 1,300,000, AES-256-CBC) in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let json = container.to_json();
    let t = Instant::now();
    let unlocked = UserKeyPairContainer::from_json(&json)?.unlock(&password)?;
    println!(
        "   unlocked again from its JSON in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let size = opts.size_mib << 20;
    println!("2. A {} MiB file, generated", opts.size_mib);
    let plain = dir.path().join("plain.bin");
    let digest = generate_file(&plain, size)?;

    println!("3. Streaming AES-256-GCM encryption under a fresh file key");
    let cipher = dir.path().join("cipher.bin");
    let t = Instant::now();
    let file_key = encrypt_file(&plain, &cipher)?;
    println!("   {:.0} MiB/s (file to file)", mib_per_s(size, t));

    println!("4. File key wrapped for the key pair (RSA-OAEP SHA-256/MGF1-SHA-256)");
    let wrapped: EncryptedFileKey = key_pair.public_key().wrap_file_key(&file_key)?;
    println!("   {}", &wrapped.to_json()[..72]);
    drop(file_key);

    println!("5. Unwrapped with the unlocked private key; file decrypted and verified");
    let t = Instant::now();
    let key = unlocked
        .private_key()
        .unwrap_file_key(&EncryptedFileKey::from_json(&wrapped.to_json())?)?;
    println!("   unwrap: {:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
    let out = dir.path().join("decrypted.bin");
    let t = Instant::now();
    decrypt_file(&cipher, &out, &key)?;
    println!(
        "   {:.0} MiB/s (file to file, tag verified before the file appeared)",
        mib_per_s(size, t)
    );
    let same = sha256_file(&out)? == digest;
    println!("   SHA-256 of the decrypted file matches the original: {same}");
    if !same {
        return Err("decrypted content differs".into());
    }
    Ok(())
}
