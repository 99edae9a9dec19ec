//! Streaming AES-256-GCM over whole files, in three levels (like `age`):
//!
//! 1. [`FileEncryptor`] / [`FileDecryptor`]: `update` any number of times, split anywhere, then
//!    `finalize`, which consumes the value. The encryptor draws its own fresh key and IV and hands
//!    the [`PlainFileKey`] (with the tag) out only at `finalize`, so a key+IV pair can never be used
//!    twice. The decryptor's output is **unauthenticated** until `finalize` returns `Ok`.
//! 2. Streams that **verify before they release**: [`decrypt_seekable`] (two passes over a
//!    file: GHASH first, then decryption), [`decrypt_stream`] and [`CiphertextSpool`] (any
//!    source, spooled as ciphertext into an unnamed temporary file), [`FileVerifier`] and
//!    [`verify_stream`] (the tag check alone); [`EncryptingWriter`] and [`encrypt_stream`].
//! 3. Whole-buffer and whole-file helpers ([`encrypt_bytes`], [`decrypt_bytes`],
//!    [`encrypt_file`], [`decrypt_file`], [`decrypt_to_path`]) that verify the tag before they report
//!    success and write files atomically.
//!
//! Every API here that hands plaintext to a caller's buffer, writer or file does so only after
//! the tag verified, except the two whose names say otherwise, for callers who truly need to
//! stream unauthenticated plaintext: [`UnverifiedDecryptingReader`] and
//! [`UnverifiedDecryptingWriter`] (and, by its documented contract, [`FileDecryptor::update`]).

mod backend;
mod gcm;
mod io;
mod verify;
mod whole;

use rand::TryRng as _;
use zeroize::Zeroizing;

pub use gcm::MAX_MESSAGE_LEN;
pub use io::{EncryptingWriter, UnverifiedDecryptingReader, UnverifiedDecryptingWriter};
pub use verify::{CiphertextSpool, FileVerifier, decrypt_seekable, decrypt_stream, verify_stream};
pub use whole::{
    AtomicFile, decrypt_bytes, decrypt_file, decrypt_to_path, encrypt_bytes, encrypt_file,
    encrypt_stream,
};

use crate::error::{Error, Result};
use crate::file_key::{IV_LEN, KEY_LEN, PlainFileKey};
use gcm::{Direction, GcmStream};

/// Encrypts one file as one AES-256-GCM message under a fresh random key and IV.
///
/// ```
/// use dracoon_crypto::{FileDecryptor, FileEncryptor};
///
/// let mut enc = FileEncryptor::new()?;
/// let mut chunk1 = b"The quick brown ".to_vec();
/// let mut chunk2 = b"fox".to_vec();
/// enc.update_in_place(&mut chunk1)?;
/// enc.update_in_place(&mut chunk2)?;
/// let file_key = enc.finalize(); // key, IV and tag
///
/// let mut dec = FileDecryptor::new(&file_key);
/// dec.update_in_place(&mut chunk1)?;
/// dec.update_in_place(&mut chunk2)?;
/// dec.finalize()?; // only now is the plaintext authentic
/// assert_eq!([chunk1, chunk2].concat(), b"The quick brown fox");
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
pub struct FileEncryptor {
    gcm: GcmStream,
    key: Zeroizing<[u8; KEY_LEN]>,
    iv: [u8; IV_LEN],
}

impl FileEncryptor {
    /// A new encryptor with a key and IV from the operating system's random number generator.
    pub fn new() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        let mut iv = [0u8; IV_LEN];
        let mut rng = rand::rngs::SysRng;
        rng.try_fill_bytes(key.as_mut_slice())
            .and_then(|()| rng.try_fill_bytes(&mut iv))
            .map_err(|_| Error::Random)?;
        Ok(Self::with_key_iv(key, iv))
    }

    fn with_key_iv(key: Zeroizing<[u8; KEY_LEN]>, iv: [u8; IV_LEN]) -> Self {
        FileEncryptor {
            gcm: GcmStream::new(&key, &iv),
            key,
            iv,
        }
    }

    /// An encryptor that reuses the key and IV of `file_key`.
    ///
    /// **Hazardous**: encrypting two different plaintexts under one key+IV reveals their XOR and
    /// lets an attacker forge tags. Only for known-answer tests and reproducible test vectors.
    #[cfg(feature = "hazmat")]
    #[must_use]
    pub fn hazmat_with_file_key(file_key: &PlainFileKey) -> Self {
        Self::with_key_iv(Zeroizing::new(*file_key.key_bytes()), *file_key.iv())
    }

    /// Encrypts `buf` in place. Any split of a file gives the same ciphertext.
    ///
    /// Fails only when the file would exceed [`MAX_MESSAGE_LEN`]; then nothing was encrypted.
    pub fn update_in_place(&mut self, buf: &mut [u8]) -> Result<()> {
        self.gcm.apply(Direction::Encrypt, buf)
    }

    /// Encrypts `input` into `output`, which must have the same length, in one pass over the
    /// data (no copy into `output` first).
    pub fn update(&mut self, input: &[u8], output: &mut [u8]) -> Result<()> {
        check_same_len(input, output)?;
        self.gcm.apply_to(Direction::Encrypt, input, output)
    }

    /// Bytes encrypted so far.
    #[must_use]
    pub fn bytes_processed(&self) -> u64 {
        self.gcm.len()
    }

    /// Ends the file and returns its key, IV and tag.
    #[must_use]
    pub fn finalize(self) -> PlainFileKey {
        let tag = self.gcm.finish();
        PlainFileKey::from_parts(&self.key, self.iv, tag)
    }
}

impl std::fmt::Debug for FileEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileEncryptor")
            .field("bytes_processed", &self.gcm.len())
            .finish_non_exhaustive()
    }
}

/// Decrypts one file encrypted as one AES-256-GCM message.
///
/// **The output of `update` is unauthenticated** until [`FileDecryptor::finalize`] returns `Ok`:
/// an attacker who modified the ciphertext controls it. Do not act on it, show it or store it
/// where it counts before then; the helpers in this module ([`decrypt_bytes`], [`decrypt_file`],
/// [`decrypt_stream`], [`decrypt_seekable`] ...) do that bookkeeping for you.
pub struct FileDecryptor {
    gcm: GcmStream,
    expected_tag: [u8; 16],
}

impl FileDecryptor {
    /// A decryptor for content encrypted under `file_key`.
    #[must_use]
    pub fn new(file_key: &PlainFileKey) -> Self {
        FileDecryptor {
            gcm: GcmStream::new(file_key.key_bytes(), file_key.iv()),
            expected_tag: *file_key.tag(),
        }
    }

    /// Decrypts `buf` in place (unauthenticated until `finalize`).
    pub fn update_in_place(&mut self, buf: &mut [u8]) -> Result<()> {
        self.gcm.apply(Direction::Decrypt, buf)
    }

    /// Decrypts `input` into `output`, which must have the same length, in one pass over the
    /// data (unauthenticated until `finalize`).
    pub fn update(&mut self, input: &[u8], output: &mut [u8]) -> Result<()> {
        check_same_len(input, output)?;
        self.gcm.apply_to(Direction::Decrypt, input, output)
    }

    /// Bytes decrypted so far.
    #[must_use]
    pub fn bytes_processed(&self) -> u64 {
        self.gcm.len()
    }

    /// Ends the file and checks the tag in constant time. [`Error::BadFile`] when the content,
    /// key, IV or tag was modified, or the ciphertext was truncated or extended.
    pub fn finalize(self) -> Result<()> {
        use subtle::ConstantTimeEq;
        let tag = self.gcm.finish();
        if bool::from(tag.ct_eq(&self.expected_tag)) {
            Ok(())
        } else {
            Err(Error::BadFile)
        }
    }
}

impl std::fmt::Debug for FileDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDecryptor")
            .field("bytes_processed", &self.gcm.len())
            .finish_non_exhaustive()
    }
}

/// One direction of the stream, so the adapters and helpers can drive either.
pub(crate) trait InPlace {
    /// Encrypts or decrypts `buf` in place.
    fn apply(&mut self, buf: &mut [u8]) -> Result<()>;
}

impl InPlace for FileEncryptor {
    fn apply(&mut self, buf: &mut [u8]) -> Result<()> {
        self.update_in_place(buf)
    }
}

impl InPlace for FileDecryptor {
    fn apply(&mut self, buf: &mut [u8]) -> Result<()> {
        self.update_in_place(buf)
    }
}

fn check_same_len(input: &[u8], output: &[u8]) -> Result<()> {
    if input.len() != output.len() {
        return Err(Error::InvalidArgument(
            "input and output buffers must have the same length",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_keys_differ() {
        let a = FileEncryptor::new().unwrap().finalize();
        let b = FileEncryptor::new().unwrap().finalize();
        assert_ne!(a.iv(), b.iv());
        assert_ne!(a, b);
    }

    #[test]
    fn empty_file_has_a_tag_and_verifies() {
        let key = FileEncryptor::new().unwrap().finalize();
        assert!(FileDecryptor::new(&key).finalize().is_ok());
    }

    #[test]
    fn truncated_and_extended_fail() {
        let mut enc = FileEncryptor::new().unwrap();
        let mut data = vec![5u8; 100];
        enc.update_in_place(&mut data).unwrap();
        let key = enc.finalize();

        let mut dec = FileDecryptor::new(&key);
        dec.update_in_place(&mut data.clone()[..99]).unwrap();
        assert!(matches!(dec.finalize(), Err(Error::BadFile)));

        let mut dec = FileDecryptor::new(&key);
        let mut longer = data.clone();
        longer.push(0);
        dec.update_in_place(&mut longer).unwrap();
        assert!(matches!(dec.finalize(), Err(Error::BadFile)));
    }

    #[test]
    fn update_checks_lengths() {
        let mut enc = FileEncryptor::new().unwrap();
        let mut out = [0u8; 3];
        assert!(matches!(
            enc.update(b"ab", &mut out),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(enc.bytes_processed(), 0);
    }
}
