//! Whole-buffer and whole-file helpers: they verify the tag before they report success, and
//! files appear only complete and authenticated.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

use super::{FileDecryptor, FileEncryptor, InPlace};
use crate::error::{Error, Result};
use crate::file_key::PlainFileKey;

/// Encrypts a whole buffer under a fresh file key: `(ciphertext, file key)`.
///
/// ```
/// let (ciphertext, file_key) = dracoon_crypto::encrypt_bytes(b"secret")?;
/// assert_eq!(ciphertext.len(), 6); // GCM keeps the length; the tag is in the file key
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
pub fn encrypt_bytes(plaintext: &[u8]) -> Result<(Vec<u8>, PlainFileKey)> {
    let mut enc = FileEncryptor::new()?;
    let mut buf = plaintext.to_vec();
    enc.update_in_place(&mut buf)?;
    Ok((buf, enc.finalize()))
}

/// Decrypts a whole buffer and returns the plaintext only if the tag verifies
/// ([`Error::BadFile`] otherwise; the unauthenticated bytes are wiped).
///
/// ```
/// use dracoon_crypto::{decrypt_bytes, encrypt_bytes, Error};
/// let (mut ciphertext, file_key) = encrypt_bytes(b"secret")?;
/// assert_eq!(decrypt_bytes(&ciphertext, &file_key)?, b"secret");
/// ciphertext[0] ^= 1;
/// assert!(matches!(decrypt_bytes(&ciphertext, &file_key), Err(Error::BadFile)));
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
pub fn decrypt_bytes(ciphertext: &[u8], file_key: &PlainFileKey) -> Result<Vec<u8>> {
    let mut dec = FileDecryptor::new(file_key);
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    dec.update_in_place(&mut buf)?;
    dec.finalize()?;
    Ok(std::mem::take(&mut *buf))
}

/// Encrypts the file `src` into `dst` under a fresh file key, streaming in bounded memory.
/// `dst` appears only when complete (written beside it under a temporary name, then renamed).
pub fn encrypt_file(src: &Path, dst: &Path) -> Result<PlainFileKey> {
    let input = File::open(src)?;
    let mut out = AtomicFile::new(dst)?;
    let key = encrypt_stream(input, out.file())?;
    out.commit()?;
    Ok(key)
}

/// Decrypts the file `src` into `dst`. `dst` appears only after the tag verified; on any
/// failure it is left untouched (and no temporary file remains).
pub fn decrypt_file(src: &Path, dst: &Path, file_key: &PlainFileKey) -> Result<u64> {
    decrypt_to_path(File::open(src)?, dst, file_key)
}

/// Decrypts the ciphertext read from `input` into the file `dst`, which appears only after
/// the tag verified. Returns the number of plaintext bytes.
///
/// ```
/// use dracoon_crypto::{decrypt_to_path, encrypt_bytes};
/// let dir = tempfile::tempdir()?;
/// let (ciphertext, file_key) = encrypt_bytes(b"report")?;
/// let out = dir.path().join("report.txt");
/// decrypt_to_path(ciphertext.as_slice(), &out, &file_key)?;
/// assert_eq!(std::fs::read(&out)?, b"report");
///
/// let mut tampered = ciphertext.clone();
/// tampered[0] ^= 0x80;
/// let other = dir.path().join("tampered.txt");
/// assert!(decrypt_to_path(tampered.as_slice(), &other, &file_key).is_err());
/// assert!(!other.exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decrypt_to_path(input: impl Read, dst: &Path, file_key: &PlainFileKey) -> Result<u64> {
    let mut out = AtomicFile::new(dst)?;
    let n = decrypt_stream_unverified(input, out.file(), file_key)?;
    out.commit()?;
    Ok(n)
}

/// Streams `input` through a fresh encryptor into `output` in bounded memory and returns the
/// file key. (For a file target, write through [`AtomicFile`] so that it appears only whole.)
///
/// ```
/// let mut ciphertext = Vec::new();
/// let file_key = dracoon_crypto::encrypt_stream(&b"streamed"[..], &mut ciphertext)?;
/// assert_eq!(dracoon_crypto::decrypt_bytes(&ciphertext, &file_key)?, b"streamed");
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
pub fn encrypt_stream(input: impl Read, output: impl Write) -> Result<PlainFileKey> {
    let mut enc = FileEncryptor::new()?;
    pump(input, output, &mut enc)?;
    Ok(enc.finalize())
}

/// Streams `input` through a decryptor into `output` and checks the tag at the end. `output`
/// has received unauthenticated plaintext by the time an error is returned.
pub(crate) fn decrypt_stream_unverified(
    input: impl Read,
    output: impl Write,
    file_key: &PlainFileKey,
) -> Result<u64> {
    let mut dec = FileDecryptor::new(file_key);
    pump(input, output, &mut dec)?;
    let n = dec.bytes_processed();
    dec.finalize()?;
    Ok(n)
}

/// The buffer of the whole-stream helpers: large enough that read/write system calls and
/// per-call setup vanish next to the cipher work (1 MiB runs at memory speed), small enough
/// for a bounded footprint.
pub(crate) const PUMP_LEN: usize = 1024 * 1024;

/// Reads `input` to its end through `op` into `output`, one bounded buffer at a time.
fn pump(mut input: impl Read, mut output: impl Write, op: &mut impl InPlace) -> Result<()> {
    let mut buf = Zeroizing::new(vec![0u8; PUMP_LEN]);
    loop {
        let n = read_some(&mut input, &mut buf)?;
        let Some(chunk) = buf.get_mut(..n) else { break };
        if chunk.is_empty() {
            break;
        }
        op.apply(chunk)?;
        output.write_all(chunk)?;
    }
    output.flush()?;
    Ok(())
}

/// `read`, retried on `Interrupted`.
pub(crate) fn read_some(input: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    loop {
        match input.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// A file written under a temporary name beside its target and renamed over it on
/// [`AtomicFile::commit`]; dropped without commit, the temporary file is deleted.
///
/// The file is created with mode 0600 on Unix (it may hold plaintext).
#[derive(Debug)]
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    target: std::path::PathBuf,
}

impl AtomicFile {
    /// Starts writing `target`.
    pub fn new(target: &Path) -> Result<Self> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .ok_or(Error::InvalidArgument("output path has no file name"))?;
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let tmp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".part")
            .tempfile_in(dir)?;
        Ok(AtomicFile {
            tmp,
            target: target.to_path_buf(),
        })
    }

    /// The temporary file to write to.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Syncs the data to disk and renames the file to its target.
    pub fn commit(self) -> Result<()> {
        self.tmp.as_file().sync_all()?;
        self.tmp
            .persist(&self.target)
            .map_err(|e| Error::Io(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_round_trip_and_atomic_failure() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.bin");
        let data: Vec<u8> = (0..(PUMP_LEN * 3 + 17))
            .map(|i| (i * 31 % 256) as u8)
            .collect();
        std::fs::write(&plain, &data).unwrap();

        let enc = dir.path().join("enc.bin");
        let key = encrypt_file(&plain, &enc).unwrap();
        let out = dir.path().join("out.bin");
        assert_eq!(decrypt_file(&enc, &out, &key).unwrap(), data.len() as u64);
        assert_eq!(std::fs::read(&out).unwrap(), data);

        // Tamper with the last byte: nothing new appears, and the old target is untouched.
        let mut ct = std::fs::read(&enc).unwrap();
        *ct.last_mut().unwrap() ^= 1;
        std::fs::write(&enc, &ct).unwrap();
        std::fs::write(&out, b"previous").unwrap();
        assert!(matches!(
            decrypt_file(&enc, &out, &key),
            Err(Error::BadFile)
        ));
        assert_eq!(std::fs::read(&out).unwrap(), b"previous");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn empty_file() {
        let (ct, key) = encrypt_bytes(b"").unwrap();
        assert!(ct.is_empty());
        assert_eq!(decrypt_bytes(&ct, &key).unwrap(), b"");
    }
}
