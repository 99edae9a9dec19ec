//! Private keys: PEM / PKCS#8 / PBES2 parsing and unlocking, plain (unencrypted) keys, and
//! whole key pair containers.
//!
//! Oracles:
//! * no panic, no hang (PBKDF2 is clamped to 4 iterations in fuzz builds);
//! * every error is one the API documents for that call (`oracle::check_*`), and no error
//!   message contains the password;
//! * an encrypted key that opens: `from_plain_container` calls it `Encrypted`; re-encrypting it
//!   (`hazmat_to_container_with_iterations`) gives a canonical PEM that opens to the same key,
//!   also inside a key pair container with its public key; the container's JSON round-trips;
//!   optionally a file key wrapped for its public key unwraps back;
//! * a plain key that parses: `unlock` calls it `NotEncrypted`; encrypted and unlocked again it
//!   is the same key (differential: plain parser vs. PKCS#8 writer + encrypted parser);
//! * `Debug` of keys and containers never shows the password or the PEM body.

#![no_main]

use dracoon_crypto::error::KeyPairProblem;
use dracoon_crypto::{
    Error, Password, PrivateKeyContainer, PublicKeyContainer, UserKeyPair, UserKeyPairContainer,
    UserKeyPairVersion, UserPrivateKey, UserPublicKey,
};
use dracoon_crypto_fuzz::inputs::{PrivateKeyInput, PrivateKeyMode};
use dracoon_crypto_fuzz::{oracle, pem, plain_file_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: dracoon_crypto_fuzz::seed::from_env("private_key"), |data: &[u8]| {
    let Some(input) = PrivateKeyInput::parse(data) else {
        return;
    };
    run(&input);
});

fn container(version: UserKeyPairVersion, private_key: String) -> PrivateKeyContainer {
    PrivateKeyContainer {
        version,
        private_key,
        created_at: None,
        created_by: None,
        expire_at: None,
    }
}

fn run(input: &PrivateKeyInput<'_>) {
    let version = if input.rsa4096 {
        UserKeyPairVersion::Rsa4096
    } else {
        UserKeyPairVersion::Rsa2048
    };
    let text = String::from_utf8_lossy(input.document);
    let password = Password::new(input.password.clone());
    match input.mode {
        PrivateKeyMode::ContainerJson | PrivateKeyMode::PlainContainerJson => {
            let c = match PrivateKeyContainer::from_json(&text) {
                Ok(c) => c,
                Err(e) => {
                    oracle::check_key_container_json(
                        "PrivateKeyContainer::from_json",
                        &e,
                        text.len(),
                    );
                    return;
                }
            };
            // The JSON form round-trips.
            let again = PrivateKeyContainer::from_json(&c.to_json());
            assert_eq!(
                again.ok().as_ref(),
                Some(&c),
                "PrivateKeyContainer JSON round trip"
            );
            if input.mode == PrivateKeyMode::ContainerJson {
                encrypted(input, &c, &password);
            } else {
                plain(input, &c);
            }
        }
        PrivateKeyMode::Pem => encrypted(input, &container(version, text.into_owned()), &password),
        PrivateKeyMode::EncryptedDer => {
            let p = pem("ENCRYPTED PRIVATE KEY", input.document, false);
            encrypted(input, &container(version, p), &password);
        }
        PrivateKeyMode::PlainPem => plain(input, &container(version, text.into_owned())),
        PrivateKeyMode::PlainPkcs8Der => {
            plain(
                input,
                &container(version, pem("PRIVATE KEY", input.document, false)),
            );
        }
        PrivateKeyMode::PlainPkcs1Der => {
            let p = pem("RSA PRIVATE KEY", input.document, true);
            plain(input, &container(version, p));
        }
        PrivateKeyMode::KeyPairJson => key_pair(input, &text, &password),
    }
}

/// The password used to re-encrypt: the input's, or a fixed one when that is empty (empty
/// passwords are refused for writing, as documented).
fn output_password(input: &PrivateKeyInput<'_>) -> Password {
    if input.password.is_empty() {
        Password::new("fuzz-Ω-password")
    } else {
        Password::new(input.password.clone())
    }
}

fn check_debug(key: &UserPrivateKey, c: &PrivateKeyContainer, input: &PrivateKeyInput<'_>) {
    let expected = format!(
        "UserPrivateKey {{ version: {:?}, key: \"<redacted>\" }}",
        key.version()
    );
    assert_eq!(format!("{key:?}"), expected, "UserPrivateKey Debug");
    let dbg = format!("{c:?}");
    oracle::assert_debug_no_leak("PrivateKeyContainer", &c, &input.password);
    assert!(
        !dbg.contains("-----BEGIN") && dbg.len() < 400,
        "PrivateKeyContainer Debug shows the PEM: {dbg}"
    );
}

/// Re-encrypts `key` with few iterations and checks that the result opens to the same key.
fn reencrypt_round_trip(key: &UserPrivateKey, input: &PrivateKeyInput<'_>) -> PrivateKeyContainer {
    let pw = output_password(input);
    let c2 = match key.hazmat_to_container_with_iterations(&pw, input.iterations) {
        Ok(c) => c,
        Err(e) => panic!("a key that opened cannot be written again: {e:?}"),
    };
    assert_eq!(c2.version, key.version());
    oracle::assert_canonical_pem("re-encrypted key", &c2.private_key, "ENCRYPTED PRIVATE KEY");
    match c2.unlock(&pw) {
        Ok(back) => assert!(back == *key, "re-encrypted key opens to another key"),
        Err(e) => panic!("re-encrypted key does not open: {e:?}"),
    }
    let json = PrivateKeyContainer::from_json(&c2.to_json());
    assert_eq!(
        json.ok().as_ref(),
        Some(&c2),
        "re-encrypted container JSON round trip"
    );
    // The public half round-trips, and the pair container opens.
    let public = key.public_key();
    let pc = match public.to_container() {
        Ok(pc) => pc,
        Err(e) => panic!("public half cannot be written: {e:?}"),
    };
    assert_eq!(
        UserPublicKey::from_container(&pc).ok().as_ref(),
        Some(&public),
        "public half round trip"
    );
    let pair = UserKeyPairContainer {
        private_key_container: c2.clone(),
        public_key_container: pc,
    };
    match pair.unlock(&pw) {
        Ok(kp) => assert!(kp.private_key() == key, "key pair opens to another key"),
        Err(e) => panic!("key pair of a good key does not open: {e:?}"),
    }
    if input.unwrap_check {
        let fk = plain_file_key(&[0x42; 32], &[7; 12], &[9; 16]);
        let wrapped = match public.wrap_file_key(&fk) {
            Ok(w) => w,
            Err(e) => panic!("wrapping for a good key failed: {e:?}"),
        };
        assert_eq!(wrapped.version().key_pair_version(), key.version());
        match key.unwrap_file_key(&wrapped) {
            Ok(back) => assert!(back == fk, "unwrapped file key differs"),
            Err(e) => panic!("unwrapping with a good key failed: {e:?}"),
        }
    }
    c2
}

fn encrypted(input: &PrivateKeyInput<'_>, c: &PrivateKeyContainer, password: &Password) {
    let pem_len = c.private_key.len();
    match c.unlock(password) {
        Ok(key) => {
            assert_eq!(key.version(), c.version);
            check_debug(&key, c, input);
            match UserPrivateKey::from_plain_container(c) {
                Err(Error::InvalidKeyPair(KeyPairProblem::Encrypted)) => {}
                other => panic!("from_plain_container on an encrypted key: {other:?}"),
            }
            reencrypt_round_trip(&key, input);
        }
        Err(e) => {
            oracle::check_unlock("PrivateKeyContainer::unlock", &e, pem_len);
            oracle::assert_no_leak("unlock error", &e, &input.password);
        }
    }
}

fn plain(input: &PrivateKeyInput<'_>, c: &PrivateKeyContainer) {
    let pem_len = c.private_key.len();
    match UserPrivateKey::from_plain_container(c) {
        Ok(key) => {
            assert_eq!(key.version(), c.version);
            check_debug(&key, c, input);
            match c.unlock(&Password::new("any password")) {
                Err(Error::InvalidKeyPair(KeyPairProblem::NotEncrypted)) => {}
                other => panic!("unlock on a plain key: {other:?}"),
            }
            let kp = UserKeyPair::from_private(key.clone());
            assert!(kp.is_ok(), "from_private failed for a parsed key");
            reencrypt_round_trip(&key, input);
        }
        Err(e) => oracle::check_plain("UserPrivateKey::from_plain_container", &e, pem_len),
    }
}

fn key_pair(input: &PrivateKeyInput<'_>, text: &str, password: &Password) {
    let c = match UserKeyPairContainer::from_json(text) {
        Ok(c) => c,
        Err(e) => {
            oracle::check_key_container_json("UserKeyPairContainer::from_json", &e, text.len());
            return;
        }
    };
    let again = UserKeyPairContainer::from_json(&c.to_json());
    assert_eq!(
        again.ok().as_ref(),
        Some(&c),
        "UserKeyPairContainer JSON round trip"
    );
    // The public half alone parses the same from the whole container.
    if let Ok(public) = PublicKeyContainer::from_json(text) {
        assert_eq!(
            public, c.public_key_container,
            "publicKeyContainer of a key pair"
        );
    }
    let pem_len = c
        .private_key_container
        .private_key
        .len()
        .max(c.public_key_container.public_key.len());
    match c.unlock(password) {
        Ok(kp) => {
            assert_eq!(c.version().ok(), Some(kp.version()));
            assert_eq!(
                format!("{kp:?}"),
                format!(
                    "UserKeyPair {{ version: {:?}, private: \"<redacted>\" }}",
                    kp.version()
                )
            );
            let c2 = reencrypt_round_trip(kp.private_key(), input);
            let pub_again = UserPublicKey::from_container(&c.public_key_container);
            assert_eq!(pub_again.ok().as_ref(), Some(kp.public_key()));
            assert_eq!(c2.version, kp.version());
        }
        Err(e) => {
            oracle::check_key_pair_unlock("UserKeyPairContainer::unlock", &e, pem_len);
            oracle::assert_no_leak("key pair unlock error", &e, &input.password);
        }
    }
}
