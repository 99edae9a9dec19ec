//! Public keys: `PublicKeyContainer::from_json` and `UserPublicKey::from_container` over JSON,
//! PEM strings and raw SPKI DER.
//!
//! Oracles:
//! * no panic; every error is one the API documents;
//! * a key that parses has the modulus size its version demands, writes a canonical PEM
//!   (`to_container`) that parses to an equal key and writes the identical PEM again; the
//!   container's JSON round-trips;
//! * wrapping a file key for it (what the missing-keys workflow does with keys a server sends)
//!   works, has the version's length, and the wrapped key's JSON round-trips.

#![no_main]

use dracoon_crypto::{
    EncryptedFileKey, EncryptedFileKeyVersion, PublicKeyContainer, UserKeyPairVersion,
    UserPublicKey,
};
use dracoon_crypto_fuzz::inputs::{PublicKeyInput, PublicKeyMode};
use dracoon_crypto_fuzz::{oracle, pem, plain_file_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: dracoon_crypto_fuzz::seed::from_env("public_key"), |data: &[u8]| {
    let Some(input) = PublicKeyInput::parse(data) else {
        return;
    };
    let version = if input.rsa4096 {
        UserKeyPairVersion::Rsa4096
    } else {
        UserKeyPairVersion::Rsa2048
    };
    let text = String::from_utf8_lossy(input.document);
    let container = match input.mode {
        PublicKeyMode::Json => match PublicKeyContainer::from_json(&text) {
            Ok(c) => {
                let again = PublicKeyContainer::from_json(&c.to_json());
                assert_eq!(again.ok().as_ref(), Some(&c), "container JSON round trip");
                c
            }
            Err(e) => {
                oracle::check_public_container_json("PublicKeyContainer::from_json", &e, text.len());
                return;
            }
        },
        PublicKeyMode::Pem => container(version, text.into_owned()),
        PublicKeyMode::Der => container(version, pem("PUBLIC KEY", input.document, false)),
    };
    check(&container);
});

fn container(version: UserKeyPairVersion, public_key: String) -> PublicKeyContainer {
    PublicKeyContainer {
        version,
        public_key,
        created_at: None,
        created_by: None,
        expire_at: None,
    }
}

fn check(c: &PublicKeyContainer) {
    let key = match UserPublicKey::from_container(c) {
        Ok(k) => k,
        Err(e) => {
            oracle::check_public_key("UserPublicKey::from_container", &e, c.public_key.len());
            return;
        }
    };
    assert_eq!(key.version(), c.version);
    let bits = c.version.modulus_bits();
    assert!(
        format!("{key:?}").contains(&format!("modulus_bits: {bits}")),
        "parsed key has another modulus size than its version: {key:?}"
    );

    let out = match key.to_container() {
        Ok(out) => out,
        Err(e) => panic!("a parsed public key cannot be written: {e:?}"),
    };
    oracle::assert_canonical_pem("public key", &out.public_key, "PUBLIC KEY");
    let back = match UserPublicKey::from_container(&out) {
        Ok(k) => k,
        Err(e) => panic!("written public key does not parse: {e:?}"),
    };
    assert_eq!(back, key, "public key round trip");
    match back.to_container() {
        Ok(out2) => assert_eq!(out2, out, "public key output is not stable"),
        Err(e) => panic!("second write failed: {e:?}"),
    }
    let json = PublicKeyContainer::from_json(&out.to_json());
    assert_eq!(
        json.ok().as_ref(),
        Some(&out),
        "written container JSON round trip"
    );

    let fk = plain_file_key(&[1; 32], &[2; 12], &[3; 16]);
    let wrapped = match key.wrap_file_key(&fk) {
        Ok(w) => w,
        Err(e) => panic!("wrapping for a parsed public key failed: {e:?}"),
    };
    let want = match c.version {
        UserKeyPairVersion::Rsa2048 => EncryptedFileKeyVersion::Rsa2048,
        UserKeyPairVersion::Rsa4096 => EncryptedFileKeyVersion::Rsa4096Aes256Gcm,
    };
    assert_eq!(wrapped.version(), want);
    assert_eq!(wrapped.wrapped_key().len(), bits as usize / 8);
    assert_eq!(wrapped.iv(), fk.iv());
    assert_eq!(wrapped.tag(), fk.tag());
    let again = EncryptedFileKey::from_json(&wrapped.to_json());
    assert_eq!(
        again.ok().as_ref(),
        Some(&wrapped),
        "wrapped key JSON round trip"
    );
}
