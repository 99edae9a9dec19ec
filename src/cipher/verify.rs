//! Verify-then-decrypt: plaintext reaches a caller's sink only after the tag verified.
//!
//! A DRACOON file is one GCM message whose tag sits in the file key, so a streaming decryptor
//! learns whether the content is authentic only at the very end. Whoever can edit the stored
//! ciphertext can flip chosen plaintext bits, and a consumer that acts on streamed plaintext
//! sees them before the error. The functions here make two passes instead:
//!
//! 1. GHASH over the ciphertext alone (no decryption; on the VAES/VPCLMULQDQ backend this
//!    runs well above memory speed), compared in constant time with the file key's tag;
//! 2. decryption into the sink, which re-computes the tag on the way (at no extra cost) and
//!    reports a source that changed between the passes.
//!
//! A seekable source ([`decrypt_seekable`]) is read twice. Any other source ([`decrypt_stream`],
//! [`CiphertextSpool`]) is first spooled, as ciphertext, into an unnamed temporary file (Linux:
//! `O_TMPFILE`; elsewhere a file created with mode 0600 and removed at once), in bounded memory,
//! so nobody else can change it between the passes.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use super::FileDecryptor;
use super::gcm::TagStream;
use super::whole::{PUMP_LEN, pump, read_some};
use crate::error::{Error, Result};
use crate::file_key::PlainFileKey;

/// Checks a file's tag from its ciphertext alone, without decrypting it.
///
/// ```
/// use dracoon_crypto::{FileVerifier, encrypt_bytes};
///
/// let (ciphertext, file_key) = encrypt_bytes(b"ledger")?;
/// let mut v = FileVerifier::new(&file_key);
/// v.update(&ciphertext[..2])?;
/// v.update(&ciphertext[2..])?;
/// v.finalize()?; // Err(Error::BadFile) had anything been changed
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
pub struct FileVerifier {
    tag: TagStream,
    expected: [u8; 16],
}

impl FileVerifier {
    /// A verifier for content encrypted under `file_key`.
    #[must_use]
    pub fn new(file_key: &PlainFileKey) -> Self {
        FileVerifier {
            tag: TagStream::new(file_key.key_bytes(), file_key.iv()),
            expected: *file_key.tag(),
        }
    }

    /// Absorbs the next piece of ciphertext (split anywhere).
    ///
    /// Fails only when the file would exceed [`super::MAX_MESSAGE_LEN`].
    pub fn update(&mut self, ciphertext: &[u8]) -> Result<()> {
        self.tag.absorb(ciphertext)
    }

    /// Bytes absorbed so far.
    #[must_use]
    pub fn bytes_processed(&self) -> u64 {
        self.tag.len()
    }

    /// Compares the tag in constant time: [`Error::BadFile`] when the content, key, IV or tag
    /// was modified, or the ciphertext was truncated or extended.
    pub fn finalize(self) -> Result<()> {
        use subtle::ConstantTimeEq;
        if bool::from(self.tag.finish().ct_eq(&self.expected)) {
            Ok(())
        } else {
            Err(Error::BadFile)
        }
    }
}

impl std::fmt::Debug for FileVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileVerifier")
            .field("bytes_processed", &self.tag.len())
            .finish_non_exhaustive()
    }
}

/// Reads `input` to its end and checks the tag, without decrypting: the number of ciphertext
/// bytes, or [`Error::BadFile`].
///
/// ```
/// let (ciphertext, file_key) = dracoon_crypto::encrypt_bytes(b"minutes")?;
/// assert_eq!(dracoon_crypto::verify_stream(ciphertext.as_slice(), &file_key)?, 7);
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
pub fn verify_stream(input: impl Read, file_key: &PlainFileKey) -> Result<u64> {
    let mut v = FileVerifier::new(file_key);
    for_each_chunk(input, |chunk| v.update(chunk))?;
    let n = v.bytes_processed();
    v.finalize()?;
    Ok(n)
}

/// Decrypts a seekable source (a file) into `output`, which receives plaintext only after the
/// tag verified: pass 1 checks the tag over the ciphertext from the current position to the
/// end, pass 2 seeks back and decrypts. Returns the number of plaintext bytes.
///
/// On [`Error::BadFile`] from pass 1, `output` received nothing. Pass 2 checks the tag again;
/// should the source change between the passes (another process writing the file), it fails
/// with [`Error::BadFile`] after `output` received part of the changed content. Where the
/// source may be written concurrently, use [`decrypt_stream`], which reads it once into a
/// private spool.
///
/// ```
/// use std::io::Cursor;
/// use dracoon_crypto::{decrypt_seekable, encrypt_bytes, Error};
///
/// let (mut ciphertext, file_key) = encrypt_bytes(b"payroll")?;
/// let mut out = Vec::new();
/// decrypt_seekable(Cursor::new(&ciphertext), &mut out, &file_key)?;
/// assert_eq!(out, b"payroll");
///
/// ciphertext[0] ^= 1;
/// let mut out = Vec::new();
/// let err = decrypt_seekable(Cursor::new(&ciphertext), &mut out, &file_key);
/// assert!(matches!(err, Err(Error::BadFile)));
/// assert!(out.is_empty(), "nothing before the tag verified");
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
pub fn decrypt_seekable<R: Read + Seek>(
    mut input: R,
    output: impl Write,
    file_key: &PlainFileKey,
) -> Result<u64> {
    let start = input.stream_position()?;
    let len = verify_stream(&mut input, file_key)?;
    input.seek(SeekFrom::Start(start))?;
    decrypt_verified(input.take(len), output, FileDecryptor::new(file_key), len)
}

/// Decrypts any source into `output`, which receives plaintext only after the tag verified.
/// The ciphertext is first spooled into an unnamed temporary file (see [`CiphertextSpool`]);
/// memory stays bounded whatever the size. Returns the number of plaintext bytes.
///
/// ```
/// use dracoon_crypto::{decrypt_stream, encrypt_bytes, Error};
///
/// let (mut ciphertext, file_key) = encrypt_bytes(b"contract")?;
/// let mut out = Vec::new();
/// decrypt_stream(ciphertext.as_slice(), &mut out, &file_key)?;
/// assert_eq!(out, b"contract");
///
/// *ciphertext.last_mut().unwrap() ^= 1;
/// let mut out = Vec::new();
/// assert!(matches!(
///     decrypt_stream(ciphertext.as_slice(), &mut out, &file_key),
///     Err(Error::BadFile)
/// ));
/// assert!(out.is_empty());
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
pub fn decrypt_stream(
    input: impl Read,
    output: impl Write,
    file_key: &PlainFileKey,
) -> Result<u64> {
    let mut spool = CiphertextSpool::new(file_key)?;
    for_each_chunk(input, |chunk| spool.push(chunk))?;
    spool.finish(output)
}

/// Collects a file's ciphertext (for example the chunks of a download) in an unnamed temporary
/// file while checking its tag on the way; [`CiphertextSpool::finish`] then decrypts it into a
/// sink only if the tag verified.
///
/// The spool holds ciphertext only, never plaintext. Its file has no name (Linux `O_TMPFILE`;
/// elsewhere created with mode 0600 and unlinked at once) and disappears with the value.
///
/// ```
/// use std::io::Write;
/// use dracoon_crypto::{CiphertextSpool, encrypt_bytes};
///
/// let (ciphertext, file_key) = encrypt_bytes(b"chunked download")?;
/// let mut spool = CiphertextSpool::new(&file_key)?;
/// for chunk in ciphertext.chunks(5) {
///     spool.write_all(chunk)?;
/// }
/// let mut out = Vec::new();
/// assert_eq!(spool.finish(&mut out)?, 16);
/// assert_eq!(out, b"chunked download");
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
pub struct CiphertextSpool {
    file: File,
    verifier: FileVerifier,
    decryptor: FileDecryptor,
    /// An I/O error left the file and the verifier out of step for good.
    poisoned: bool,
}

impl CiphertextSpool {
    /// An empty spool for a file encrypted under `file_key`.
    pub fn new(file_key: &PlainFileKey) -> Result<Self> {
        Ok(CiphertextSpool {
            file: tempfile::tempfile()?,
            verifier: FileVerifier::new(file_key),
            decryptor: FileDecryptor::new(file_key),
            poisoned: false,
        })
    }

    /// Appends the next piece of ciphertext.
    pub fn push(&mut self, ciphertext: &[u8]) -> Result<()> {
        if self.poisoned {
            return Err(Error::Io(io::Error::other(
                "the spool failed earlier and cannot continue",
            )));
        }
        self.verifier.update(ciphertext)?;
        self.poisoned = true;
        self.file.write_all(ciphertext)?;
        self.poisoned = false;
        Ok(())
    }

    /// Bytes spooled so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.verifier.bytes_processed()
    }

    /// Whether nothing was spooled yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the tag and, only if it verifies, decrypts the whole file into `output`; returns
    /// the number of plaintext bytes. On [`Error::BadFile`], `output` received nothing.
    pub fn finish(mut self, output: impl Write) -> Result<u64> {
        if self.poisoned {
            return Err(Error::Io(io::Error::other(
                "the spool failed earlier and cannot continue",
            )));
        }
        let len = self.verifier.bytes_processed();
        self.verifier.finalize()?;
        self.file.seek(SeekFrom::Start(0))?;
        decrypt_verified(self.file.take(len), output, self.decryptor, len)
    }
}

impl Write for CiphertextSpool {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.push(data).map_err(io::Error::from)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for CiphertextSpool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CiphertextSpool")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// Reads `input` to its end in ciphertext-sized pieces (no secrets: no wiping needed).
fn for_each_chunk(mut input: impl Read, mut each: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let mut buf = vec![0u8; PUMP_LEN];
    loop {
        let n = read_some(&mut input, &mut buf)?;
        match buf.get(..n) {
            Some(chunk) if !chunk.is_empty() => each(chunk)?,
            _ => return Ok(()),
        }
    }
}

/// Pass 2: decrypts the `len` bytes of already verified ciphertext in `input` into `output`,
/// checking the tag (and the length) again at the end.
fn decrypt_verified(
    input: impl Read,
    output: impl Write,
    mut dec: FileDecryptor,
    len: u64,
) -> Result<u64> {
    pump(input, output, &mut dec)?;
    let n = dec.bytes_processed();
    dec.finalize()?;
    if n != len {
        // The source shrank between the passes.
        return Err(Error::BadFile);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::encrypt_bytes;
    use std::io::Cursor;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 253) as u8).collect()
    }

    #[test]
    fn every_path_round_trips_across_buffer_boundaries() {
        for len in [
            0,
            1,
            16,
            17,
            PUMP_LEN - 1,
            PUMP_LEN,
            PUMP_LEN + 1,
            2 * PUMP_LEN + 5,
        ] {
            let data = sample(len);
            let (ct, key) = encrypt_bytes(&data).unwrap();
            assert_eq!(verify_stream(ct.as_slice(), &key).unwrap(), len as u64);
            let mut out = Vec::new();
            assert_eq!(
                decrypt_seekable(Cursor::new(&ct), &mut out, &key).unwrap(),
                len as u64
            );
            assert_eq!(out, data);
            let mut out = Vec::new();
            assert_eq!(
                decrypt_stream(ct.as_slice(), &mut out, &key).unwrap(),
                len as u64
            );
            assert_eq!(out, data);
        }
    }

    #[test]
    fn any_single_bit_flip_releases_nothing() {
        let data = sample(PUMP_LEN + 100);
        let (ct, key) = encrypt_bytes(&data).unwrap();
        for pos in [0, 1, PUMP_LEN - 1, PUMP_LEN, ct.len() - 1] {
            let mut bad = ct.clone();
            bad[pos] ^= 0x20;
            let mut out = Vec::new();
            assert!(matches!(
                decrypt_seekable(Cursor::new(&bad), &mut out, &key),
                Err(Error::BadFile)
            ));
            assert!(
                out.is_empty(),
                "seekable released plaintext (flip at {pos})"
            );
            assert!(matches!(
                decrypt_stream(bad.as_slice(), &mut out, &key),
                Err(Error::BadFile)
            ));
            assert!(out.is_empty(), "stream released plaintext (flip at {pos})");
        }
        // Truncated and extended.
        let mut out = Vec::new();
        assert!(decrypt_stream(&ct[..ct.len() - 1], &mut out, &key).is_err());
        let mut longer = ct.clone();
        longer.push(0);
        assert!(decrypt_seekable(Cursor::new(&longer), &mut out, &key).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn seekable_starts_at_the_current_position() {
        let (ct, key) = encrypt_bytes(b"after a header").unwrap();
        let mut framed = b"HDR".to_vec();
        framed.extend_from_slice(&ct);
        let mut src = Cursor::new(framed);
        src.seek(SeekFrom::Start(3)).unwrap();
        let mut out = Vec::new();
        decrypt_seekable(&mut src, &mut out, &key).unwrap();
        assert_eq!(out, b"after a header");
    }

    /// A source that changes between the passes: pass 2 notices.
    struct Shifty {
        data: Vec<u8>,
        pos: usize,
        rewound: bool,
    }

    impl Read for Shifty {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let rest = self.data.get(self.pos..).unwrap_or_default();
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.pos += n;
            Ok(n)
        }
    }

    impl Seek for Shifty {
        fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
            if let SeekFrom::Start(p) = to {
                self.pos = p as usize;
                if !self.rewound && p == 0 && !self.data.is_empty() {
                    self.rewound = true;
                    self.data[0] ^= 1;
                }
            }
            Ok(self.pos as u64)
        }
    }

    #[test]
    fn a_source_changed_between_the_passes_fails() {
        let (ct, key) = encrypt_bytes(b"swap me").unwrap();
        let src = Shifty {
            data: ct,
            pos: 0,
            rewound: false,
        };
        let mut out = Vec::new();
        assert!(matches!(
            decrypt_seekable(src, &mut out, &key),
            Err(Error::BadFile)
        ));
    }

    #[test]
    fn verifier_agrees_with_the_decryptor() {
        let (ct, key) = encrypt_bytes(&sample(1000)).unwrap();
        let mut v = FileVerifier::new(&key);
        for piece in ct.chunks(37) {
            v.update(piece).unwrap();
        }
        assert_eq!(v.bytes_processed(), 1000);
        assert!(format!("{v:?}").contains("1000"));
        v.finalize().unwrap();
    }
}
