//! The crate's one error type.
//!
//! Every fallible operation returns [`Error`]. Its variants are the error classes of the DRACOON
//! crypto SDKs (FORMAT.md §5.1), so callers can react to each (ask for the password again on
//! [`Error::WrongPassword`], report a tampered file on [`Error::BadFile`], ...). The finer
//! sub-enums say what exactly was wrong where that is safe to say; nothing in an error ever
//! contains key material, passwords, or a reason an RSA decryption failed (no padding oracle).

use std::fmt;

use crate::version::{EncryptedFileKeyVersion, UserKeyPairVersion};

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
///
/// Match on the variant to find the class of a failure; [`Error::class`] gives the same class as
/// a stable snake-case string (used by the CLI and by the test vectors).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The password does not unlock the private key. Every encoding the SDKs ever used was tried
    /// (UTF-8, ISO-8859-1, the Java SDK's legacy byte form).
    WrongPassword,
    /// A key pair, private key or public key is malformed or unusable.
    InvalidKeyPair(KeyPairProblem),
    /// A file key is malformed, or the encrypted file key could not be unwrapped.
    ///
    /// A failed RSA-OAEP decryption is reported as [`FileKeyProblem::Unwrap`] without any
    /// detail, so the error cannot serve as a padding oracle.
    InvalidFileKey(FileKeyProblem),
    /// The file failed authentication: its content, or the key, IV or tag used to decrypt it, was
    /// modified (the AES-GCM tag did not verify).
    BadFile,
    /// A version string this crate does not know (FORMAT.md §1.1).
    UnsupportedVersion {
        /// What the version string was meant to describe.
        kind: VersionKind,
        /// The version string as received (shortened to at most 40 characters).
        value: String,
    },
    /// Two versions that must fit together do not (FORMAT.md §1.2).
    VersionMismatch(VersionMismatch),
    /// An input exceeds one of this crate's limits; refused before any work was spent on it.
    LimitExceeded(Limit),
    /// The caller passed an argument that cannot be used (e.g. an empty password).
    InvalidArgument(&'static str),
    /// The operating system's random number generator failed.
    Random,
    /// Reading or writing failed.
    Io(std::io::Error),
    /// A DRACOON server answered a request with an HTTP error status (not 2xx).
    ///
    /// `code` is the DRACOON `errorCode` of the answer's `ErrorResponse` body when there was one
    /// (e.g. `-40761` "file key not found"). The message never contains the request's URL, its
    /// authentication token or a presigned URL.
    Api {
        /// The HTTP status code.
        status: u16,
        /// The DRACOON `errorCode`, when the body carried one.
        code: Option<i32>,
        /// The server's `message` (shortened to 200 characters), or the status text.
        message: String,
    },
    /// A request could not be carried out: the connection failed or dropped, it timed out, the
    /// server's answer was malformed, or the operation was cancelled.
    Transport(TransportError),
}

impl Error {
    /// The class of this error as a stable snake-case string: `wrong_password`,
    /// `invalid_key_pair`, `invalid_file_key`, `bad_file`, `unknown_version`,
    /// `version_mismatch`, `limit_exceeded`, `invalid_argument`, `random`, `io`, `api` or
    /// `transport`.
    ///
    /// ```
    /// use dracoon_crypto::Error;
    /// assert_eq!(Error::BadFile.class(), "bad_file");
    /// ```
    #[must_use]
    pub fn class(&self) -> &'static str {
        match self {
            Error::WrongPassword => "wrong_password",
            Error::InvalidKeyPair(_) => "invalid_key_pair",
            Error::InvalidFileKey(_) => "invalid_file_key",
            Error::BadFile => "bad_file",
            Error::UnsupportedVersion { .. } => "unknown_version",
            Error::VersionMismatch(_) => "version_mismatch",
            Error::LimitExceeded(_) => "limit_exceeded",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::Random => "random",
            Error::Io(_) => "io",
            Error::Api { .. } => "api",
            Error::Transport(_) => "transport",
        }
    }

    pub(crate) fn unsupported_version(kind: VersionKind, value: &str) -> Self {
        Error::UnsupportedVersion {
            kind,
            value: value.chars().take(40).collect(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WrongPassword => {
                f.write_str("wrong password: it does not unlock the private key")
            }
            Error::InvalidKeyPair(p) => write!(f, "invalid key pair: {p}"),
            Error::InvalidFileKey(p) => write!(f, "invalid file key: {p}"),
            Error::BadFile => f.write_str(
                "bad file: authentication failed (the content, key, IV or tag was modified)",
            ),
            Error::UnsupportedVersion { kind, value } => {
                write!(f, "unsupported {kind} version {value:?}")
            }
            Error::VersionMismatch(m) => write!(f, "version mismatch: {m}"),
            Error::LimitExceeded(l) => write!(f, "limit exceeded: {l}"),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::Random => f.write_str("the operating system's random number generator failed"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Api {
                status,
                code,
                message,
            } => match code {
                Some(code) => write!(f, "server error: HTTP {status}, code {code}: {message}"),
                None => write!(f, "server error: HTTP {status}: {message}"),
            },
            Error::Transport(e) => write!(f, "transport error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Transport(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        // Errors that travelled through an `io` adapter come back as themselves.
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(Ok(err)) = e.into_inner().map(|inner| inner.downcast::<Error>()) {
                return *err;
            }
            return Error::Io(std::io::Error::other("I/O error"));
        }
        Error::Io(e)
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) => io,
            Error::BadFile => std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            other => std::io::Error::other(other),
        }
    }
}

/// What went wrong carrying out a request (see [`Error::Transport`]).
///
/// The message is safe to show and log: adapters strip URLs (which may be presigned) and never
/// put headers or bodies into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
}

/// The kind of a [`TransportError`]; decides whether a request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be established; the request was not sent (always retryable).
    Connect,
    /// The request or the answer timed out.
    Timeout,
    /// The connection failed or dropped while the request or the answer was in flight.
    Io,
    /// The server's answer does not have the shape the API defines.
    InvalidResponse,
    /// The operation was cancelled by the caller.
    Cancelled,
    /// The answer's body was larger than the step asked for (a range length, or the limit of
    /// JSON answers); reading stopped there.
    BodyTooLarge,
    /// Anything else (a request that cannot be built, a client misconfiguration, ...).
    Other,
}

impl TransportError {
    /// A new error. `message` must not contain URLs, tokens or other secrets.
    #[must_use]
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        if message.len() > 300 {
            let mut end = 300;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        TransportError { kind, message }
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the failure is transient: a connection error or a timeout.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            TransportErrorKind::Connect | TransportErrorKind::Timeout | TransportErrorKind::Io
        )
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            TransportErrorKind::Connect => "connection failed",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Io => "connection dropped",
            TransportErrorKind::InvalidResponse => "invalid response",
            TransportErrorKind::Cancelled => "cancelled",
            TransportErrorKind::BodyTooLarge => "answer too large",
            TransportErrorKind::Other => "request failed",
        };
        if self.message.is_empty() {
            f.write_str(kind)
        } else {
            write!(f, "{kind}: {}", self.message)
        }
    }
}

impl std::error::Error for TransportError {}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

/// What a version string describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionKind {
    /// A user (or room-rescue, system-rescue) key pair version: `A` or `RSA-4096`.
    KeyPair,
    /// An encrypted file key version: `A` or `RSA-4096/AES-256-GCM`.
    EncryptedFileKey,
    /// A plain file key version: `A` or `AES-256-GCM`.
    PlainFileKey,
}

impl fmt::Display for VersionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VersionKind::KeyPair => "key pair",
            VersionKind::EncryptedFileKey => "encrypted file key",
            VersionKind::PlainFileKey => "plain file key",
        })
    }
}

/// Two versions that must fit together, and do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionMismatch {
    /// The private and the public half of a key pair carry different versions.
    KeyPair {
        /// Version of the private key container.
        private: UserKeyPairVersion,
        /// Version of the public key container.
        public: UserKeyPairVersion,
    },
    /// An encrypted file key was wrapped for another key pair version than the private key's.
    FileKey {
        /// Version of the key pair offered to unwrap the file key.
        key_pair: UserKeyPairVersion,
        /// Version of the encrypted file key.
        file_key: EncryptedFileKeyVersion,
    },
}

impl fmt::Display for VersionMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionMismatch::KeyPair { private, public } => write!(
                f,
                "private key version {private} does not match public key version {public}"
            ),
            VersionMismatch::FileKey { key_pair, file_key } => write!(
                f,
                "file key version {file_key} cannot be unwrapped with a key pair of version {key_pair}"
            ),
        }
    }
}

/// What is wrong with a key pair, private key or public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyPairProblem {
    /// The PEM armour is missing or has the wrong label.
    Pem,
    /// The PEM body is not valid base64.
    Base64,
    /// The DER structure is malformed.
    Asn1,
    /// The key uses an algorithm or parameter this crate does not support (e.g. not
    /// PBES2/PBKDF2/AES-CBC, not RSA, multi-prime RSA).
    UnsupportedAlgorithm,
    /// An unencrypted private key where an encrypted one is required.
    NotEncrypted,
    /// An encrypted private key where an unencrypted one was expected.
    Encrypted,
    /// The RSA modulus does not have the size the version demands (2048 bits for `A`,
    /// 4096 bits for `RSA-4096`).
    ModulusSize {
        /// Bits the version demands.
        expected: u32,
        /// Bits the key has.
        found: u32,
    },
    /// The RSA key is mathematically invalid.
    InvalidKey,
    /// The private key does not belong to the public key.
    Mismatch,
    /// The JSON container is malformed.
    Json,
}

impl fmt::Display for KeyPairProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPairProblem::Pem => f.write_str("missing or wrong PEM armour"),
            KeyPairProblem::Base64 => f.write_str("PEM body is not valid base64"),
            KeyPairProblem::Asn1 => f.write_str("malformed ASN.1/DER structure"),
            KeyPairProblem::UnsupportedAlgorithm => {
                f.write_str("unsupported key algorithm or parameters")
            }
            KeyPairProblem::NotEncrypted => {
                f.write_str("the private key is not encrypted, but an encrypted one is required")
            }
            KeyPairProblem::Encrypted => {
                f.write_str("the private key is encrypted; unlock it with its password")
            }
            KeyPairProblem::ModulusSize { expected, found } => write!(
                f,
                "RSA modulus has {found} bits, but the version requires {expected}"
            ),
            KeyPairProblem::InvalidKey => f.write_str("the RSA key is invalid"),
            KeyPairProblem::Mismatch => {
                f.write_str("the private key does not belong to the public key")
            }
            KeyPairProblem::Json => f.write_str("malformed key container JSON"),
        }
    }
}

/// Which field of a file key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKeyField {
    /// `key`: the AES key, or its RSA-wrapped form.
    Key,
    /// `iv`: the 12-byte GCM IV.
    Iv,
    /// `tag`: the 16-byte GCM tag.
    Tag,
}

impl fmt::Display for FileKeyField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKeyField::Key => "key",
            FileKeyField::Iv => "iv",
            FileKeyField::Tag => "tag",
        })
    }
}

/// What is wrong with a file key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKeyProblem {
    /// A field is not valid base64.
    Base64(FileKeyField),
    /// A field has the wrong length in bytes.
    Length {
        /// The field.
        field: FileKeyField,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        found: usize,
    },
    /// A required field is absent.
    Missing(FileKeyField),
    /// The encrypted file key could not be unwrapped with the private key (deliberately
    /// without detail).
    Unwrap,
    /// The JSON is malformed.
    Json,
}

impl fmt::Display for FileKeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileKeyProblem::Base64(field) => write!(f, "field {field} is not valid base64"),
            FileKeyProblem::Length {
                field,
                expected,
                found,
            } => write!(f, "field {field} has {found} bytes, expected {expected}"),
            FileKeyProblem::Missing(field) => write!(f, "field {field} is missing"),
            FileKeyProblem::Unwrap => f.write_str("it cannot be decrypted with this private key"),
            FileKeyProblem::Json => f.write_str("malformed file key JSON"),
        }
    }
}

/// A limit this crate enforces on untrusted input before it spends work on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// PBKDF2 iteration count outside `1..=10_000_000`.
    IterationCount {
        /// Iteration count found in the key.
        found: u64,
    },
    /// PBKDF2 salt shorter than 8 or longer than 1024 bytes.
    SaltLength {
        /// Salt length found in the key.
        found: usize,
    },
    /// A PEM string, JSON document or encrypted key larger than this crate accepts.
    InputSize {
        /// The largest accepted size in bytes.
        max: usize,
    },
    /// More data than AES-GCM can encrypt under one key (2^36 - 32 bytes).
    GcmMessageLength,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::IterationCount { found } => {
                write!(f, "PBKDF2 iteration count {found} is outside 1..=10000000")
            }
            Limit::SaltLength { found } => {
                write!(f, "PBKDF2 salt of {found} bytes is outside 8..=1024")
            }
            Limit::InputSize { max } => write!(f, "input larger than {max} bytes"),
            Limit::GcmMessageLength => {
                f.write_str("more than 2^36 - 32 bytes cannot be encrypted under one file key")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_round_trip_keeps_the_class() {
        let io: std::io::Error = Error::BadFile.into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
        let back: Error = io.into();
        assert!(matches!(back, Error::BadFile));

        let io: std::io::Error = Error::LimitExceeded(Limit::GcmMessageLength).into();
        assert!(matches!(
            Error::from(io),
            Error::LimitExceeded(Limit::GcmMessageLength)
        ));

        let plain = std::io::Error::new(std::io::ErrorKind::NotFound, "nope");
        assert!(matches!(Error::from(plain), Error::Io(_)));
    }

    #[test]
    fn unsupported_version_value_is_shortened() {
        let e = Error::unsupported_version(VersionKind::KeyPair, &"X".repeat(1000));
        match e {
            Error::UnsupportedVersion { value, .. } => assert_eq!(value.len(), 40),
            other => panic!("unexpected {other:?}"),
        }
    }
}
