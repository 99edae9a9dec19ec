//! Evaluation of a faster RSA backend for version `RSA-4096` (OAEP with SHA-256 and
//! MGF1-SHA-256): `rsa` 0.10 (what this crate uses, measured through its API) against AWS-LC
//! (`aws-lc-rs`) and OpenSSL on the same key.
//!
//! Version `A` (OAEP SHA-256 with MGF1-SHA-1) is not here: `aws-lc-rs` offers only OAEP with
//! matching hashes, so `A` stays on `rsa` whatever this shows.
//!
//! Groups: unwrap and wrap of a 32-byte file key; importing the private key into AWS-LC from
//! PKCS#8 DER (what switching backends would add to every private key load); key generation.

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dracoon_crypto::{FileEncryptor, UserKeyPair, UserKeyPairVersion};
use dracoon_crypto_benches::{
    AWS_LC, KeyFixture, OPENSSL, OURS, one_call_per_sample, openssl_oaep,
};
use openssl::pkey::PKey;
use openssl::pkey_ctx::PkeyCtx;

const LABEL: &str = "RSA-4096";

fn aws_lc_keys(fixture: &KeyFixture) -> (OaepPrivateDecryptingKey, OaepPublicEncryptingKey) {
    let private = PrivateDecryptingKey::from_pkcs8(&fixture.pkcs8_der).expect("AWS-LC PKCS#8");
    let public = PublicEncryptingKey::from_der(&fixture.spki_der).expect("AWS-LC SPKI");
    (
        OaepPrivateDecryptingKey::new(private).expect("AWS-LC OAEP key"),
        OaepPublicEncryptingKey::new(public).expect("AWS-LC OAEP public key"),
    )
}

fn wrap_unwrap(c: &mut Criterion) {
    let fixture = KeyFixture::generate(UserKeyPairVersion::Rsa4096);
    let (aws_private, aws_public) = aws_lc_keys(&fixture);
    let plain = FileEncryptor::new().expect("encryptor").finalize();
    let wrapped = fixture
        .ours
        .public_key()
        .wrap_file_key(&plain)
        .expect("wrap");
    let ct = wrapped.wrapped_key();

    // AWS-LC must open what this crate wraps, and the other way round.
    let mut out = [0u8; 512];
    let opened = aws_private
        .decrypt(&OAEP_SHA256_MGF1SHA256, ct, &mut out, None)
        .expect("AWS-LC unwraps ours");
    assert_eq!(opened.len(), 32);
    let mut theirs = [0u8; 512];
    let theirs = aws_public
        .encrypt(&OAEP_SHA256_MGF1SHA256, opened, &mut theirs, None)
        .expect("AWS-LC wrap")
        .to_vec();
    let json = wrapped.to_json().replace(
        &openssl::base64::encode_block(ct),
        &openssl::base64::encode_block(&theirs),
    );
    let theirs_wrapped = dracoon_crypto::EncryptedFileKey::from_json(&json).expect("JSON");
    assert_eq!(
        fixture
            .ours
            .private_key()
            .unwrap_file_key(&theirs_wrapped)
            .expect("ours unwraps AWS-LC's"),
        plain
    );

    let evp_public = PKey::public_key_from_der(&fixture.spki_der).expect("SPKI");
    let mut group = c.benchmark_group("rsa4096_backend_unwrap");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(500));
    let private = fixture.ours.private_key();
    group.bench_function(BenchmarkId::new(OURS, LABEL), |b| {
        b.iter(|| {
            private
                .unwrap_file_key(black_box(&wrapped))
                .expect("unwrap")
        });
    });
    group.bench_function(BenchmarkId::new(AWS_LC, LABEL), |b| {
        b.iter(|| {
            let mut out = [0u8; 512];
            let n = aws_private
                .decrypt(&OAEP_SHA256_MGF1SHA256, black_box(ct), &mut out, None)
                .expect("AWS-LC unwrap")
                .len();
            (out, n)
        });
    });
    group.bench_function(BenchmarkId::new(OPENSSL, LABEL), |b| {
        b.iter(|| {
            let mut ctx = PkeyCtx::new(&fixture.openssl).expect("EVP_PKEY_CTX");
            ctx.decrypt_init().expect("decrypt init");
            openssl_oaep(&mut ctx, UserKeyPairVersion::Rsa4096);
            let mut out = Vec::new();
            ctx.decrypt_to_vec(black_box(ct), &mut out)
                .expect("EVP unwrap");
            out
        });
    });
    group.finish();

    let mut group = c.benchmark_group("rsa4096_backend_wrap");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(500));
    let public = fixture.ours.public_key();
    group.bench_function(BenchmarkId::new(OURS, LABEL), |b| {
        b.iter(|| public.wrap_file_key(black_box(&plain)).expect("wrap"));
    });
    group.bench_function(BenchmarkId::new(AWS_LC, LABEL), |b| {
        b.iter(|| {
            let mut out = [0u8; 512];
            let n = aws_public
                .encrypt(
                    &OAEP_SHA256_MGF1SHA256,
                    black_box(&[7u8; 32]),
                    &mut out,
                    None,
                )
                .expect("AWS-LC wrap")
                .len();
            (out, n)
        });
    });
    group.bench_function(BenchmarkId::new(OPENSSL, LABEL), |b| {
        b.iter(|| {
            let mut ctx = PkeyCtx::new(&evp_public).expect("EVP_PKEY_CTX");
            ctx.encrypt_init().expect("encrypt init");
            openssl_oaep(&mut ctx, UserKeyPairVersion::Rsa4096);
            let mut out = Vec::new();
            ctx.encrypt_to_vec(black_box(&[7u8; 32]), &mut out)
                .expect("EVP wrap");
            out
        });
    });
    group.finish();

    // What a backend switch adds where a private key is loaded: AWS-LC parses PKCS#8 and
    // checks the key. (This crate's own load is part of its unlock, dominated by PBKDF2.)
    let mut group = c.benchmark_group("rsa4096_backend_import");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(500));
    group.bench_function(BenchmarkId::new(AWS_LC, LABEL), |b| {
        b.iter(|| {
            let key = PrivateDecryptingKey::from_pkcs8(black_box(&fixture.pkcs8_der))
                .expect("AWS-LC PKCS#8");
            OaepPrivateDecryptingKey::new(key).expect("AWS-LC OAEP key")
        });
    });
    group.bench_function(BenchmarkId::new(OPENSSL, LABEL), |b| {
        b.iter(|| PKey::private_key_from_pkcs8(black_box(&fixture.pkcs8_der)).expect("PKCS#8"));
    });
    group.finish();
}

fn keygen(c: &mut Criterion) {
    let mut group = c.benchmark_group("rsa4096_backend_keygen");
    one_call_per_sample(&mut group, 25);
    group.bench_function(BenchmarkId::new(OURS, LABEL), |b| {
        b.iter(|| UserKeyPair::generate(UserKeyPairVersion::Rsa4096).expect("generate"));
    });
    group.bench_function(BenchmarkId::new(AWS_LC, LABEL), |b| {
        b.iter(|| PrivateDecryptingKey::generate(KeySize::Rsa4096).expect("AWS-LC generate"));
    });
    group.finish();
}

criterion_group!(benches, wrap_unwrap, keygen);
criterion_main!(benches);
