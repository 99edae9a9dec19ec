//! Tamper: any change to ciphertext, tag, IV or key fails authentication everywhere, and the
//! high-level APIs release nothing.
//!
//! Oracles (for the damaged file; the undamaged one must decrypt, as a control):
//! * `FileDecryptor::finalize` (fed in arbitrary chunks) is exactly `Error::BadFile`;
//! * `decrypt_bytes` is `Err(BadFile)` (no plaintext);
//! * `UnverifiedDecryptingReader` ends in an `InvalidData` error that converts to `BadFile`, and is not
//!   verified; `UnverifiedDecryptingWriter::finish` is `Err(BadFile)`;
//! * `decrypt_to_path` is `Err(BadFile)`, the target does not exist afterwards and no
//!   temporary file is left in its directory.
//!
//! The adapters each allocate and wipe a 256 KiB buffer, which costs more than everything else
//! together; they run for the inputs whose third chunk length is a multiple of 8 (about one in
//! eight, chosen by the input so that every finding replays).

#![no_main]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::OnceLock;

use dracoon_crypto::{
    Error, FileDecryptor, FileEncryptor, UnverifiedDecryptingReader, UnverifiedDecryptingWriter,
    decrypt_bytes, decrypt_to_path,
};
use dracoon_crypto_fuzz::inputs::{Mutation, TamperInput};
use dracoon_crypto_fuzz::{chunk_lengths, plain_file_key};
use libfuzzer_sys::fuzz_target;

/// A private directory for `decrypt_to_path`, in memory where possible.
fn out_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::path::Path::new("/dev/shm");
        let builder = tempfile::Builder::new()
            .prefix("dracoon-tamper-")
            .tempdir_in(base);
        let dir = match builder {
            Ok(d) => d,
            Err(_) => match tempfile::tempdir() {
                Ok(d) => d,
                Err(e) => panic!("no temporary directory: {e}"),
            },
        };
        // Kept for the whole run (the process exits without dropping statics).
        dir.keep()
    })
}

fuzz_target!(init: dracoon_crypto_fuzz::seed::from_env("tamper"), |data: &[u8]| {
    let Some(input) = TamperInput::parse(data) else {
        return;
    };
    run(&input);
});

fn nonzero(mask: u8) -> u8 {
    if mask == 0 { 1 } else { mask }
}

/// Applies the mutation; `false` when it would change nothing (then the input is skipped).
fn mutate(
    m: &Mutation,
    ct: &mut Vec<u8>,
    tag: &mut [u8; 16],
    iv: &mut [u8; 12],
    key: &mut [u8; 32],
) -> bool {
    match m {
        Mutation::FlipCiphertext { pos, mask } => {
            if ct.is_empty() {
                return false;
            }
            let i = *pos as usize % ct.len();
            ct[i] ^= nonzero(*mask);
        }
        Mutation::FlipTag { pos, mask } => tag[usize::from(*pos) % 16] ^= nonzero(*mask),
        Mutation::FlipIv { pos, mask } => iv[usize::from(*pos) % 12] ^= nonzero(*mask),
        Mutation::FlipKey { pos, mask } => key[usize::from(*pos) % 32] ^= nonzero(*mask),
        Mutation::Truncate { by } => {
            if ct.is_empty() {
                return false;
            }
            let by = *by as usize % ct.len() + 1;
            ct.truncate(ct.len() - by);
        }
        Mutation::Extend { bytes, len } => {
            let n = usize::from(*len % 4) + 1;
            ct.extend_from_slice(&bytes[..n]);
        }
        Mutation::Swap { a, b } => {
            if ct.is_empty() {
                return false;
            }
            let (a, b) = (*a as usize % ct.len(), *b as usize % ct.len());
            if ct[a] == ct[b] {
                ct[a] ^= 1;
            } else {
                ct.swap(a, b);
            }
        }
        Mutation::Many(flips) => {
            let mut changed = false;
            for &(pos, mask) in flips {
                let mask = nonzero(mask);
                let pos = usize::from(pos);
                let total = ct.len() + 16 + 12 + 32;
                let i = pos % total;
                if i < ct.len() {
                    ct[i] ^= mask;
                } else if i < ct.len() + 16 {
                    tag[i - ct.len()] ^= mask;
                } else if i < ct.len() + 28 {
                    iv[i - ct.len() - 16] ^= mask;
                } else {
                    key[i - ct.len() - 28] ^= mask;
                }
                changed = true;
            }
            return changed;
        }
    }
    true
}

fn run(input: &TamperInput<'_>) {
    let pt = input.plaintext;
    let mut enc =
        FileEncryptor::hazmat_with_file_key(&plain_file_key(&input.key, &input.iv, &[0; 16]));
    let mut ct = pt.to_vec();
    assert!(enc.update_in_place(&mut ct).is_ok());
    let good = enc.finalize();
    // Control: the undamaged file decrypts.
    match decrypt_bytes(&ct, &good) {
        Ok(p) => assert_eq!(p, pt),
        Err(e) => panic!("undamaged file fails: {e:?}"),
    }

    let (mut key, mut iv, mut tag) = (input.key, input.iv, *good.tag());
    let orig = (ct.clone(), key, iv, tag);
    if !mutate(&input.mutation, &mut ct, &mut tag, &mut iv, &mut key) {
        return;
    }
    if (ct.clone(), key, iv, tag) == orig {
        return; // several flips that cancelled out
    }
    let bad = plain_file_key(&key, &iv, &tag);

    // Low level, in chunks.
    let mut dec = FileDecryptor::new(&bad);
    let mut offset = 0;
    for n in chunk_lengths(ct.len(), &input.chunks) {
        let mut buf = ct[offset..offset + n].to_vec();
        offset += n;
        assert!(dec.update_in_place(&mut buf).is_ok());
    }
    match dec.finalize() {
        Err(Error::BadFile) => {}
        other => panic!("damaged file: finalize gave {other:?}"),
    }

    // Whole buffer: no plaintext.
    match decrypt_bytes(&ct, &bad) {
        Err(Error::BadFile) => {}
        other => panic!(
            "damaged file: decrypt_bytes gave {:?}",
            other.map(|p| p.len())
        ),
    }

    if !input.chunks[2].is_multiple_of(8) {
        return;
    }

    // Reader and writer adapters.
    let mut reader = UnverifiedDecryptingReader::new(ct.as_slice(), &bad);
    let mut sink = Vec::new();
    match reader.read_to_end(&mut sink) {
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
            assert!(matches!(Error::from(e), Error::BadFile));
        }
        Ok(n) => panic!("damaged file: UnverifiedDecryptingReader read {n} bytes without error"),
    }
    assert!(!reader.is_verified());
    let mut writer = UnverifiedDecryptingWriter::new(Vec::new(), &bad);
    assert!(writer.write_all(&ct).is_ok());
    match writer.finish() {
        Err(Error::BadFile) => {}
        other => panic!(
            "damaged file: UnverifiedDecryptingWriter::finish gave {:?}",
            other.map(|w| w.len())
        ),
    }

    // File output: nothing appears, nothing is left behind.
    let dir = out_dir();
    let target = dir.join("plain.out");
    match decrypt_to_path(ct.as_slice(), &target, &bad) {
        Err(Error::BadFile) => {}
        other => panic!("damaged file: decrypt_to_path gave {other:?}"),
    }
    assert!(!target.exists(), "decrypt_to_path left the target file");
    let leftovers = std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "decrypt_to_path left a temporary file");
}
