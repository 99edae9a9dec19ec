//! CPU-heavy work in workflows never blocks an async executor (issue "Hardening, round 2",
//! item 3): on a current-thread tokio runtime, a ticker task keeps ticking while a key-ring
//! unlock (PBKDF2, 1,300,000 iterations) and a distribution with RSA-4096 keys run through
//! `ReqwestTransport` against the in-process server. Without `Transport::offload`, the unlock
//! alone stalls the runtime for hundreds of milliseconds.
//!
//! The bound (50 ms) is on the largest gap between ticks, not on how long anything takes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dracoon_crypto::transport::{Client, MissingKeysFilter, ReqwestTransport};
use dracoon_crypto::{Password, UserKeyPair, UserKeyPairVersion, encrypt_bytes};
use dracoon_crypto_testkit::TestServer;

#[test]
fn a_ticker_keeps_ticking_during_unlock_and_distribution() {
    // Set-up, before the runtime exists: two RSA-4096 users in an encrypted room, 40 files
    // whose keys only alice has.
    let pairs: Vec<UserKeyPair> = (0..2)
        .map(|_| std::thread::spawn(|| UserKeyPair::generate(UserKeyPairVersion::Rsa4096)))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    let password = Password::new("ticker-Pa55");
    let server = TestServer::start().unwrap();
    let alice = server.create_user("alice");
    let bob = server.create_user("bob");
    // The real profile (1,300,000 iterations) for alice: her unlock is the heavy part.
    server.add_user_key_pair(
        alice.id,
        pairs[0].to_container(&password).unwrap(),
        &pairs[0],
    );
    server.add_user_key_pair(
        bob.id,
        pairs[1]
            .hazmat_to_container_with_iterations(&Password::new("bob"), 1000)
            .unwrap(),
        &pairs[1],
    );
    let room = server.create_room("Ticks", true, &[alice.id, bob.id]);
    for i in 0..40 {
        let (ct, key) = encrypt_bytes(format!("file {i}").as_bytes()).unwrap();
        let for_alice = pairs[0].public_key().wrap_file_key(&key).unwrap();
        server.put_file(
            room,
            &format!("f{i}.txt"),
            ct,
            &key,
            &[(alice.id, for_alice)],
        );
    }
    assert_eq!(server.missing_keys().len(), 40);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (max_gap, ticks) = rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let ticker = tokio::spawn(async move {
            let mut last = Instant::now();
            let (mut max, mut n) = (Duration::ZERO, 0u32);
            while !s.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let now = Instant::now();
                max = max.max(now - last);
                last = now;
                n += 1;
            }
            (max, n)
        });
        // Let the ticker start.
        tokio::time::sleep(Duration::from_millis(20)).await;

        let client = Client::new(ReqwestTransport::new().unwrap(), &server.base_url())
            .unwrap()
            .with_auth_token(&alice.token);
        let ring = client.key_ring(&password, None, None).await.unwrap();
        let report = client
            .distribute_missing_keys(&ring, &MissingKeysFilter::new())
            .await
            .unwrap();
        assert_eq!(report.distributed, 40);

        stop.store(true, Ordering::Relaxed);
        ticker.await.unwrap()
    });
    assert!(server.missing_keys().is_empty());
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    assert!(ticks > 10, "the ticker ran {ticks} times");
    assert!(
        max_gap < Duration::from_millis(50),
        "the runtime was blocked for {max_gap:?}"
    );
}
