//! The main job, end to end.
//!
//! By default, the networked story against the in-process DRACOON test server on 127.0.0.1:
//! key pairs for three users, an encrypted chunked upload by one of them, missing-file-key
//! distribution to the other two, and a download and decryption by another user, with a short
//! summary. With `--offline`: a key pair, a sizeable file encrypted in a stream, its file key
//! wrapped and unwrapped, the file decrypted and verified, with throughput figures.
//!
//! ```text
//! cargo run --release --example demo [-- --offline] [-- --size-mib N]
//! RUST_LOG=dracoon_crypto=debug cargo run --release --example demo   # with the workflows' traces
//! ```
//!
//! With `RUST_LOG` set, the crate's `tracing` spans and events (feature `tracing`: one span per
//! workflow and per request, with the step, status and bytes; never a URL or secret) go to
//! stderr through `tracing-subscriber`.

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
    offline: bool,
}

fn options() -> Res<Options> {
    let mut size_mib = 256;
    let mut offline = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--offline" => offline = true,
            "--size-mib" => {
                size_mib = args.next().ok_or("--size-mib needs a number")?.parse()?;
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(Options { size_mib, offline })
}

fn main() -> Res<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(io::stderr)
            .init();
    }
    let opts = options()?;
    if opts.offline {
        offline_demo(&opts)
    } else {
        networked_demo(&opts)
    }
}

/// Three users, an encrypted room, an upload, missing-key distribution, a download by another
/// user: through the real HTTP adapters against the in-process server.
fn networked_demo(opts: &Options) -> Res<()> {
    use dracoon_crypto::transport::{
        Blocking, BlockingReqwestTransport, Client, DownloadOptions, MissingKeysFilter,
        ReqwestTransport, UploadOptions, block_on,
    };
    use dracoon_crypto_testkit::TestServer;

    let started = Instant::now();
    let server = TestServer::start()?;
    println!("In-process DRACOON test server at {}", server.base_url());

    println!("1. Key pairs (RSA-4096) for Alice, Bob and Carol, each under its own password");
    let t = Instant::now();
    let names = ["alice", "bob", "carol"];
    let generated: Vec<_> = names
        .iter()
        .map(|_| std::thread::spawn(|| UserKeyPair::generate(UserKeyPairVersion::Rsa4096)))
        .collect();
    let mut users = Vec::new();
    for (name, handle) in names.iter().zip(generated) {
        let pair = handle.join().map_err(|_| "key generation panicked")??;
        let password = Password::new(format!("{name}'s passphrase ✓"));
        let user = server.create_user(name);
        server.add_user_key_pair(user.id, pair.to_container(&password)?, &pair);
        users.push((user, password));
    }
    println!(
        "   generated and registered in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let ids: Vec<i64> = users.iter().map(|(u, _)| u.id).collect();
    let room = server.create_room("Board", true, &ids);
    println!("   encrypted room \"Board\" (id {room}) with all three as members");

    let size = opts.size_mib << 20;
    let dir = tempfile::tempdir()?;
    let plain = dir.path().join("quarterly.bin");
    let digest = generate_file(&plain, size)?;
    let base = server.base_url();

    println!(
        "2. Alice uploads a {} MiB file, encrypted on the fly in 8 MiB chunks (async adapter)",
        opts.size_mib
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let alice = Client::new(ReqwestTransport::new()?, &base)?.with_auth_token(&users[0].0.token);
    let mut t = Instant::now();
    let (node, alice_keys) = rt.block_on(async {
        // Alice's key pair comes from the server; she unlocks it once.
        let keys = alice.key_ring(&users[0].1, None, None).await?;
        let public = keys
            .preferred_public_key()
            .ok_or("Alice has no key pair")?
            .clone();
        let options = UploadOptions::new(room, "quarterly.bin").size(size);
        // Read straight into the chunk buffers (a smaller `BufReader` would copy twice).
        let source = File::open(&plain)?;
        t = Instant::now();
        let uploaded = alice.upload(source, &public, &options, &mut |_| {}).await?;
        Ok::<_, Box<dyn std::error::Error>>((uploaded.node, keys))
    })?;
    println!(
        "   node {} created; {:.0} MiB/s including encryption",
        node.id,
        mib_per_s(size, t)
    );
    let missing = server.missing_keys().len();
    println!("   {missing} (file, user) pairs now miss a file key: Bob's and Carol's");

    println!("3. Alice distributes the missing file keys");
    let t = Instant::now();
    let report =
        rt.block_on(alice.distribute_missing_keys(&alice_keys, &MissingKeysFilter::new()))?;
    println!(
        "   {} distributed, {} skipped, in {:.0} ms; {} still missing",
        report.distributed,
        report.skipped.len(),
        t.elapsed().as_secs_f64() * 1000.0,
        server.missing_keys().len()
    );
    drop(rt);

    println!("4. Bob downloads and decrypts it (blocking adapter); the tag is verified first");
    let bob = Client::new(Blocking(BlockingReqwestTransport::new()?), &base)?
        .with_auth_token(&users[1].0.token);
    let bob_keys = block_on(bob.key_ring(&users[1].1, None, None))?;
    let t = Instant::now();
    let out = dir.path().join("bob.bin");
    block_on(bob.download_to_path(
        node.id,
        &bob_keys,
        &out,
        &DownloadOptions::default(),
        &mut |_| {},
    ))?;
    println!("   {:.0} MiB/s including decryption", mib_per_s(size, t));
    let same = sha256_file(&out)? == digest;

    let violations = server.violations();
    println!("Summary");
    println!(
        "   users: 3, room: 1, file: {} MiB, keys distributed: {}",
        opts.size_mib, report.distributed
    );
    println!("   Bob's plaintext equals Alice's (SHA-256): {same}");
    println!(
        "   server-side checks (every key unwraps to the file key, no token where it must not go): {} violations",
        violations.len()
    );
    println!(
        "   HTTP requests: {}, total time {:.1} s",
        server.requests().len(),
        started.elapsed().as_secs_f64()
    );
    if !same || !violations.is_empty() || report.distributed != 2 {
        return Err(format!("demo failed: {violations:?}").into());
    }
    Ok(())
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
