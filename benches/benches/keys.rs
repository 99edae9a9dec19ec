//! Key pairs and file keys: key pair generation, private key unlock (PBKDF2 with 1,300,000
//! iterations), and wrapping / unwrapping a file key, per key pair version.
//!
//! * `dracoon-crypto`: this crate's public API (`rsa` 0.10 underneath; our PBKDF2).
//! * `dco3_crypto`: its public API. Its wrap and unwrap take PEM containers and parse the key on
//!   every call; its unlock decrypts with OpenSSL and re-encodes the key as PEM.
//! * `openssl`: OpenSSL's primitives on an already parsed key (`EVP_PKEY_CTX` OAEP with the
//!   version's hashes) and `PKCS5_PBKDF2_HMAC` alone, without the PKCS#8 and PEM around it.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use dco3_crypto::{DracoonCrypto, DracoonRSACrypto};
use dracoon_crypto::{FileEncryptor, Password, UserKeyPair, UserKeyPairVersion};
use dracoon_crypto_benches::{
    DCO3, KeyFixture, OPENSSL, OURS, PASSWORD, VERSIONS, one_call_per_sample, openssl_oaep,
    slow_group,
};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;

/// Iterations of the current private key profile (FORMAT.md §2.4).
const UNLOCK_ITERATIONS: u32 = 1_300_000;

fn keygen(c: &mut Criterion) {
    let mut group = c.benchmark_group("keygen");
    for version in VERSIONS {
        // RSA-4096 generation takes 0.2 to 1.8 s a key and varies widely: enough samples to
        // show the spread, at one key per sample.
        let samples = match version {
            UserKeyPairVersion::Rsa2048 => 40,
            UserKeyPairVersion::Rsa4096 => 25,
        };
        one_call_per_sample(&mut group, samples);
        let label = version.as_str();
        group.bench_function(BenchmarkId::new(OURS, label), |b| {
            b.iter(|| UserKeyPair::generate(version).expect("generate"));
        });
        group.bench_function(BenchmarkId::new(DCO3, label), |b| {
            b.iter(|| {
                DracoonCrypto::create_plain_user_keypair(dracoon_crypto_benches::dco3_version(
                    version,
                ))
                .expect("dco3 generate")
            });
        });
    }
    group.finish();
}

fn unlock(c: &mut Criterion) {
    let fixture = KeyFixture::generate(UserKeyPairVersion::Rsa4096);
    let password = Password::new(PASSWORD);
    let ours = fixture.ours.to_container(&password).expect("encrypt key");
    let dco3 = DracoonCrypto::encrypt_private_key(PASSWORD, fixture.dco3.clone())
        .expect("dco3 encrypt key");
    // Both containers are in the same profile; check that each side opens the other's.
    let theirs_for_us =
        dracoon_crypto::UserKeyPairContainer::from_json(&serde_json::to_string(&dco3).unwrap())
            .expect("dco3 container JSON");
    assert_eq!(
        theirs_for_us.unlock(&password).expect("unlock dco3 key"),
        fixture.ours
    );
    let ours_for_them: dco3_crypto::UserKeyPairContainer =
        serde_json::from_str(&ours.to_json()).expect("our container JSON");
    DracoonCrypto::decrypt_keypair(PASSWORD, ours_for_them).expect("dco3 unlocks our key");

    let mut group = c.benchmark_group("unlock_1300000");
    slow_group(&mut group, 10, Duration::from_secs(4));
    let label = fixture.version.as_str();
    group.bench_function(BenchmarkId::new(OURS, label), |b| {
        b.iter(|| {
            ours.private_key_container
                .unlock(&password)
                .expect("unlock")
        });
    });
    group.bench_function(BenchmarkId::new(DCO3, label), |b| {
        b.iter(|| {
            DracoonCrypto::decrypt_private_key(PASSWORD, &dco3.private_key_container)
                .expect("dco3 unlock")
        });
    });
    group.bench_function(BenchmarkId::new(OPENSSL, label), |b| {
        let salt = [0x5a; 20];
        b.iter(|| {
            let mut key = [0u8; 32];
            openssl::pkcs5::pbkdf2_hmac(
                black_box(PASSWORD.as_bytes()),
                &salt,
                UNLOCK_ITERATIONS as usize,
                MessageDigest::sha1(),
                &mut key,
            )
            .expect("PBKDF2");
            key
        });
    });
    group.finish();
}

fn file_keys(c: &mut Criterion) {
    let fixtures = VERSIONS.map(KeyFixture::generate);
    let plain = FileEncryptor::new().expect("encryptor").finalize();
    let dco3_plain = DracoonCrypto::file_encryptor()
        .and_then(|e| e.finalize())
        .expect("dco3 file key")
        .plain_file_key;

    let mut group = c.benchmark_group("file_key_wrap");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(500));
    for fixture in &fixtures {
        let label = fixture.version.as_str();
        let public = fixture.ours.public_key();
        group.bench_function(BenchmarkId::new(OURS, label), |b| {
            b.iter(|| public.wrap_file_key(black_box(&plain)).expect("wrap"));
        });
        let dco3_public = fixture.dco3.public_key_container.clone();
        group.bench_function(BenchmarkId::new(DCO3, label), |b| {
            b.iter_batched(
                || (dco3_plain.clone(), dco3_public.clone()),
                |(key, public)| DracoonCrypto::encrypt_file_key(key, public).expect("dco3 wrap"),
                BatchSize::SmallInput,
            );
        });
        let evp_public = PKey::public_key_from_der(&fixture.spki_der).expect("SPKI");
        group.bench_function(BenchmarkId::new(OPENSSL, label), |b| {
            b.iter(|| {
                let mut ctx = PkeyCtx::new(&evp_public).expect("EVP_PKEY_CTX");
                ctx.encrypt_init().expect("encrypt init");
                openssl_oaep(&mut ctx, fixture.version);
                let mut out = Vec::new();
                ctx.encrypt_to_vec(black_box(&[7u8; 32]), &mut out)
                    .expect("EVP wrap");
                out
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("file_key_unwrap");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(500));
    for fixture in &fixtures {
        let label = fixture.version.as_str();
        let wrapped = fixture
            .ours
            .public_key()
            .wrap_file_key(&plain)
            .expect("wrap");
        let private = fixture.ours.private_key();
        group.bench_function(BenchmarkId::new(OURS, label), |b| {
            b.iter(|| {
                private
                    .unwrap_file_key(black_box(&wrapped))
                    .expect("unwrap")
            });
        });
        let dco3_wrapped =
            DracoonCrypto::encrypt_file_key(dco3_plain.clone(), fixture.dco3.clone())
                .expect("dco3 wrap");
        group.bench_function(BenchmarkId::new(DCO3, label), |b| {
            b.iter_batched(
                || {
                    (
                        dco3_wrapped.clone(),
                        fixture.dco3.private_key_container.clone(),
                    )
                },
                |(key, private)| {
                    DracoonCrypto::decrypt_file_key(key, private).expect("dco3 unwrap")
                },
                BatchSize::SmallInput,
            );
        });
        let evp_private: &PKey<Private> = &fixture.openssl;
        group.bench_function(BenchmarkId::new(OPENSSL, label), |b| {
            b.iter(|| {
                let mut ctx = PkeyCtx::new(evp_private).expect("EVP_PKEY_CTX");
                ctx.decrypt_init().expect("decrypt init");
                openssl_oaep(&mut ctx, fixture.version);
                let mut out = Vec::new();
                ctx.decrypt_to_vec(black_box(wrapped.wrapped_key()), &mut out)
                    .expect("EVP unwrap");
                out
            });
        });
    }
    group.finish();
}

criterion_group!(benches, keygen, unlock, file_keys);
criterion_main!(benches);
