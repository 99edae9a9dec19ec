//! Split-stream differential: the streaming encryptor, fed the plaintext in arbitrary chunks
//! (in place or copying, empty chunks included), equals `aes_gcm::Aes256Gcm` one-shot in
//! ciphertext and tag; the streaming decryptor in other chunks gives the plaintext back and
//! verifies; `decrypt_bytes` and `UnverifiedDecryptingReader` agree; `aes_gcm` accepts our output.

#![no_main]

use std::io::Read;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use dracoon_crypto::{FileDecryptor, FileEncryptor, UnverifiedDecryptingReader, decrypt_bytes};
use dracoon_crypto_fuzz::inputs::StreamInput;
use dracoon_crypto_fuzz::{chunk_lengths, plain_file_key, plain_file_key_parts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: dracoon_crypto_fuzz::seed::from_env("stream"), |data: &[u8]| {
    let Some(input) = StreamInput::parse(data) else {
        return;
    };
    run(&input);
});

/// A reader that hands out its data in the given chunk sizes (at least one byte while data
/// is left, as `Read` requires for progress).
struct Chunked<'a> {
    data: &'a [u8],
    lens: Vec<usize>,
    i: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self.lens.get(self.i).copied().unwrap_or(usize::MAX).max(1);
        self.i += 1;
        let n = want.min(buf.len()).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        buf[..n].copy_from_slice(head);
        self.data = rest;
        Ok(n)
    }
}

fn run(input: &StreamInput<'_>) {
    let pt = input.plaintext;

    // Reference: one-shot AES-256-GCM, no AAD.
    let cipher = Aes256Gcm::new(&input.key.into());
    let nonce = Nonce::from(input.iv);
    let mut reference = pt.to_vec();
    let ref_tag = match cipher.encrypt_inout_detached(&nonce, b"", reference.as_mut_slice().into())
    {
        Ok(t) => t,
        Err(_) => return, // longer than GCM allows: cannot happen at fuzz sizes
    };

    // Streaming, split by enc_chunks.
    let start = plain_file_key(&input.key, &input.iv, &[0; 16]);
    let mut enc = FileEncryptor::hazmat_with_file_key(&start);
    let mut ct = Vec::with_capacity(pt.len());
    let mut offset = 0;
    for (i, n) in chunk_lengths(pt.len(), &input.enc_chunks)
        .into_iter()
        .enumerate()
    {
        let src = &pt[offset..offset + n];
        offset += n;
        if input.copy_mask & (1 << (i % 8)) != 0 {
            let mut out = vec![0u8; n];
            assert!(enc.update(src, &mut out).is_ok(), "update failed");
            ct.extend_from_slice(&out);
        } else {
            let mut buf = src.to_vec();
            assert!(
                enc.update_in_place(&mut buf).is_ok(),
                "update_in_place failed"
            );
            ct.extend_from_slice(&buf);
        }
        assert_eq!(enc.bytes_processed(), offset as u64);
    }
    let key = enc.finalize();
    assert_eq!(
        ct, reference,
        "streaming ciphertext differs from aes-gcm one-shot"
    );
    assert_eq!(
        key.tag().as_slice(),
        ref_tag.as_slice(),
        "tag differs from aes-gcm"
    );
    let (k, iv, _) = plain_file_key_parts(&key);
    assert_eq!((k, iv), (input.key, input.iv), "finalize changed key or IV");

    // aes-gcm accepts our ciphertext and tag.
    let mut check = ct.clone();
    assert!(
        cipher
            .decrypt_inout_detached(&nonce, b"", check.as_mut_slice().into(), &ref_tag)
            .is_ok()
    );

    // Streaming decryption in other chunks.
    let mut dec = FileDecryptor::new(&key);
    let mut plain = Vec::with_capacity(ct.len());
    let mut offset = 0;
    for (i, n) in chunk_lengths(ct.len(), &input.dec_chunks)
        .into_iter()
        .enumerate()
    {
        let src = &ct[offset..offset + n];
        offset += n;
        if input.copy_mask & (1 << (7 - i % 8)) != 0 {
            let mut out = vec![0u8; n];
            assert!(dec.update(src, &mut out).is_ok());
            plain.extend_from_slice(&out);
        } else {
            let mut buf = src.to_vec();
            assert!(dec.update_in_place(&mut buf).is_ok());
            plain.extend_from_slice(&buf);
        }
    }
    assert_eq!(plain, pt, "streaming decryption differs");
    assert!(
        dec.finalize().is_ok(),
        "streaming decryption does not verify"
    );

    // Whole-buffer and reader helpers.
    match decrypt_bytes(&ct, &key) {
        Ok(p) => assert_eq!(p, pt),
        Err(e) => panic!("decrypt_bytes failed on a good file: {e:?}"),
    }
    let lens = chunk_lengths(ct.len(), &input.dec_chunks);
    let mut reader = UnverifiedDecryptingReader::new(
        Chunked {
            data: &ct,
            lens,
            i: 0,
        },
        &key,
    );
    let mut out = Vec::new();
    assert!(
        reader.read_to_end(&mut out).is_ok(),
        "UnverifiedDecryptingReader failed"
    );
    assert!(reader.is_verified());
    assert_eq!(out, pt);
}
