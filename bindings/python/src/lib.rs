//! `dracoon_crypto` for Python: the dracoon-crypto core through PyO3 (abi3, CPython >= 3.9).
//!
//! The module-level functions are the contract of PYTHON.md; the classes on top (`KeyPair`,
//! `PublicKey`, `PrivateKey`, `FileKey`, `EncryptedFileKey`, `Encryptor`, `Decryptor`) are the
//! Python API a user expects. Secrets stay in the Rust types, which wipe themselves when the
//! Python object is collected; their `repr` is redacted. PBKDF2, RSA and GCM over more than
//! [`DETACH_MIN`] bytes run with the GIL released. Every Rust error becomes one of the module's
//! exception classes (I/O errors become `OSError`); nothing panics on any input.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use pyo3::exceptions::{PyException, PyOSError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

pyo3::create_exception!(
    dracoon_crypto,
    Error,
    PyException,
    "Base class of every dracoon_crypto error."
);
pyo3::create_exception!(
    dracoon_crypto,
    WrongPassword,
    Error,
    "The password does not open the private key."
);
pyo3::create_exception!(
    dracoon_crypto,
    InvalidKeyPair,
    Error,
    "A key pair or private key is malformed or inconsistent."
);
pyo3::create_exception!(
    dracoon_crypto,
    InvalidFileKey,
    Error,
    "A file key is malformed or does not unwrap."
);
pyo3::create_exception!(
    dracoon_crypto,
    BadFile,
    Error,
    "The file's GCM tag does not verify: it was modified, truncated or extended."
);
pyo3::create_exception!(
    dracoon_crypto,
    VersionMismatch,
    Error,
    "The versions of a key pair and a file key do not fit together."
);
pyo3::create_exception!(
    dracoon_crypto,
    UnsupportedVersion,
    Error,
    "An unknown key pair or file key version."
);
pyo3::create_exception!(
    dracoon_crypto,
    LimitExceeded,
    Error,
    "An input exceeds a limit (size, iteration count, ...)."
);
pyo3::create_exception!(
    dracoon_crypto,
    InvalidArgument,
    Error,
    "An argument is not acceptable."
);

/// Below this many bytes, GCM runs with the GIL held (releasing it costs more than the work).
const DETACH_MIN: usize = 64 * 1024;
/// Bytes per read in the file-object helpers.
const STREAM_CHUNK: usize = 1 << 20;

/// The Python exception for a Rust error: the message never contains secrets.
fn err(e: dc::Error) -> PyErr {
    let msg = e.to_string();
    match e {
        dc::Error::WrongPassword => WrongPassword::new_err(msg),
        dc::Error::InvalidKeyPair(_) => InvalidKeyPair::new_err(msg),
        dc::Error::InvalidFileKey(_) => InvalidFileKey::new_err(msg),
        dc::Error::BadFile => BadFile::new_err(msg),
        dc::Error::VersionMismatch(_) => VersionMismatch::new_err(msg),
        dc::Error::UnsupportedVersion { .. } => UnsupportedVersion::new_err(msg),
        dc::Error::LimitExceeded(_) => LimitExceeded::new_err(msg),
        dc::Error::InvalidArgument(_) => InvalidArgument::new_err(msg),
        dc::Error::Io(io) => PyOSError::new_err(io.to_string()),
        _ => Error::new_err(msg),
    }
}

trait OrPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> OrPy<T> for dc::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(err)
    }
}

fn password(p: &str) -> dc::Password {
    dc::Password::new(p)
}

fn version(v: &str) -> PyResult<dc::UserKeyPairVersion> {
    match v {
        "A" => Ok(dc::UserKeyPairVersion::Rsa2048),
        "RSA-4096" => Ok(dc::UserKeyPairVersion::Rsa4096),
        _ => Err(UnsupportedVersion::new_err(format!(
            "unknown key pair version {:?} (expected \"A\" or \"RSA-4096\")",
            v.chars().take(32).collect::<String>()
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Classes.

/// A plain file key: AES-256 key, 96-bit IV and (after encryption) the GCM tag. Secret: wiped
/// when collected, redacted in ``repr``.
#[pyclass(module = "dracoon_crypto", frozen)]
struct FileKey(dc::PlainFileKey);

#[pymethods]
impl FileKey {
    /// Reads a plain ``FileKey`` JSON.
    #[staticmethod]
    fn from_json(json: &str) -> PyResult<Self> {
        dc::PlainFileKey::from_json(json).py_err().map(FileKey)
    }

    /// The plain ``FileKey`` JSON (version ``"A"``). Secret.
    fn to_json(&self) -> String {
        self.0.to_json().to_string()
    }

    /// The file's IV (12 bytes).
    #[getter]
    fn iv<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.iv())
    }

    /// The file's GCM tag (16 bytes).
    #[getter]
    fn tag<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.tag())
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.0 == other.0
    }

    fn __repr__(&self) -> &'static str {
        "FileKey(<redacted>)"
    }
}

/// A file key wrapped (RSA-OAEP) for one public key: the API's ``FileKey`` JSON.
#[pyclass(module = "dracoon_crypto", frozen)]
struct EncryptedFileKey(dc::EncryptedFileKey);

#[pymethods]
impl EncryptedFileKey {
    /// Reads a wrapped ``FileKey`` JSON.
    #[staticmethod]
    fn from_json(json: &str) -> PyResult<Self> {
        dc::EncryptedFileKey::from_json(json)
            .py_err()
            .map(EncryptedFileKey)
    }

    fn to_json(&self) -> String {
        self.0.to_json()
    }

    /// ``"A"`` (RSA-2048) or ``"RSA-4096/AES-256-GCM"``.
    #[getter]
    fn version(&self) -> String {
        self.0.version().to_string()
    }

    #[getter]
    fn iv<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.iv())
    }

    #[getter]
    fn tag<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.tag())
    }

    #[getter]
    fn wrapped_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.wrapped_key())
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.0 == other.0
    }

    fn __repr__(&self) -> String {
        format!(
            "EncryptedFileKey(version={:?})",
            self.0.version().to_string()
        )
    }
}

/// A public key (``PublicKeyContainer``).
#[pyclass(module = "dracoon_crypto", frozen)]
struct PublicKey(dc::UserPublicKey);

#[pymethods]
impl PublicKey {
    /// Reads a ``PublicKeyContainer`` JSON, or the public half of a whole key pair JSON.
    #[staticmethod]
    fn from_json(json: &str) -> PyResult<Self> {
        let c = dc::PublicKeyContainer::from_json(json).py_err()?;
        dc::UserPublicKey::from_container(&c)
            .py_err()
            .map(PublicKey)
    }

    fn to_json(&self) -> PyResult<String> {
        Ok(self.0.to_container().py_err()?.to_json())
    }

    /// ``"A"`` or ``"RSA-4096"``.
    #[getter]
    fn version(&self) -> String {
        self.0.version().to_string()
    }

    /// Wraps a file key for this public key (RSA-OAEP, GIL released).
    fn wrap(&self, py: Python<'_>, file_key: &FileKey) -> PyResult<EncryptedFileKey> {
        py.detach(|| self.0.wrap_file_key(&file_key.0))
            .py_err()
            .map(EncryptedFileKey)
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.0 == other.0
    }

    fn __repr__(&self) -> String {
        format!("PublicKey(version={:?})", self.0.version().to_string())
    }
}

/// An unlocked private key. Secret: wiped when collected, redacted in ``repr``.
#[pyclass(module = "dracoon_crypto", frozen)]
struct PrivateKey(dc::UserPrivateKey);

#[pymethods]
impl PrivateKey {
    /// Unlocks a ``PrivateKeyContainer`` JSON with the password (PBKDF2, GIL released).
    #[staticmethod]
    fn unlock(py: Python<'_>, private_key_json: &str, password: &str) -> PyResult<Self> {
        let c = dc::PrivateKeyContainer::from_json(private_key_json).py_err()?;
        let pw = self::password(password);
        py.detach(|| c.unlock(&pw)).py_err().map(PrivateKey)
    }

    /// Reads an unencrypted private key container (PKCS#1/PKCS#8 PEM), as older SDKs wrote.
    #[staticmethod]
    fn from_plain_json(json: &str) -> PyResult<Self> {
        let c = dc::PrivateKeyContainer::from_json(json).py_err()?;
        dc::UserPrivateKey::from_plain_container(&c)
            .py_err()
            .map(PrivateKey)
    }

    #[getter]
    fn version(&self) -> String {
        self.0.version().to_string()
    }

    /// Unwraps a file key (RSA-OAEP, GIL released).
    fn unwrap(&self, py: Python<'_>, file_key: &EncryptedFileKey) -> PyResult<FileKey> {
        py.detach(|| self.0.unwrap_file_key(&file_key.0))
            .py_err()
            .map(FileKey)
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.0 == other.0
    }

    fn __repr__(&self) -> String {
        format!(
            "PrivateKey(version={:?}, <redacted>)",
            self.0.version().to_string()
        )
    }
}

/// An unlocked key pair. Secret: wiped when collected (or at the end of a ``with`` block),
/// redacted in ``repr``.
#[pyclass(module = "dracoon_crypto")]
struct KeyPair(Option<dc::UserKeyPair>);

impl KeyPair {
    fn get(&self) -> PyResult<&dc::UserKeyPair> {
        self.0
            .as_ref()
            .ok_or_else(|| InvalidArgument::new_err("the key pair was closed"))
    }
}

#[pymethods]
impl KeyPair {
    /// A new key pair: version ``"A"`` (RSA-2048) or ``"RSA-4096"`` (GIL released).
    #[staticmethod]
    fn generate(py: Python<'_>, version: &str) -> PyResult<Self> {
        let v = self::version(version)?;
        py.detach(|| dc::UserKeyPair::generate(v))
            .py_err()
            .map(|k| KeyPair(Some(k)))
    }

    /// Unlocks a ``UserKeyPairContainer`` JSON (PBKDF2 and the key check, GIL released).
    #[staticmethod]
    fn unlock(py: Python<'_>, keypair_json: &str, password: &str) -> PyResult<Self> {
        let c = dc::UserKeyPairContainer::from_json(keypair_json).py_err()?;
        let pw = self::password(password);
        py.detach(|| c.unlock(&pw))
            .py_err()
            .map(|k| KeyPair(Some(k)))
    }

    /// The ``UserKeyPairContainer`` JSON, the private key encrypted with ``password`` in the
    /// current profile (PBKDF2, GIL released).
    fn to_json(&self, py: Python<'_>, password: &str) -> PyResult<String> {
        let kp = self.get()?;
        let pw = self::password(password);
        py.detach(|| kp.to_container(&pw).map(|c| c.to_json()))
            .py_err()
    }

    #[getter]
    fn version(&self) -> PyResult<String> {
        Ok(self.get()?.version().to_string())
    }

    #[getter]
    fn public_key(&self) -> PyResult<PublicKey> {
        Ok(PublicKey(self.get()?.public_key().clone()))
    }

    #[getter]
    fn private_key(&self) -> PyResult<PrivateKey> {
        Ok(PrivateKey(self.get()?.private_key().clone()))
    }

    /// Wipes the key pair now.
    fn close(&mut self) {
        self.0 = None;
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &mut self,
        _t: &Bound<'_, PyAny>,
        _v: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        match &self.0 {
            Some(k) => format!("KeyPair(version={:?}, <redacted>)", k.version().to_string()),
            None => "KeyPair(<closed>)".into(),
        }
    }
}

/// Runs `op` from `data` into a new ``bytes`` object of the same length, with the GIL released
/// for large inputs (the new object is not visible to any other thread yet, and `data` is an
/// immutable ``bytes``). `op` is a one-pass `update(input, output)`: the input is read once,
/// not copied into the output first.
fn through<'py>(
    py: Python<'py>,
    data: &[u8],
    op: &mut (dyn FnMut(&[u8], &mut [u8]) -> dc::Result<()> + Send),
) -> PyResult<Bound<'py, PyBytes>> {
    let mut result = Ok(());
    let out = PyBytes::new_with(py, data.len(), |buf| {
        result = if data.len() >= DETACH_MIN {
            py.detach(|| op(data, buf))
        } else {
            op(data, buf)
        };
        Ok(())
    })?;
    result.py_err()?;
    Ok(out)
}

/// Streaming AES-256-GCM encryption under a fresh file key: ``update`` any number of times,
/// split anywhere, then ``finalize`` for the ``FileKey`` (with the tag). A key and IV are never
/// used twice.
#[pyclass(module = "dracoon_crypto")]
struct Encryptor(Option<dc::FileEncryptor>);

#[pymethods]
impl Encryptor {
    #[new]
    fn new() -> PyResult<Self> {
        dc::FileEncryptor::new()
            .py_err()
            .map(|e| Encryptor(Some(e)))
    }

    /// Encrypts the next piece; the ciphertext has the same length.
    fn update<'py>(&mut self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let enc = self
            .0
            .as_mut()
            .ok_or_else(|| InvalidArgument::new_err("the encryptor was finalized"))?;
        through(py, data, &mut |i, o| enc.update(i, o))
    }

    /// Bytes encrypted so far.
    #[getter]
    fn bytes_processed(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, dc::FileEncryptor::bytes_processed)
    }

    /// Ends the file: its ``FileKey`` (key, IV, tag). The encryptor cannot be used again.
    fn finalize(&mut self) -> PyResult<FileKey> {
        let enc = self
            .0
            .take()
            .ok_or_else(|| InvalidArgument::new_err("the encryptor was finalized"))?;
        Ok(FileKey(enc.finalize()))
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Leaving the block discards the state (and key) if ``finalize`` was not called.
    fn __exit__(
        &mut self,
        _t: &Bound<'_, PyAny>,
        _v: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> bool {
        self.0 = None;
        false
    }

    fn __repr__(&self) -> String {
        format!("Encryptor(bytes_processed={})", self.bytes_processed())
    }
}

/// Streaming AES-256-GCM decryption. **The output of ``update`` is unauthenticated** until
/// ``finalize`` returns without raising ``BadFile``: do not act on it before. To get plaintext
/// only after the tag verified, use ``decrypt_stream`` or the whole-buffer/whole-file functions.
#[pyclass(module = "dracoon_crypto")]
struct Decryptor(Option<dc::FileDecryptor>);

#[pymethods]
impl Decryptor {
    #[new]
    fn new(file_key: &FileKey) -> Self {
        Decryptor(Some(dc::FileDecryptor::new(&file_key.0)))
    }

    /// Decrypts the next piece (unauthenticated until ``finalize``).
    fn update<'py>(&mut self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let dec = self
            .0
            .as_mut()
            .ok_or_else(|| InvalidArgument::new_err("the decryptor was finalized"))?;
        through(py, data, &mut |i, o| dec.update(i, o))
    }

    #[getter]
    fn bytes_processed(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, dc::FileDecryptor::bytes_processed)
    }

    /// Checks the tag: raises ``BadFile`` when the content was not authentic.
    fn finalize(&mut self) -> PyResult<()> {
        let dec = self
            .0
            .take()
            .ok_or_else(|| InvalidArgument::new_err("the decryptor was finalized"))?;
        dec.finalize().py_err()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &mut self,
        _t: &Bound<'_, PyAny>,
        _v: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> bool {
        self.0 = None;
        false
    }

    fn __repr__(&self) -> String {
        format!("Decryptor(bytes_processed={})", self.bytes_processed())
    }
}

// ---------------------------------------------------------------------------------------------
// Python binary file objects as `std::io` streams (the GIL is held for each call).

struct PyReader<'py>(Bound<'py, PyAny>);

impl Read for PyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let chunk = self
            .0
            .call_method1("read", (buf.len(),))
            .and_then(|b| b.extract::<Vec<u8>>())
            .map_err(std::io::Error::other)?;
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        Ok(n)
    }
}

impl Seek for PyReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let (offset, whence) = match pos {
            SeekFrom::Start(n) => (i64::try_from(n).unwrap_or(i64::MAX), 0),
            SeekFrom::Current(n) => (n, 1),
            SeekFrom::End(n) => (n, 2),
        };
        self.0
            .call_method1("seek", (offset, whence))
            .and_then(|p| p.extract::<u64>())
            .map_err(std::io::Error::other)
    }
}

struct PyWriter<'py>(Bound<'py, PyAny>);

impl Write for PyWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let py = self.0.py();
        self.0
            .call_method1("write", (PyBytes::new(py, buf),))
            .map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn is_seekable(f: &Bound<'_, PyAny>) -> bool {
    f.call_method0("seekable")
        .and_then(|s| s.extract::<bool>())
        .unwrap_or(false)
}

/// Reads up to one chunk from a file object.
fn read_chunk(src: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    src.call_method1("read", (STREAM_CHUNK,))?.extract()
}

// ---------------------------------------------------------------------------------------------
// Module-level functions: the contract of PYTHON.md, then the streaming helpers.

/// A new key pair (``"A"`` or ``"RSA-4096"``) as ``UserKeyPairContainer`` JSON, its private key
/// encrypted with ``password``.
#[pyfunction]
fn keygen(py: Python<'_>, version: &str, password: &str) -> PyResult<String> {
    let v = self::version(version)?;
    let pw = self::password(password);
    py.detach(|| {
        dc::UserKeyPair::generate(v)?
            .to_container(&pw)
            .map(|c| c.to_json())
    })
    .py_err()
}

/// Raises unless ``password`` unlocks the private key and it matches the public key.
#[pyfunction]
fn check_keypair(py: Python<'_>, keypair_json: &str, password: &str) -> PyResult<()> {
    let c = dc::UserKeyPairContainer::from_json(keypair_json).py_err()?;
    let pw = self::password(password);
    py.detach(|| c.unlock(&pw)).py_err().map(|_| ())
}

/// Encrypts the file ``in_path`` into ``out_path`` (atomic) under a fresh file key, streaming;
/// returns the file key wrapped for the public key (``PublicKeyContainer`` or key pair JSON).
#[pyfunction]
fn encrypt_file(
    py: Python<'_>,
    public_key_json: &str,
    in_path: PathBuf,
    out_path: PathBuf,
) -> PyResult<String> {
    let public = PublicKey::from_json(public_key_json)?;
    py.detach(|| {
        let key = dc::encrypt_file(&in_path, &out_path)?;
        public.0.wrap_file_key(&key).map(|k| k.to_json())
    })
    .py_err()
}

/// Unlocks the key pair, unwraps the file key and decrypts ``in_path`` into ``out_path``, which
/// appears only after the tag verified.
#[pyfunction]
fn decrypt_file(
    py: Python<'_>,
    keypair_json: &str,
    password: &str,
    file_key_json: &str,
    in_path: PathBuf,
    out_path: PathBuf,
) -> PyResult<()> {
    let c = dc::UserKeyPairContainer::from_json(keypair_json).py_err()?;
    let efk = dc::EncryptedFileKey::from_json(file_key_json).py_err()?;
    let pw = self::password(password);
    py.detach(|| {
        let key = c.private_key_container.unwrap_file_key(&efk, &pw)?;
        dc::decrypt_file(&in_path, &out_path, &key).map(|_| ())
    })
    .py_err()
}

/// Encrypts ``data`` under a fresh file key: ``(ciphertext, wrapped FileKey JSON)``.
#[pyfunction]
fn encrypt_bytes<'py>(
    py: Python<'py>,
    public_key_json: &str,
    data: &[u8],
) -> PyResult<(Bound<'py, PyBytes>, String)> {
    let public = PublicKey::from_json(public_key_json)?;
    let mut enc = dc::FileEncryptor::new().py_err()?;
    let ct = through(py, data, &mut |i, o| enc.update(i, o))?;
    let key = enc.finalize();
    let wrapped = py.detach(|| public.0.wrap_file_key(&key)).py_err()?;
    Ok((ct, wrapped.to_json()))
}

/// Unlocks, unwraps and decrypts ``data``; the plaintext is returned only after the tag
/// verified.
#[pyfunction]
fn decrypt_bytes<'py>(
    py: Python<'py>,
    keypair_json: &str,
    password: &str,
    file_key_json: &str,
    data: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let c = dc::UserKeyPairContainer::from_json(keypair_json).py_err()?;
    let efk = dc::EncryptedFileKey::from_json(file_key_json).py_err()?;
    let pw = self::password(password);
    let key = py
        .detach(|| c.private_key_container.unwrap_file_key(&efk, &pw))
        .py_err()?;
    decrypt(py, data, &FileKey(key))
}

/// Wraps a plain ``FileKey`` JSON for a public key.
#[pyfunction]
fn wrap_key(py: Python<'_>, plain_file_key_json: &str, public_key_json: &str) -> PyResult<String> {
    let key = FileKey::from_json(plain_file_key_json)?;
    let public = PublicKey::from_json(public_key_json)?;
    Ok(public.wrap(py, &key)?.0.to_json())
}

/// Unlocks the key pair and unwraps a ``FileKey``: the plain ``FileKey`` JSON (version ``"A"``).
#[pyfunction]
fn unwrap_key(
    py: Python<'_>,
    keypair_json: &str,
    password: &str,
    file_key_json: &str,
) -> PyResult<String> {
    let c = dc::UserKeyPairContainer::from_json(keypair_json).py_err()?;
    let efk = dc::EncryptedFileKey::from_json(file_key_json).py_err()?;
    let pw = self::password(password);
    py.detach(|| c.private_key_container.unwrap_file_key(&efk, &pw))
        .py_err()
        .map(|k| k.to_json().to_string())
}

/// Encrypts a whole buffer under a fresh file key: ``(ciphertext, FileKey)``.
#[pyfunction]
fn encrypt<'py>(py: Python<'py>, data: &[u8]) -> PyResult<(Bound<'py, PyBytes>, FileKey)> {
    let mut enc = dc::FileEncryptor::new().py_err()?;
    let ct = through(py, data, &mut |i, o| enc.update(i, o))?;
    Ok((ct, FileKey(enc.finalize())))
}

/// Decrypts a whole buffer; returns the plaintext only after the tag verified (``BadFile``
/// otherwise, and the unauthenticated bytes are wiped).
#[pyfunction]
fn decrypt<'py>(py: Python<'py>, data: &[u8], file_key: &FileKey) -> PyResult<Bound<'py, PyBytes>> {
    // Decrypt into a wiping buffer first: no unauthenticated plaintext reaches a Python object.
    let plain = if data.len() >= DETACH_MIN {
        py.detach(|| dc::decrypt_bytes(data, &file_key.0))
    } else {
        dc::decrypt_bytes(data, &file_key.0)
    }
    .py_err()?;
    let plain = zeroize::Zeroizing::new(plain);
    Ok(PyBytes::new(py, &plain))
}

/// Encrypts the binary file object ``src`` into ``dst`` (``read``/``write``) under a fresh file
/// key, 1 MiB at a time with the GIL released for the cipher; returns the ``FileKey``.
#[pyfunction]
fn encrypt_stream(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    dst: &Bound<'_, PyAny>,
) -> PyResult<FileKey> {
    let mut enc = dc::FileEncryptor::new().py_err()?;
    loop {
        let mut chunk = read_chunk(src)?;
        if chunk.is_empty() {
            break;
        }
        py.detach(|| enc.update_in_place(&mut chunk)).py_err()?;
        dst.call_method1("write", (PyBytes::new(py, &chunk),))?;
    }
    Ok(FileKey(enc.finalize()))
}

/// Decrypts the binary file object ``src`` into ``dst``, writing **nothing** into ``dst``
/// unless the tag verified: a seekable ``src`` is read twice (tag check, then decryption from
/// where it stood), any other is spooled first as ciphertext into an unnamed temporary file.
/// Returns the number of plaintext bytes. ``src`` must not change between the passes.
#[pyfunction]
fn decrypt_stream(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    dst: &Bound<'_, PyAny>,
    file_key: &FileKey,
) -> PyResult<u64> {
    let key = &file_key.0;
    if !is_seekable(src) {
        let mut spool = dc::CiphertextSpool::new(key).py_err()?;
        loop {
            let chunk = read_chunk(src)?;
            if chunk.is_empty() {
                break;
            }
            py.detach(|| spool.push(&chunk)).py_err()?;
        }
        return spool.finish(PyWriter(dst.clone())).py_err();
    }
    let mut reader = PyReader(src.clone());
    let start = reader
        .stream_position()
        .map_err(|e| PyOSError::new_err(e.to_string()))?;
    // Pass 1: the tag, from the ciphertext alone.
    let mut verifier = dc::FileVerifier::new(key);
    loop {
        let chunk = read_chunk(src)?;
        if chunk.is_empty() {
            break;
        }
        py.detach(|| verifier.update(&chunk)).py_err()?;
    }
    let len = verifier.bytes_processed();
    verifier.finalize().py_err()?;
    // Pass 2: decrypt what was verified, and check the tag again on the way.
    reader
        .seek(SeekFrom::Start(start))
        .map_err(|e| PyOSError::new_err(e.to_string()))?;
    let mut dec = dc::FileDecryptor::new(key);
    while dec.bytes_processed() < len {
        let mut chunk = read_chunk(src)?;
        if chunk.is_empty() {
            break;
        }
        let chunk = &mut chunk[..];
        py.detach(|| dec.update_in_place(chunk)).py_err()?;
        dst.call_method1("write", (PyBytes::new(py, chunk),))?;
    }
    let n = dec.bytes_processed();
    dec.finalize().py_err()?;
    if n != len {
        return Err(BadFile::new_err(
            "the source changed between the two passes",
        ));
    }
    Ok(n)
}

/// **Hazardous**: encrypts ``data`` under the key and IV of ``file_key``. Reusing a key+IV
/// pair for two different plaintexts breaks GCM; only for known-answer tests and vectors.
#[pyfunction]
fn hazmat_encrypt_with_file_key<'py>(
    py: Python<'py>,
    file_key: &FileKey,
    data: &[u8],
) -> PyResult<(Bound<'py, PyBytes>, FileKey)> {
    let mut enc = dc::FileEncryptor::hazmat_with_file_key(&file_key.0);
    let ct = through(py, data, &mut |i, o| enc.update(i, o))?;
    Ok((ct, FileKey(enc.finalize())))
}

#[pymodule(name = "dracoon_crypto")]
fn dracoon_crypto_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("WrongPassword", py.get_type::<WrongPassword>())?;
    m.add("InvalidKeyPair", py.get_type::<InvalidKeyPair>())?;
    m.add("InvalidFileKey", py.get_type::<InvalidFileKey>())?;
    m.add("BadFile", py.get_type::<BadFile>())?;
    m.add("VersionMismatch", py.get_type::<VersionMismatch>())?;
    m.add("UnsupportedVersion", py.get_type::<UnsupportedVersion>())?;
    m.add("LimitExceeded", py.get_type::<LimitExceeded>())?;
    m.add("InvalidArgument", py.get_type::<InvalidArgument>())?;
    m.add_class::<FileKey>()?;
    m.add_class::<EncryptedFileKey>()?;
    m.add_class::<PublicKey>()?;
    m.add_class::<PrivateKey>()?;
    m.add_class::<KeyPair>()?;
    m.add_class::<Encryptor>()?;
    m.add_class::<Decryptor>()?;
    m.add_function(wrap_pyfunction!(keygen, m)?)?;
    m.add_function(wrap_pyfunction!(check_keypair, m)?)?;
    m.add_function(wrap_pyfunction!(encrypt_file, m)?)?;
    m.add_function(wrap_pyfunction!(decrypt_file, m)?)?;
    m.add_function(wrap_pyfunction!(encrypt_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(decrypt_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(wrap_key, m)?)?;
    m.add_function(wrap_pyfunction!(unwrap_key, m)?)?;
    m.add_function(wrap_pyfunction!(encrypt, m)?)?;
    m.add_function(wrap_pyfunction!(decrypt, m)?)?;
    m.add_function(wrap_pyfunction!(encrypt_stream, m)?)?;
    m.add_function(wrap_pyfunction!(decrypt_stream, m)?)?;
    m.add_function(wrap_pyfunction!(hazmat_encrypt_with_file_key, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
