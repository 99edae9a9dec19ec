//! `std::io` adapters over [`FileEncryptor`] and [`FileDecryptor`].
//!
//! Each adapter owns one fixed buffer, allocated once; after an I/O error the adapter is
//! poisoned (the GCM state has moved on and the stream cannot be resumed) and every further
//! call fails.

use std::io::{self, Read, Write};

use zeroize::Zeroizing;

use super::{FileDecryptor, FileEncryptor, InPlace};
use crate::error::{Error, Result};
use crate::file_key::PlainFileKey;

/// Size of the adapters' working buffer.
pub(crate) const BUF_LEN: usize = 256 * 1024;

fn poisoned() -> io::Error {
    io::Error::other("the stream failed earlier and cannot continue")
}

/// The part both writers share: the inner writer, one working buffer, and the poisoned flag.
struct Through<W: Write> {
    inner: W,
    buf: Zeroizing<Vec<u8>>,
    poisoned: bool,
}

impl<W: Write> Through<W> {
    fn new(inner: W) -> Self {
        Through {
            inner,
            buf: Zeroizing::new(vec![0u8; BUF_LEN]),
            poisoned: false,
        }
    }

    /// Runs up to one buffer of `data` through `op` into the inner writer.
    fn write(&mut self, op: &mut impl InPlace, data: &[u8]) -> io::Result<usize> {
        if self.poisoned {
            return Err(poisoned());
        }
        let n = data.len().min(self.buf.len());
        let (Some(src), Some(chunk)) = (data.get(..n), self.buf.get_mut(..n)) else {
            return Ok(0);
        };
        chunk.copy_from_slice(src);
        // If anything below fails, the GCM state and the inner writer disagree for good.
        self.poisoned = true;
        op.apply(chunk)?;
        self.inner.write_all(chunk)?;
        self.poisoned = false;
        Ok(n)
    }

    /// Flushes and hands back the inner writer, unless the stream failed earlier.
    fn finish(mut self) -> Result<W> {
        if self.poisoned {
            return Err(poisoned().into());
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// A [`Write`] that encrypts everything written to it into the inner writer.
///
/// [`EncryptingWriter::finish`] ends the file and returns the inner writer and the file key.
///
/// ```
/// use std::io::Write;
/// use dracoon_crypto::{decrypt_bytes, EncryptingWriter};
///
/// let mut w = EncryptingWriter::new(Vec::new())?;
/// w.write_all(b"hello ")?;
/// w.write_all(b"world")?;
/// let (ciphertext, file_key) = w.finish()?;
/// assert_eq!(decrypt_bytes(&ciphertext, &file_key)?, b"hello world");
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
pub struct EncryptingWriter<W: Write> {
    through: Through<W>,
    enc: FileEncryptor,
}

impl<W: Write> EncryptingWriter<W> {
    /// Encrypts into `inner` under a fresh file key.
    pub fn new(inner: W) -> Result<Self> {
        Ok(EncryptingWriter {
            through: Through::new(inner),
            enc: FileEncryptor::new()?,
        })
    }

    /// Bytes encrypted so far.
    #[must_use]
    pub fn bytes_processed(&self) -> u64 {
        self.enc.bytes_processed()
    }

    /// Flushes the inner writer and returns it with the file key (key, IV and tag).
    pub fn finish(self) -> Result<(W, PlainFileKey)> {
        let inner = self.through.finish()?;
        Ok((inner, self.enc.finalize()))
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.through.write(&mut self.enc, data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.through.inner.flush()
    }
}

impl<W: Write> std::fmt::Debug for EncryptingWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptingWriter")
            .field("bytes_processed", &self.bytes_processed())
            .finish_non_exhaustive()
    }
}

/// A [`Write`] that decrypts everything written to it into the inner writer **before the tag is
/// checked**.
///
/// **The inner writer receives unauthenticated plaintext**: an attacker who can edit the stored
/// ciphertext controls it, and only [`UnverifiedDecryptingWriter::finish`] tells whether it was
/// authentic. For callers who truly need to stream (media playback, say) and can undo what
/// they did with the bytes. Everyone else: [`super::decrypt_stream`] or
/// [`super::decrypt_seekable`] (a sink that gets plaintext only after the tag verified), or
/// [`super::decrypt_to_path`] for a file.
pub struct UnverifiedDecryptingWriter<W: Write> {
    through: Through<W>,
    dec: FileDecryptor,
}

impl<W: Write> UnverifiedDecryptingWriter<W> {
    /// Decrypts content encrypted under `file_key` into `inner`.
    #[must_use]
    pub fn new(inner: W, file_key: &PlainFileKey) -> Self {
        UnverifiedDecryptingWriter {
            through: Through::new(inner),
            dec: FileDecryptor::new(file_key),
        }
    }

    /// Flushes the inner writer and checks the tag: [`Error::BadFile`] when the content was not
    /// authentic.
    pub fn finish(self) -> Result<W> {
        let inner = self.through.finish()?;
        self.dec.finalize()?;
        Ok(inner)
    }
}

impl<W: Write> Write for UnverifiedDecryptingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.through.write(&mut self.dec, data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.through.inner.flush()
    }
}

impl<W: Write> std::fmt::Debug for UnverifiedDecryptingWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnverifiedDecryptingWriter")
            .field("bytes_processed", &self.dec.bytes_processed())
            .finish_non_exhaustive()
    }
}

/// A [`Read`] that yields the plaintext of the ciphertext read from the inner reader **before
/// the tag is checked**.
///
/// At the end of the ciphertext the tag is checked; if it does not verify, the final `read`
/// fails with an error of kind [`io::ErrorKind::InvalidData`] that converts back into
/// [`Error::BadFile`]. **Every byte returned before that is unauthenticated**: a consumer must
/// not trust it unless it reads to the end without error. For callers who truly need to stream;
/// everyone else: [`super::decrypt_stream`] or [`super::decrypt_seekable`].
pub struct UnverifiedDecryptingReader<R: Read> {
    inner: R,
    dec: Option<FileDecryptor>,
    failed: bool,
}

impl<R: Read> UnverifiedDecryptingReader<R> {
    /// Decrypts the ciphertext in `inner`, encrypted under `file_key`.
    #[must_use]
    pub fn new(inner: R, file_key: &PlainFileKey) -> Self {
        UnverifiedDecryptingReader {
            inner,
            dec: Some(FileDecryptor::new(file_key)),
            failed: false,
        }
    }

    /// Whether the whole ciphertext was read and its tag verified.
    #[must_use]
    pub fn is_verified(&self) -> bool {
        self.dec.is_none() && !self.failed
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for UnverifiedDecryptingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(Error::BadFile.into());
        }
        let Some(dec) = self.dec.as_mut() else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            let result = self.dec.take().map_or(Ok(()), FileDecryptor::finalize);
            if let Err(e) = result {
                self.failed = true;
                return Err(e.into());
            }
            return Ok(0);
        }
        let chunk = buf
            .get_mut(..n)
            .ok_or_else(|| io::Error::other("reader overran"))?;
        dec.update_in_place(chunk)?;
        Ok(n)
    }
}

impl<R: Read> std::fmt::Debug for UnverifiedDecryptingReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnverifiedDecryptingReader")
            .field("verified", &self.is_verified())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::encrypt_bytes;

    #[test]
    fn writer_round_trip_in_odd_pieces() {
        let data: Vec<u8> = (0..(BUF_LEN * 2 + 123)).map(|i| (i % 251) as u8).collect();
        let mut w = EncryptingWriter::new(Vec::new()).unwrap();
        for piece in data.chunks(7777) {
            w.write_all(piece).unwrap();
        }
        let (ct, key) = w.finish().unwrap();
        assert_eq!(ct.len(), data.len());

        let mut d = UnverifiedDecryptingWriter::new(Vec::new(), &key);
        d.write_all(&ct).unwrap();
        assert_eq!(d.finish().unwrap(), data);
    }

    #[test]
    fn reader_verifies_at_the_end() {
        let (mut ct, key) = encrypt_bytes(b"attack at dawn").unwrap();
        let mut out = Vec::new();
        let mut r = UnverifiedDecryptingReader::new(ct.as_slice(), &key);
        r.read_to_end(&mut out).unwrap();
        assert!(r.is_verified());
        assert_eq!(out, b"attack at dawn");

        ct[0] ^= 1;
        let mut r = UnverifiedDecryptingReader::new(ct.as_slice(), &key);
        let err = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(Error::from(err), Error::BadFile));
        assert!(!r.is_verified());
        assert!(r.read(&mut [0u8; 4]).is_err(), "stays failed");
    }
}
