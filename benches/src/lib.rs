//! Shared fixtures and settings of the `dracoon-crypto` benchmarks.
//!
//! Every bench file in `benches/` measures one area with the same implementations side by side
//! in one criterion group, under the function names below, so the `report` binary can pair
//! them up and print ratios. A new bench file (for instance missing-key distribution) only
//! needs `use dracoon_crypto_benches::*` and groups whose functions carry these names.

use std::time::Duration;

use criterion::{BenchmarkGroup, SamplingMode, measurement::WallTime};
use dco3_crypto::{DracoonCrypto, DracoonRSACrypto};
use dracoon_crypto::{UserKeyPair, UserKeyPairContainer, UserKeyPairVersion, UserPrivateKey};
use openssl::md::Md;
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;

/// Criterion function name of this crate's implementation.
pub const OURS: &str = "dracoon-crypto";
/// Criterion function name of the peer crate `dco3_crypto` (OpenSSL 3.6, vendored).
pub const DCO3: &str = "dco3_crypto";
/// Criterion function name of the raw OpenSSL baseline: OpenSSL's own primitives (EVP cipher
/// and key contexts, `PKCS5_PBKDF2_HMAC`) called through the `openssl` crate, on the same
/// vendored OpenSSL that `dco3_crypto` links, without any wrapper around them.
pub const OPENSSL: &str = "openssl";
/// Criterion function name of the AWS-LC backend under evaluation (`aws-lc-rs`).
pub const AWS_LC: &str = "aws-lc-rs";

/// One kibibyte.
pub const KIB: usize = 1024;
/// One mebibyte.
pub const MIB: usize = 1024 * KIB;

/// Password of every key made for the benches.
pub const PASSWORD: &str = "Qwer1234!";

/// Settings for groups whose single iteration takes tens of milliseconds or more: flat
/// sampling (every sample runs the same number of iterations, so a slow operation is not
/// repeated 55 times as linear sampling would), `samples` samples, a short warm-up.
pub fn slow_group(group: &mut BenchmarkGroup<'_, WallTime>, samples: usize, measure: Duration) {
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(samples);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(measure);
}

/// Settings for groups whose operation varies a lot from one call to the next (RSA key
/// generation): exactly one call per sample, so the samples show the spread, and a warm-up of a
/// single call.
pub fn one_call_per_sample(group: &mut BenchmarkGroup<'_, WallTime>, samples: usize) {
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(samples);
    // Criterion runs the routine at least once to warm up; anything this short means once.
    group.warm_up_time(Duration::from_millis(1));
    // Too short for more than one iteration per sample; criterion then warns that the samples
    // took longer than asked, which is expected here.
    group.measurement_time(Duration::from_millis(1));
}

/// The label of a size for benchmark ids: `4KiB`, `64KiB`, `1MiB`, `64MiB`.
#[must_use]
pub fn size_label(bytes: usize) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{}MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{}KiB", bytes / KIB)
    } else {
        format!("{bytes}B")
    }
}

/// Deterministic, non-trivial content of `len` bytes.
#[must_use]
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 11)) as u8)
        .collect()
}

/// One RSA key pair, made once by OpenSSL and loaded into every implementation, so that all of
/// them work with the same modulus.
pub struct KeyFixture {
    /// Its version.
    pub version: UserKeyPairVersion,
    /// As this crate's unlocked key pair.
    pub ours: UserKeyPair,
    /// As `dco3_crypto`'s plain (unencrypted) key pair container.
    pub dco3: dco3_crypto::PlainUserKeyPairContainer,
    /// As an OpenSSL key.
    pub openssl: PKey<Private>,
    /// Its PKCS#8 `PrivateKeyInfo` DER (to load it into other backends).
    pub pkcs8_der: Vec<u8>,
    /// Its public key as `SubjectPublicKeyInfo` DER.
    pub spki_der: Vec<u8>,
}

impl KeyFixture {
    /// Generates a key pair of `version` with OpenSSL (through `dco3_crypto`) and loads it into
    /// this crate through the API's JSON, as a client holding a key from another SDK would.
    ///
    /// # Panics
    /// If any of the implementations refuses the key: the benchmark would be meaningless.
    #[must_use]
    pub fn generate(version: UserKeyPairVersion) -> Self {
        let dco3 = DracoonCrypto::create_plain_user_keypair(dco3_version(version))
            .expect("dco3_crypto key generation");
        let json = serde_json::to_string(&dco3).expect("serialize dco3 key pair");
        let container = UserKeyPairContainer::from_json(&json).expect("dco3 key pair JSON");
        let private = UserPrivateKey::from_plain_container(&container.private_key_container)
            .expect("dco3 private key PEM");
        let ours = UserKeyPair::from_private(private).expect("key pair");
        let openssl = PKey::private_key_from_pem(dco3.private_key_container.private_key.as_bytes())
            .expect("OpenSSL private key");
        let pkcs8_der = openssl.private_key_to_pkcs8().expect("PKCS#8 DER");
        let spki_der = openssl.public_key_to_der().expect("SPKI DER");
        KeyFixture {
            version,
            ours,
            dco3,
            openssl,
            pkcs8_der,
            spki_der,
        }
    }
}

/// `dco3_crypto`'s name for a key pair version.
#[must_use]
pub fn dco3_version(version: UserKeyPairVersion) -> dco3_crypto::UserKeyPairVersion {
    match version {
        UserKeyPairVersion::Rsa2048 => dco3_crypto::UserKeyPairVersion::RSA2048,
        UserKeyPairVersion::Rsa4096 => dco3_crypto::UserKeyPairVersion::RSA4096,
    }
}

/// Both key pair versions, the legacy one first.
pub const VERSIONS: [UserKeyPairVersion; 2] =
    [UserKeyPairVersion::Rsa2048, UserKeyPairVersion::Rsa4096];

/// Sets an initialised OpenSSL key context to RSA-OAEP with the hashes of `version`
/// (FORMAT.md §3.2): SHA-256, and MGF1 with SHA-1 (`A`) or SHA-256 (`RSA-4096`).
///
/// # Panics
/// If OpenSSL refuses a parameter.
pub fn openssl_oaep<T>(ctx: &mut PkeyCtx<T>, version: UserKeyPairVersion) {
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).expect("OAEP");
    ctx.set_rsa_oaep_md(Md::sha256()).expect("OAEP hash");
    let mgf1 = match version {
        UserKeyPairVersion::Rsa2048 => Md::sha1(),
        UserKeyPairVersion::Rsa4096 => Md::sha256(),
    };
    ctx.set_rsa_mgf1_md(mgf1).expect("MGF1 hash");
}
