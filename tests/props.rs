//! Property tests: streaming equals one-shot AES-256-GCM for any split; every tampered bit is
//! caught; parsers never panic on arbitrary input.

use std::sync::OnceLock;

use aes_gcm::aead::{AeadInOut, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dracoon_crypto::{
    EncryptedFileKey, Error, FileDecryptor, FileEncryptor, Password, PlainFileKey,
    PrivateKeyContainer, PublicKeyContainer, UserKeyPair, UserKeyPairContainer, UserKeyPairVersion,
    UserPrivateKey, UserPublicKey, decrypt_bytes,
};
use proptest::prelude::*;

/// Deterministic pseudo-random content of any size (cheaper than letting proptest build MiBs).
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 32) as u8
        })
        .collect()
}

fn plain_key(key: [u8; 32], iv: [u8; 12], tag: [u8; 16]) -> PlainFileKey {
    PlainFileKey::from_json(&format!(
        r#"{{"key":"{}","iv":"{}","tag":"{}","version":"A"}}"#,
        STANDARD.encode(key),
        STANDARD.encode(iv),
        STANDARD.encode(tag)
    ))
    .unwrap()
}

fn one_shot(key: &[u8; 32], iv: &[u8; 12], pt: &[u8]) -> (Vec<u8>, [u8; 16]) {
    let mut buf = pt.to_vec();
    let tag = aes_gcm::Aes256Gcm::new(&(*key).into())
        .encrypt_inout_detached(&(*iv).into(), &[], buf.as_mut_slice().into())
        .unwrap();
    (buf, tag.into())
}

/// Cuts `len` into pieces at the given (relative) split points.
fn pieces(len: usize, splits: &[u32]) -> Vec<usize> {
    let mut cuts: Vec<usize> = splits
        .iter()
        .map(|&s| if len == 0 { 0 } else { s as usize % (len + 1) })
        .collect();
    cuts.push(0);
    cuts.push(len);
    cuts.sort_unstable();
    cuts.windows(2).map(|w| w[1] - w[0]).collect()
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..600,
        3 => 600usize..70_000,
        1 => 70_000usize..3_000_000,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn streaming_equals_one_shot_for_any_split(
        len in size(),
        seed in any::<u64>(),
        key in any::<[u8; 32]>(),
        iv in any::<[u8; 12]>(),
        enc_splits in prop::collection::vec(any::<u32>(), 0..12),
        dec_splits in prop::collection::vec(any::<u32>(), 0..12),
    ) {
        let pt = content(len, seed);
        let (expected_ct, expected_tag) = one_shot(&key, &iv, &pt);

        let file_key = plain_key(key, iv, [0; 16]);
        let mut enc = FileEncryptor::hazmat_with_file_key(&file_key);
        let mut ct = pt.clone();
        let mut pos = 0;
        for n in pieces(len, &enc_splits) {
            enc.update_in_place(&mut ct[pos..pos + n]).unwrap();
            pos += n;
        }
        let got = enc.finalize();
        prop_assert!(ct == expected_ct, "ciphertext differs from aes_gcm");
        prop_assert_eq!(got.tag(), &expected_tag);

        let mut dec = FileDecryptor::new(&got);
        let mut back = vec![0u8; len];
        let mut pos = 0;
        for n in pieces(len, &dec_splits) {
            dec.update(&ct[pos..pos + n], &mut back[pos..pos + n]).unwrap();
            pos += n;
        }
        prop_assert!(dec.finalize().is_ok());
        prop_assert!(back == pt);
    }

    #[test]
    fn random_keys_round_trip(len in size(), seed in any::<u64>()) {
        let pt = content(len, seed);
        let mut enc = FileEncryptor::new().unwrap();
        let mut ct = pt.clone();
        enc.update_in_place(&mut ct).unwrap();
        let key = enc.finalize();
        prop_assert_eq!(decrypt_bytes(&ct, &key).unwrap(), pt);
    }

    #[test]
    fn any_flipped_bit_fails_authentication(
        len in 0usize..5000,
        seed in any::<u64>(),
        target in 0u8..4,
        position in any::<usize>(),
        bit in 0u8..8,
    ) {
        let pt = content(len, seed);
        let mut enc = FileEncryptor::new().unwrap();
        let mut ct = pt.clone();
        enc.update_in_place(&mut ct).unwrap();
        let good = enc.finalize();
        let mut key = STANDARD.decode(serde_json::from_str::<serde_json::Value>(&good.to_json()).unwrap()["key"].as_str().unwrap()).unwrap();
        let mut iv = *good.iv();
        let mut tag = *good.tag();
        let flip = 1u8 << bit;
        match target {
            0 if !ct.is_empty() => { let i = position % ct.len(); ct[i] ^= flip; }
            0 | 1 => { tag[position % 16] ^= flip; }
            2 => { iv[position % 12] ^= flip; }
            _ => { key[position % 32] ^= flip; }
        }
        let bad = plain_key(key.try_into().unwrap(), iv, tag);
        prop_assert!(matches!(decrypt_bytes(&ct, &bad), Err(Error::BadFile)));
        let mut dec = FileDecryptor::new(&bad);
        dec.update_in_place(&mut ct.clone()).unwrap();
        prop_assert!(matches!(dec.finalize(), Err(Error::BadFile)));
    }

    #[test]
    fn json_parsers_never_panic(s in ".{0,400}") {
        let _ = PlainFileKey::from_json(&s);
        let _ = EncryptedFileKey::from_json(&s);
        let _ = PrivateKeyContainer::from_json(&s);
        let _ = PublicKeyContainer::from_json(&s);
        let _ = UserKeyPairContainer::from_json(&s);
        let _ = serde_json::from_str::<EncryptedFileKey>(&s);
    }

    #[test]
    fn file_key_json_with_arbitrary_fields_never_panics(
        key in ".{0,64}", iv in ".{0,24}", tag in proptest::option::of(".{0,32}"), version in ".{0,24}",
    ) {
        let json = serde_json::json!({"key": key, "iv": iv, "tag": tag, "version": version}).to_string();
        let _ = PlainFileKey::from_json(&json);
        let _ = EncryptedFileKey::from_json(&json);
    }

    #[test]
    fn pem_parsers_never_panic(body in prop::collection::vec(any::<u8>(), 0..3000), label in 0usize..4) {
        let label = ["PUBLIC KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "PRIVATE KEY"][label];
        let pem = format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", STANDARD.encode(&body));
        for version in ["A", "RSA-4096"] {
            let public = serde_json::json!({"version": version, "publicKey": pem}).to_string();
            if let Ok(c) = PublicKeyContainer::from_json(&public) {
                let _ = UserPublicKey::from_container(&c);
            }
            let private = serde_json::json!({"version": version, "privateKey": pem}).to_string();
            if let Ok(c) = PrivateKeyContainer::from_json(&private) {
                let _ = c.unlock(&Password::new("pw"));
                let _ = UserPrivateKey::from_plain_container(&c);
            }
        }
    }
}

/// A key pair whose private key is encrypted with few iterations, to mutate cheaply.
fn fixture() -> &'static (UserKeyPair, UserKeyPairContainer) {
    static KP: OnceLock<(UserKeyPair, UserKeyPairContainer)> = OnceLock::new();
    KP.get_or_init(|| {
        let kp = UserKeyPair::generate(UserKeyPairVersion::Rsa2048).unwrap();
        let c = kp
            .hazmat_to_container_with_iterations(&Password::new("pw"), 1000)
            .unwrap();
        (kp, c)
    })
}

fn der_of(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn pem_of(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        STANDARD.encode(der)
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Mutated encrypted private keys: never a panic, and never a "success" with another key.
    #[test]
    fn mutated_private_keys_fail_cleanly(position in any::<usize>(), value in any::<u8>(), truncate in any::<bool>()) {
        let (kp, container) = fixture();
        let mut der = der_of(&container.private_key_container.private_key);
        let i = position % der.len();
        if truncate { der.truncate(i); } else { der[i] ^= value | 1; }
        let mut mutated = container.private_key_container.clone();
        mutated.private_key = pem_of("ENCRYPTED PRIVATE KEY", &der);
        match mutated.unlock(&Password::new("pw")) {
            Ok(key) => prop_assert!(&key == kp.private_key(), "a mutation unlocked to another key"),
            Err(e) => prop_assert!(matches!(
                e,
                Error::WrongPassword | Error::InvalidKeyPair(_) | Error::LimitExceeded(_)
            ), "unexpected error {:?}", e),
        }
    }

    /// Mutated public keys: never a panic; a success must still be a 2048-bit key.
    #[test]
    fn mutated_public_keys_fail_cleanly(position in any::<usize>(), value in any::<u8>()) {
        let (_, container) = fixture();
        let mut der = der_of(&container.public_key_container.public_key);
        let i = position % der.len();
        der[i] ^= value | 1;
        let mut mutated = container.public_key_container.clone();
        mutated.public_key = pem_of("PUBLIC KEY", &der);
        if let Err(e) = UserPublicKey::from_container(&mutated) {
            prop_assert!(matches!(e, Error::InvalidKeyPair(_)), "unexpected error {:?}", e);
        }
    }

    /// Mutated wrapped file keys: unwrapping fails with one opaque error, never a panic.
    #[test]
    fn mutated_wrapped_keys_fail_cleanly(position in any::<usize>(), value in any::<u8>()) {
        let (kp, _) = fixture();
        let file_key = FileEncryptor::new().unwrap().finalize();
        let wrapped = kp.public_key().wrap_file_key(&file_key).unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&wrapped.to_json()).unwrap();
        let mut raw = STANDARD.decode(json["key"].as_str().unwrap()).unwrap();
        let i = position % raw.len();
        raw[i] ^= value | 1;
        json["key"] = STANDARD.encode(&raw).into();
        let mutated = EncryptedFileKey::from_json(&json.to_string()).unwrap();
        prop_assert!(matches!(
            kp.private_key().unwrap_file_key(&mutated),
            Err(Error::InvalidFileKey(dracoon_crypto::error::FileKeyProblem::Unwrap))
        ));
    }
}
