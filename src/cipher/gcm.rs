//! Incremental AES-256-GCM over one message of any length, split anywhere.
//!
//! The whole file is one GCM message: 96-bit IV, no AAD, 128-bit tag, ciphertext as long as the
//! plaintext (FORMAT.md §4.1). Output length equals input length on every call: a trailing
//! partial block is encrypted at once with the keystream of its counter block, and its
//! ciphertext is kept until the block is full (or the message ends) so GHASH sees whole blocks.

use zeroize::Zeroizing;

use super::backend::{Backend, GcmBackend};
use crate::error::{Error, Limit, Result};

/// Most bytes one key+IV may encrypt: 2^36 - 32 (NIST SP 800-38D; the DRACOON server rejects
/// larger encrypted uploads with `-80037`).
pub const MAX_MESSAGE_LEN: u64 = (1 << 36) - 32;

/// The message length after `more` bytes, or the limit error (then nothing may be processed).
fn grown(len: u64, more: usize) -> Result<u64> {
    u64::try_from(more)
        .ok()
        .and_then(|n| len.checked_add(n))
        .filter(|&n| n <= MAX_MESSAGE_LEN)
        .ok_or(Error::LimitExceeded(Limit::GcmMessageLength))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Encrypt,
    Decrypt,
}

pub(crate) struct GcmStream {
    backend: Backend,
    /// Keystream of the current partial block (valid while `partial_len > 0`).
    keystream: Zeroizing<[u8; 16]>,
    /// Ciphertext of the current partial block, collected for GHASH.
    partial: Zeroizing<[u8; 16]>,
    partial_len: usize,
    len: u64,
}

impl GcmStream {
    pub(crate) fn new(key: &[u8; 32], iv: &[u8; 12]) -> Self {
        GcmStream {
            backend: Backend::new(key, iv),
            keystream: Zeroizing::new([0; 16]),
            partial: Zeroizing::new([0; 16]),
            partial_len: 0,
            len: 0,
        }
    }

    /// Bytes processed so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Encrypts or decrypts `buf` in place. Nothing is processed when the message would
    /// exceed [`MAX_MESSAGE_LEN`].
    pub(crate) fn apply(&mut self, dir: Direction, buf: &mut [u8]) -> Result<()> {
        self.len = grown(self.len, buf.len())?;

        let mut rest = buf;
        if self.partial_len > 0 {
            let take = rest.len().min(16 - self.partial_len);
            let (head, tail) = rest.split_at_mut(take);
            self.xor_partial(dir, head);
            rest = tail;
            if self.partial_len == 16 {
                self.backend.ghash_block(&self.partial);
                self.partial_len = 0;
            }
        }

        let whole = rest.len() - rest.len() % 16;
        let (bulk, tail) = rest.split_at_mut(whole);
        if !bulk.is_empty() {
            match dir {
                Direction::Encrypt => self.backend.encrypt_blocks(bulk),
                Direction::Decrypt => self.backend.decrypt_blocks(bulk),
            }
        }
        if !tail.is_empty() {
            *self.keystream = self.backend.keystream_block();
            self.xor_partial(dir, tail);
        }
        Ok(())
    }

    /// Encrypts or decrypts `input` into `output`, which has the same length, in one pass over
    /// the whole blocks (no copy first). Nothing is processed when the message would exceed
    /// [`MAX_MESSAGE_LEN`].
    pub(crate) fn apply_to(
        &mut self,
        dir: Direction,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<()> {
        debug_assert_eq!(input.len(), output.len());
        let len = input.len().min(output.len());
        let (mut input, mut output) = (&input[..len], &mut output[..len]);
        self.len = grown(self.len, len)?;

        if self.partial_len > 0 {
            let take = input.len().min(16 - self.partial_len);
            let (head, rest) = output.split_at_mut(take);
            head.copy_from_slice(&input[..take]);
            self.xor_partial(dir, head);
            input = &input[take..];
            output = rest;
            if self.partial_len == 16 {
                self.backend.ghash_block(&self.partial);
                self.partial_len = 0;
            }
        }

        let whole = input.len() - input.len() % 16;
        let (bulk_in, tail_in) = input.split_at(whole);
        let (bulk_out, tail_out) = output.split_at_mut(whole);
        if !bulk_in.is_empty() {
            match dir {
                Direction::Encrypt => self.backend.encrypt_blocks_to(bulk_in, bulk_out),
                Direction::Decrypt => self.backend.decrypt_blocks_to(bulk_in, bulk_out),
            }
        }
        if !tail_in.is_empty() {
            tail_out.copy_from_slice(tail_in);
            *self.keystream = self.backend.keystream_block();
            self.xor_partial(dir, tail_out);
        }
        Ok(())
    }

    /// XORs `bytes` (at most what is left of the current block) with the partial block's
    /// keystream and records their ciphertext.
    fn xor_partial(&mut self, dir: Direction, bytes: &mut [u8]) {
        let start = self.partial_len;
        let ks = self.keystream.iter().skip(start);
        let ct = self.partial.iter_mut().skip(start);
        for ((b, k), c) in bytes.iter_mut().zip(ks).zip(ct) {
            match dir {
                Direction::Encrypt => {
                    *b ^= k;
                    *c = *b;
                }
                Direction::Decrypt => {
                    *c = *b;
                    *b ^= k;
                }
            }
        }
        self.partial_len += bytes.len();
    }

    /// Ends the message and returns its tag.
    pub(crate) fn finish(mut self) -> [u8; 16] {
        if self.partial_len > 0 {
            for b in self.partial.iter_mut().skip(self.partial_len) {
                *b = 0;
            }
            self.backend.ghash_block(&self.partial);
        }
        self.backend.tag(self.len)
    }
}

/// The tag of a message computed from its ciphertext alone (GHASH, no decryption): the first
/// pass of verify-then-decrypt. Split anywhere, like [`GcmStream`].
pub(crate) struct TagStream {
    backend: Backend,
    /// Ciphertext of the current partial block.
    partial: Zeroizing<[u8; 16]>,
    partial_len: usize,
    len: u64,
}

impl TagStream {
    pub(crate) fn new(key: &[u8; 32], iv: &[u8; 12]) -> Self {
        TagStream {
            backend: Backend::new(key, iv),
            partial: Zeroizing::new([0; 16]),
            partial_len: 0,
            len: 0,
        }
    }

    /// Bytes absorbed so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Absorbs ciphertext. Nothing is absorbed when the message would exceed
    /// [`MAX_MESSAGE_LEN`].
    pub(crate) fn absorb(&mut self, ciphertext: &[u8]) -> Result<()> {
        self.len = grown(self.len, ciphertext.len())?;

        let mut rest = ciphertext;
        if self.partial_len > 0 {
            let take = rest.len().min(16 - self.partial_len);
            let (head, tail) = rest.split_at(take);
            self.collect(head);
            rest = tail;
            if self.partial_len == 16 {
                self.backend.ghash_block(&self.partial);
                self.partial_len = 0;
            }
        }
        let whole = rest.len() - rest.len() % 16;
        let (bulk, tail) = rest.split_at(whole);
        if !bulk.is_empty() {
            self.backend.ghash_blocks(bulk);
        }
        self.collect(tail);
        Ok(())
    }

    /// Appends `bytes` (at most what is left of the current block) to the partial block.
    fn collect(&mut self, bytes: &[u8]) {
        for (c, b) in self.partial.iter_mut().skip(self.partial_len).zip(bytes) {
            *c = *b;
        }
        self.partial_len += bytes.len();
    }

    /// Ends the message and returns its tag.
    pub(crate) fn finish(mut self) -> [u8; 16] {
        if self.partial_len > 0 {
            for b in self.partial.iter_mut().skip(self.partial_len) {
                *b = 0;
            }
            self.backend.ghash_block(&self.partial);
        }
        self.backend.tag(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::{AeadInOut, KeyInit};

    fn one_shot(key: &[u8; 32], iv: &[u8; 12], pt: &[u8]) -> (Vec<u8>, [u8; 16]) {
        let cipher = aes_gcm::Aes256Gcm::new(&(*key).into());
        let mut buf = pt.to_vec();
        let tag = cipher
            .encrypt_inout_detached(&(*iv).into(), &[], buf.as_mut_slice().into())
            .ok();
        (buf, tag.map(Into::into).unwrap_or_default())
    }

    fn streamed(key: &[u8; 32], iv: &[u8; 12], pt: &[u8], splits: &[usize]) -> (Vec<u8>, [u8; 16]) {
        let mut s = GcmStream::new(key, iv);
        let mut buf = pt.to_vec();
        let mut pos = 0;
        for &n in splits.iter().chain(std::iter::once(&usize::MAX)) {
            let end = pos + n.min(buf.len() - pos);
            assert!(s.apply(Direction::Encrypt, &mut buf[pos..end]).is_ok());
            pos = end;
        }
        (buf, s.finish())
    }

    #[test]
    fn matches_aes_gcm_for_many_splits() {
        let key = [0x42; 32];
        let iv = [0x24; 12];
        let pt: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 255, 256, 257, 1000] {
            let expect = one_shot(&key, &iv, &pt[..len]);
            for splits in [
                &[][..],
                &[1],
                &[2, 15, 16, 17],
                &[31, 33, 7, 1024],
                &[0, 0, 5],
            ] {
                assert_eq!(
                    streamed(&key, &iv, &pt[..len], splits),
                    expect,
                    "len {len} splits {splits:?}"
                );
            }
        }
    }

    #[test]
    fn one_pass_equals_in_place_for_many_splits() {
        let key = [0x35; 32];
        let iv = [0x53; 12];
        let pt: Vec<u8> = (0..3000u32).map(|i| (i * 11 + 5) as u8).collect();
        for len in [0, 1, 15, 16, 17, 255, 256, 257, 1000, 3000] {
            let (ct, tag) = one_shot(&key, &iv, &pt[..len]);
            for splits in [
                &[][..],
                &[1],
                &[2, 15, 16, 17],
                &[31, 33, 7, 1024],
                &[0, 300],
            ] {
                for (dir, input, expect) in [
                    (Direction::Encrypt, &pt[..len], &ct[..]),
                    (Direction::Decrypt, &ct[..], &pt[..len]),
                ] {
                    let mut s = GcmStream::new(&key, &iv);
                    let mut out = vec![0xAB; len];
                    let mut pos = 0;
                    for &n in splits.iter().chain(std::iter::once(&usize::MAX)) {
                        let end = pos + n.min(len - pos);
                        assert!(
                            s.apply_to(dir, &input[pos..end], &mut out[pos..end])
                                .is_ok()
                        );
                        pos = end;
                    }
                    assert_eq!(out, expect, "len {len} splits {splits:?}");
                    assert_eq!(s.finish(), tag, "len {len} splits {splits:?}");
                }
            }
        }
    }

    #[test]
    fn decrypt_inverts_and_yields_the_same_tag() {
        let key = [1; 32];
        let iv = [2; 12];
        let pt: Vec<u8> = (0..777u32).map(|i| i as u8).collect();
        let (ct, tag) = one_shot(&key, &iv, &pt);
        let mut s = GcmStream::new(&key, &iv);
        let mut buf = ct.clone();
        let (a, b) = buf.split_at_mut(100);
        assert!(s.apply(Direction::Decrypt, a).is_ok());
        let (b1, b2) = b.split_at_mut(13);
        assert!(s.apply(Direction::Decrypt, b1).is_ok());
        assert!(s.apply(Direction::Decrypt, b2).is_ok());
        assert_eq!(buf, pt);
        assert_eq!(s.finish(), tag);
    }

    #[test]
    fn nist_test_case_16() {
        // AES-256-GCM test case from the GCM specification (McGrew & Viega, test case 14:
        // zero key, zero IV, one zero block).
        let key = [0u8; 32];
        let iv = [0u8; 12];
        let mut buf = [0u8; 16];
        let mut s = GcmStream::new(&key, &iv);
        assert!(s.apply(Direction::Encrypt, &mut buf).is_ok());
        assert_eq!(
            buf,
            [
                0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e, 0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3,
                0x9d, 0x18
            ]
        );
        assert_eq!(
            s.finish(),
            [
                0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0, 0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a,
                0xb9, 0x19
            ]
        );
    }

    #[test]
    fn tag_stream_matches_the_encryption_tag_for_many_splits() {
        let key = [0x17; 32];
        let iv = [0x71; 12];
        let pt: Vec<u8> = (0..5000u32).map(|i| (i * 13 + 1) as u8).collect();
        for len in [0, 1, 15, 16, 17, 255, 256, 257, 4095, 4096, 5000] {
            let (ct, tag) = one_shot(&key, &iv, &pt[..len]);
            for splits in [
                &[][..],
                &[1],
                &[3, 16, 17, 250],
                &[256, 1, 4096],
                &[0, 15, 1],
            ] {
                let mut t = TagStream::new(&key, &iv);
                let mut pos = 0;
                for &n in splits.iter().chain(std::iter::once(&usize::MAX)) {
                    let end = pos + n.min(ct.len() - pos);
                    assert!(t.absorb(&ct[pos..end]).is_ok());
                    pos = end;
                }
                assert_eq!(t.len(), len as u64);
                assert_eq!(t.finish(), tag, "len {len} splits {splits:?}");
            }
        }
    }

    #[test]
    fn tag_stream_refuses_more_than_the_gcm_limit() {
        let mut t = TagStream::new(&[0; 32], &[0; 12]);
        t.len = MAX_MESSAGE_LEN;
        assert!(matches!(
            t.absorb(&[0]),
            Err(Error::LimitExceeded(Limit::GcmMessageLength))
        ));
        assert_eq!(t.len(), MAX_MESSAGE_LEN);
    }

    #[test]
    fn refuses_more_than_the_gcm_limit() {
        let mut s = GcmStream::new(&[0; 32], &[0; 12]);
        s.len = MAX_MESSAGE_LEN - 1;
        let mut two = [0u8; 2];
        assert!(matches!(
            s.apply(Direction::Encrypt, &mut two),
            Err(Error::LimitExceeded(Limit::GcmMessageLength))
        ));
        assert_eq!(two, [0, 0], "nothing was processed");
        assert!(matches!(
            s.apply_to(Direction::Encrypt, &[1, 2], &mut two),
            Err(Error::LimitExceeded(Limit::GcmMessageLength))
        ));
        assert_eq!(two, [0, 0], "nothing was processed");
        let mut one = [0u8; 1];
        assert!(s.apply(Direction::Encrypt, &mut one).is_ok());
    }
}
