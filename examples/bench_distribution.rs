//! Benchmark: distributing 10,000 missing (file, user) pairs against the in-process DRACOON
//! test server (2,500 files x 4 target users, RSA-4096 key pairs), through the blocking reqwest
//! adapter, and how much of that time is RSA.
//!
//! ```text
//! cargo run --release --example bench_distribution [-- --files N] [-- --targets M] [-- --rsa2048]
//! ```
//!
//! The server's own RSA checks of the distributed keys are switched off so that only the
//! client's work is measured. The RSA share is measured separately: the same unwraps (one per
//! file) and wraps (one per pair) on the same number of threads, without any HTTP.

use std::time::Instant;

use dracoon_crypto::transport::{
    Blocking, BlockingReqwestTransport, Client, KeyRing, MissingKeysFilter, block_on,
};
use dracoon_crypto::{Password, UserKeyPair, UserKeyPairVersion, encrypt_bytes};
use dracoon_crypto_testkit::TestServer;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn par<T: Sync, O: Send>(items: &[T], f: impl Fn(&T) -> O + Sync) -> Vec<O> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn main() -> Res<()> {
    let mut files = 2_500usize;
    let mut targets = 4usize;
    let mut version = UserKeyPairVersion::Rsa4096;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--files" => files = args.next().ok_or("--files N")?.parse()?,
            "--targets" => targets = args.next().ok_or("--targets M")?.parse()?,
            "--rsa2048" => version = UserKeyPairVersion::Rsa2048,
            "--bench" => {} // passed by `cargo bench`-style runners
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let pairs_total = files * targets;
    println!(
        "Distribution of {pairs_total} missing (file, user) pairs: {files} files x {targets} users, {} key pairs, {} threads",
        version,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let server = TestServer::start()?;
    server.set_key_checks(false);
    let t = Instant::now();
    let spawned: Vec<_> = (0..=targets)
        .map(|_| std::thread::spawn(move || UserKeyPair::generate(version)))
        .collect();
    let mut keys = Vec::new();
    for h in spawned {
        keys.push(h.join().map_err(|_| "keygen panicked")??);
    }
    let password = Password::new("bench");
    let mut users = Vec::new();
    for (i, kp) in keys.iter().enumerate() {
        let u = server.create_user(&format!("user{i}"));
        let c = kp.hazmat_to_container_with_iterations(&password, 1000)?;
        server.add_user_key_pair(u.id, c, kp);
        users.push(u);
    }
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let room = server.create_room("Bench", true, &ids);
    let placed: Vec<_> = par(&(0..files).collect::<Vec<_>>(), |i| {
        let (ct, key) = encrypt_bytes(format!("file {i}").as_bytes()).ok()?;
        let mine = keys[0].public_key().wrap_file_key(&key).ok()?;
        Some((ct, key, mine))
    });
    let mut plain_keys = Vec::new();
    for (i, p) in placed.into_iter().enumerate() {
        let (ct, key, mine) = p.ok_or("setup failed")?;
        let fid = server.put_file(
            room,
            &format!("f{i}"),
            ct.clone(),
            &key,
            &[(ids[0], mine.clone())],
        );
        plain_keys.push((fid, mine));
    }
    println!(
        "   setup (key pairs, {files} files) in {:.1} s; missing pairs: {}",
        t.elapsed().as_secs_f64(),
        server.missing_keys().len()
    );

    let client = Client::new(
        Blocking(BlockingReqwestTransport::new()?),
        &server.base_url(),
    )?
    .with_auth_token(&users[0].token);
    let ring = KeyRing::new(vec![keys[0].clone()]);
    let t = Instant::now();
    let report = block_on(client.distribute_missing_keys(&ring, &MissingKeysFilter::new()))?;
    let total = t.elapsed().as_secs_f64();
    if report.distributed as usize != pairs_total || !server.missing_keys().is_empty() {
        return Err(format!("incomplete: {report:?}").into());
    }
    println!(
        "   distributed {} pairs ({} keys) with {} list requests in {:.2} s: {:.0} pairs/s",
        report.distributed,
        report.keys_set,
        report.list_requests,
        total,
        report.distributed as f64 / total
    );

    // The same RSA work alone: one unwrap per file, one wrap per pair.
    let t = Instant::now();
    let unwrapped = par(&plain_keys, |(_, efk)| {
        keys[0].private_key().unwrap_file_key(efk).ok()
    });
    let unwrap_s = t.elapsed().as_secs_f64();
    let jobs: Vec<(usize, usize)> = (0..files)
        .flat_map(|f| (1..=targets).map(move |u| (f, u)))
        .collect();
    let t = Instant::now();
    let wrapped = par(&jobs, |(f, u)| {
        unwrapped[*f]
            .as_ref()
            .and_then(|k| keys[*u].public_key().wrap_file_key(k).ok())
    });
    let wrap_s = t.elapsed().as_secs_f64();
    if wrapped.iter().any(Option::is_none) {
        return Err("RSA re-run failed".into());
    }
    let rsa = unwrap_s + wrap_s;
    println!(
        "   RSA alone: {files} unwraps {unwrap_s:.2} s + {pairs_total} wraps {wrap_s:.2} s = {rsa:.2} s, i.e. {:.0}% of the distribution time",
        100.0 * rsa / total
    );
    Ok(())
}
