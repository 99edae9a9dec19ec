//! AES-256-GCM file content encryption: streaming at several update sizes, and one-shot.
//!
//! Streaming: one file of `STREAM_TOTAL` bytes per iteration, fed in updates of one size
//! through one buffer that is reused for every update (as a program that reads a file in chunks
//! does), then finalized. The file key (and for `dco3_crypto`'s decryptor, the RSA unwrap that
//! its API performs when it is created) is prepared outside the timed part; everything from the
//! first update to the tag is timed.
//!
//! * `dracoon-crypto`: `FileEncryptor` / `FileDecryptor::update_in_place`, then `finalize`.
//! * `dco3_crypto`: `FileEncryptor` / `FileDecryptor::update(&[u8]) -> Vec<u8>` (its API
//!   allocates and returns a new vector per update), then `finalize`.
//! * `openssl`: `EVP_CipherUpdate` in place on the same buffer (`CipherCtx`), then
//!   `EVP_CipherFinal` and the tag: OpenSSL's best case.
//!
//! Decryption runs over the same buffer again and again, so the tag does not verify at the end;
//! checking a tag costs the same whether it matches or not, and every implementation gets the
//! same treatment.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dco3_crypto::{DracoonCrypto, DracoonRSACrypto, FileKey};
use dracoon_crypto::{FileDecryptor, FileEncryptor, decrypt_bytes, encrypt_bytes};
use dracoon_crypto_benches::{
    DCO3, KIB, KeyFixture, MIB, OPENSSL, OURS, pattern, size_label, slow_group,
};
use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;

/// Bytes per streamed file (one iteration).
const STREAM_TOTAL: usize = 256 * MIB;
/// Update sizes of the streaming groups.
const UPDATE_SIZES: [usize; 4] = [4 * KIB, 64 * KIB, MIB, 64 * MIB];
/// Buffer sizes of the one-shot groups.
const ONE_SHOT_SIZES: [usize; 2] = [MIB, 64 * MIB];

fn random_key_iv() -> ([u8; 32], [u8; 12]) {
    let mut key = [0u8; 32];
    let mut iv = [0u8; 12];
    openssl::rand::rand_bytes(&mut key).expect("random key");
    openssl::rand::rand_bytes(&mut iv).expect("random IV");
    (key, iv)
}

fn evp_stream(encrypt: bool, buf: &mut [u8], updates: usize) -> [u8; 16] {
    let (key, iv) = random_key_iv();
    let mut ctx = CipherCtx::new().expect("EVP_CIPHER_CTX");
    let cipher = Cipher::aes_256_gcm();
    if encrypt {
        ctx.encrypt_init(Some(cipher), Some(&key), Some(&iv))
            .expect("EVP init");
    } else {
        ctx.decrypt_init(Some(cipher), Some(&key), Some(&iv))
            .expect("EVP init");
        ctx.set_tag(&[0u8; 16]).expect("EVP tag");
    }
    let len = buf.len();
    for _ in 0..updates {
        let n = ctx.cipher_update_inplace(buf, len).expect("EVP update");
        debug_assert_eq!(n, len);
    }
    let mut tag = [0u8; 16];
    // GCM emits nothing at the end; on decryption the made-up tag does not verify.
    let finished = ctx.cipher_final(&mut []);
    if encrypt {
        finished.expect("EVP final");
        ctx.tag(&mut tag).expect("EVP tag");
    }
    tag
}

/// A wrapped file key and the key pair it is wrapped for, so that `dco3_crypto` can build
/// decryptors.
struct Dco3Decryption {
    key_pair: dco3_crypto::PlainUserKeyPairContainer,
    file_key: FileKey,
}

impl Dco3Decryption {
    /// Encrypts `data` with `dco3_crypto` and wraps its file key (with the tag) for `fixture`:
    /// the ciphertext, and what decrypts it.
    fn encrypt(fixture: &KeyFixture, data: &[u8]) -> (Vec<u8>, Self) {
        let mut enc = DracoonCrypto::file_encryptor().expect("dco3 encryptor");
        let mut ciphertext = enc.update(data).expect("dco3 update");
        let last = enc.finalize().expect("dco3 finalize");
        ciphertext.extend_from_slice(&last.final_chunk);
        let file_key = DracoonCrypto::encrypt_file_key(last.plain_file_key, fixture.dco3.clone())
            .expect("dco3 wrap");
        let this = Dco3Decryption {
            key_pair: fixture.dco3.clone(),
            file_key,
        };
        (ciphertext, this)
    }

    fn decryptor(&self) -> dco3_crypto::FileDecryptor {
        DracoonCrypto::file_decryptor(self.file_key.clone(), self.key_pair.clone())
            .expect("dco3 decryptor")
    }
}

/// Says which of this crate's GCM engines this CPU should get (it picks one at run time and
/// does not tell; this repeats its rule: VAES + VPCLMULQDQ with AVX-512 or else AVX2).
fn print_expected_backend() {
    #[cfg(target_arch = "x86_64")]
    {
        let vaes = std::is_x86_feature_detected!("vaes")
            && std::is_x86_feature_detected!("vpclmulqdq")
            && std::is_x86_feature_detected!("aes")
            && std::is_x86_feature_detected!("pclmulqdq")
            && std::is_x86_feature_detected!("avx2");
        let avx512 = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl");
        let engine = match (vaes, avx512) {
            (true, true) => "VAES/VPCLMULQDQ on 512-bit vectors (AVX-512)",
            (true, false) => "VAES/VPCLMULQDQ on 256-bit vectors (AVX2)",
            (false, _) => "portable (aes + ctr + ghash)",
        };
        eprintln!("dracoon-crypto GCM engine expected on this CPU: {engine}");
    }
    eprintln!("OpenSSL: {}", openssl::version::version());
}

fn streaming(c: &mut Criterion) {
    print_expected_backend();
    // Version A keeps the (untimed) unwrap in dco3_crypto's decryptor set-up short.
    let fixture = KeyFixture::generate(dracoon_crypto::UserKeyPairVersion::Rsa2048);
    let (_, dco3) = Dco3Decryption::encrypt(&fixture, &[]);
    let our_key = FileEncryptor::new().expect("encryptor").finalize();

    for encrypt in [true, false] {
        let name = if encrypt {
            "gcm_stream_encrypt"
        } else {
            "gcm_stream_decrypt"
        };
        let mut group = c.benchmark_group(name);
        slow_group(&mut group, 10, Duration::from_secs(3));
        group.throughput(Throughput::Bytes(STREAM_TOTAL as u64));
        for size in UPDATE_SIZES {
            let updates = STREAM_TOTAL / size;
            let mut buf = pattern(size);
            let id = |f: &str| BenchmarkId::new(f, size_label(size));

            group.bench_function(id(OURS), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        if encrypt {
                            let start = Instant::now();
                            let mut enc = FileEncryptor::new().expect("encryptor");
                            for _ in 0..updates {
                                enc.update_in_place(&mut buf).expect("update");
                            }
                            black_box(enc.finalize());
                            total += start.elapsed();
                        } else {
                            let start = Instant::now();
                            let mut dec = FileDecryptor::new(&our_key);
                            for _ in 0..updates {
                                dec.update_in_place(&mut buf).expect("update");
                            }
                            let _ = black_box(dec.finalize());
                            total += start.elapsed();
                        }
                    }
                    total
                });
            });

            group.bench_function(id(DCO3), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        if encrypt {
                            let start = Instant::now();
                            let mut enc = DracoonCrypto::file_encryptor().expect("dco3 encryptor");
                            for _ in 0..updates {
                                black_box(enc.update(&buf).expect("dco3 update"));
                            }
                            black_box(enc.finalize().expect("dco3 finalize"));
                            total += start.elapsed();
                        } else {
                            let mut dec = dco3.decryptor();
                            let start = Instant::now();
                            for _ in 0..updates {
                                black_box(dec.update(&buf).expect("dco3 update"));
                            }
                            let _ = black_box(dec.finalize());
                            total += start.elapsed();
                        }
                    }
                    total
                });
            });

            group.bench_function(id(OPENSSL), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        black_box(evp_stream(encrypt, &mut buf, updates));
                        total += start.elapsed();
                    }
                    total
                });
            });
        }
        group.finish();
    }
}

fn one_shot(c: &mut Criterion) {
    let fixture = KeyFixture::generate(dracoon_crypto::UserKeyPairVersion::Rsa2048);

    let mut group = c.benchmark_group("gcm_oneshot_encrypt");
    slow_group(&mut group, 20, Duration::from_secs(2));
    for size in ONE_SHOT_SIZES {
        let data = pattern(size);
        group.throughput(Throughput::Bytes(size as u64));
        let id = |f: &str| BenchmarkId::new(f, size_label(size));
        group.bench_function(id(OURS), |b| {
            b.iter(|| encrypt_bytes(black_box(&data)).expect("encrypt"));
        });
        // dco3_crypto's one-shot `Encrypt::encrypt` also wraps the file key with RSA; this is
        // the same thing without the wrap: one update into a new vector, then finalize.
        group.bench_function(id(DCO3), |b| {
            b.iter(|| {
                let mut enc = DracoonCrypto::file_encryptor().expect("dco3 encryptor");
                let mut out = enc.update(black_box(&data)).expect("dco3 update");
                let last = enc.finalize().expect("dco3 finalize");
                out.extend_from_slice(&last.final_chunk);
                (out, last.plain_file_key)
            });
        });
        group.bench_function(id(OPENSSL), |b| {
            b.iter(|| {
                let (key, iv) = random_key_iv();
                let mut tag = [0u8; 16];
                let ct = openssl::symm::encrypt_aead(
                    openssl::symm::Cipher::aes_256_gcm(),
                    &key,
                    Some(&iv),
                    &[],
                    black_box(&data),
                    &mut tag,
                )
                .expect("EVP encrypt");
                (ct, tag)
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("gcm_oneshot_decrypt");
    slow_group(&mut group, 20, Duration::from_secs(2));
    for size in ONE_SHOT_SIZES {
        let data = pattern(size);
        group.throughput(Throughput::Bytes(size as u64));
        let id = |f: &str| BenchmarkId::new(f, size_label(size));

        let (ours_ct, ours_key) = encrypt_bytes(&data).expect("encrypt");
        group.bench_function(id(OURS), |b| {
            b.iter(|| decrypt_bytes(black_box(&ours_ct), &ours_key).expect("decrypt"));
        });

        let (dco3_ct, dco3) = Dco3Decryption::encrypt(&fixture, &data);
        group.bench_function(id(DCO3), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // Not timed: creating the decryptor unwraps the file key with RSA.
                    let mut dec = dco3.decryptor();
                    let start = Instant::now();
                    let mut out = dec.update(black_box(&dco3_ct)).expect("dco3 update");
                    out.extend_from_slice(&dec.finalize().expect("dco3 tag"));
                    total += start.elapsed();
                    black_box(out);
                }
                total
            });
        });

        let (key, iv) = random_key_iv();
        let mut tag = [0u8; 16];
        let cipher = openssl::symm::Cipher::aes_256_gcm();
        let evp_ct = openssl::symm::encrypt_aead(cipher, &key, Some(&iv), &[], &data, &mut tag)
            .expect("EVP encrypt");
        group.bench_function(id(OPENSSL), |b| {
            b.iter(|| {
                openssl::symm::decrypt_aead(cipher, &key, Some(&iv), &[], black_box(&evp_ct), &tag)
                    .expect("EVP decrypt")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, streaming, one_shot);
criterion_main!(benches);
