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
pub(crate) fn pump(
    mut input: impl Read,
    mut output: impl Write,
    op: &mut impl InPlace,
) -> Result<()> {
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

/// A file that appears at its target path only when complete: [`AtomicFile::commit`] syncs its
/// data, moves it into place with one atomic rename and syncs the directory, so after a crash
/// the target holds either its old content or the whole new one. Dropped without commit,
/// nothing remains.
///
/// On Linux the file is created without a name (`O_TMPFILE`) in the target's directory and
/// gets one only at commit, so a process killed while writing (plaintext, say) leaves no file
/// behind at all. Elsewhere, or where the file system lacks `O_TMPFILE`, it is written under a
/// temporary name beside the target (`.NAME.XXXXXX.part`), removed when dropped. Either way it
/// is created with mode 0600 on Unix.
///
/// ```
/// use std::io::Write;
/// use dracoon_crypto::AtomicFile;
///
/// let dir = tempfile::tempdir()?;
/// let target = dir.path().join("report.txt");
/// let mut out = AtomicFile::new(&target)?;
/// out.file().write_all(b"all or nothing")?;
/// assert!(!target.exists());
/// out.commit()?;
/// assert_eq!(std::fs::read(&target)?, b"all or nothing");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    file: File,
    /// `None` for an unnamed (`O_TMPFILE`) file; else the temporary name, removed on drop.
    tmp: Option<tempfile::TempPath>,
    dir: std::path::PathBuf,
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
        #[cfg(target_os = "linux")]
        if let Some(file) = unnamed::create(dir) {
            return Ok(AtomicFile {
                file,
                tmp: None,
                dir: dir.to_path_buf(),
                target: target.to_path_buf(),
            });
        }
        let (file, path) = tempfile::Builder::new()
            .prefix(&temp_prefix(name))
            .suffix(".part")
            .tempfile_in(dir)?
            .into_parts();
        Ok(AtomicFile {
            file,
            tmp: Some(path),
            dir: dir.to_path_buf(),
            target: target.to_path_buf(),
        })
    }

    /// The file to write to.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Syncs the data to disk, renames the file to its target and syncs the directory.
    pub fn commit(self) -> Result<()> {
        self.file.sync_all()?;
        match self.tmp {
            Some(path) => path.persist(&self.target).map_err(|e| Error::Io(e.error))?,
            #[cfg(target_os = "linux")]
            None => unnamed::link_over(&self.file, &self.dir, &self.target)?,
            #[cfg(not(target_os = "linux"))]
            None => return Err(Error::InvalidArgument("unnamed files exist only on Linux")),
        }
        sync_dir(&self.dir)
    }
}

/// `.NAME.`: the prefix of temporary names beside a target called NAME.
fn temp_prefix(name: &std::ffi::OsStr) -> std::ffi::OsString {
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    prefix
}

/// Makes a rename in `dir` durable (Unix; elsewhere the rename is all there is).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Unnamed files on Linux: `O_TMPFILE`, then `linkat` through `/proc/self/fd` at commit.
#[cfg(target_os = "linux")]
mod unnamed {
    use std::fs::File;
    use std::os::fd::AsRawFd;
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};

    use rustix::fs::{AtFlags, CWD, Mode, OFlags};

    /// An unnamed file in `dir`, or `None` where the file system (or a missing `/proc`, which
    /// `link_over` needs) rules it out; the caller then falls back to a named one.
    pub(super) fn create(dir: &Path) -> Option<File> {
        if !Path::new("/proc/self/fd").is_dir() {
            return None;
        }
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        rustix::fs::openat(CWD, dir, flags, Mode::from_raw_mode(0o600))
            .ok()
            .map(File::from)
    }

    /// Gives `file` a temporary name in `dir`, then renames it over `target`.
    pub(super) fn link_over(file: &File, dir: &Path, target: &Path) -> std::io::Result<()> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let name = target.file_name().unwrap_or_default();
        let source = format!("/proc/self/fd/{}", file.as_raw_fd());
        for _ in 0..64 {
            let mut tmp = super::temp_prefix(name);
            tmp.push(format!(
                "{}-{}.part",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            ));
            let tmp = dir.join(tmp);
            match rustix::fs::linkat(CWD, source.as_str(), CWD, &tmp, AtFlags::SYMLINK_FOLLOW) {
                Ok(()) => {
                    return std::fs::rename(&tmp, target).inspect_err(|_| {
                        let _ = std::fs::remove_file(&tmp);
                    });
                }
                Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "no free temporary name beside the output file",
        ))
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

    /// While an output is being written, its directory holds no trace of it on Linux (a
    /// killed process leaves nothing); after commit exactly the target; without commit
    /// nothing. The old target stays until the rename.
    #[test]
    fn atomic_file_leaves_nothing_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let entries = || -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let target = dir.path().join("out.bin");
        std::fs::write(&target, b"old").unwrap();
        let mut f = AtomicFile::new(&target).unwrap();
        f.file().write_all(b"plaintext in progress").unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(entries(), ["out.bin"], "no named temporary file on Linux");
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        f.commit().unwrap();
        assert_eq!(entries(), ["out.bin"]);
        assert_eq!(std::fs::read(&target).unwrap(), b"plaintext in progress");

        let other = dir.path().join("never.bin");
        let mut f = AtomicFile::new(&other).unwrap();
        f.file().write_all(b"abandoned").unwrap();
        drop(f);
        assert_eq!(entries(), ["out.bin"]);

        // A target in the current directory (no parent component) works too.
        assert!(AtomicFile::new(Path::new("")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn atomic_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("secret.bin");
        let mut f = AtomicFile::new(&target).unwrap();
        assert_eq!(
            f.file().metadata().unwrap().permissions().mode() & 0o777,
            0o600
        );
        f.commit().unwrap();
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn empty_file() {
        let (ct, key) = encrypt_bytes(b"").unwrap();
        assert!(ct.is_empty());
        assert_eq!(decrypt_bytes(&ct, &key).unwrap(), b"");
    }
}
