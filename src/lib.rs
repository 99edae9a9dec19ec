//! DRACOON client-side ("Triple-Crypt") encryption, byte-compatible with the official DRACOON
//! crypto SDKs for Java, JavaScript, Swift and C#.
//!
//! # The model
//!
//! * Every user has a **key pair** (RSA-4096, or RSA-2048 for version `A`) whose private key is
//!   stored on the server encrypted with the user's password. Rooms and the whole system may have
//!   **rescue key pairs** of the same kind.
//! * Every file is encrypted with its own **file key**: a random AES-256 key and 96-bit IV; the
//!   whole file is one AES-256-GCM message whose 16-byte tag is kept in the file key.
//! * The file key is **wrapped** with RSA-OAEP for every reader's public key; readers unwrap it
//!   with their private key.
//!
//! # Quick start
//!
//! ```
//! use dracoon_crypto::{decrypt_bytes, encrypt_bytes, Password, UserKeyPair, UserKeyPairVersion};
//!
//! // A key pair (new key pairs should be RSA-4096; A keeps this example fast).
//! let alice = UserKeyPair::generate(UserKeyPairVersion::Rsa2048)?;
//!
//! // Encrypt a file under a fresh file key, and wrap that key for Alice.
//! let (ciphertext, file_key) = encrypt_bytes(b"quarterly figures")?;
//! let for_alice = alice.public_key().wrap_file_key(&file_key)?;
//!
//! // Alice unwraps the key and decrypts; the tag is verified before the plaintext is returned.
//! let key = alice.private_key().unwrap_file_key(&for_alice)?;
//! assert_eq!(decrypt_bytes(&ciphertext, &key)?, b"quarterly figures");
//! # Ok::<(), dracoon_crypto::Error>(())
//! ```
//!
//! # Two levels of streaming API
//!
//! * **Low level**: [`FileEncryptor`] and [`FileDecryptor`] take `update` calls split anywhere
//!   and `finalize` once. The encryptor makes its own key and IV, so reusing a key+IV pair is
//!   impossible through this API; the decryptor's output is unauthenticated until `finalize`.
//! * **High level**: [`encrypt_file`], [`decrypt_file`], [`decrypt_to_path`], [`encrypt_bytes`],
//!   [`decrypt_bytes`], [`encrypt_stream`], [`decrypt_stream`], [`decrypt_seekable`] and
//!   [`EncryptingWriter`] stream in bounded memory; every decrypting helper verifies the tag
//!   before it hands out any plaintext (two passes over the ciphertext where it streams) and
//!   never leaves unauthenticated plaintext in a file. Only [`UnverifiedDecryptingReader`] and
//!   [`UnverifiedDecryptingWriter`] stream plaintext before the tag is checked, as their names
//!   say.
//!
//! # Key pairs and passwords
//!
//! [`UserKeyPair::to_container`] encrypts the private key exactly as today's SDKs do
//! (PKCS#8 PBES2, PBKDF2-HMAC-SHA1 with 1,300,000 iterations, AES-256-CBC);
//! [`UserKeyPair::unlock`] opens every variant the SDKs ever wrote.
//!
//! # Talking to a DRACOON server
//!
//! With feature `transport`, [`transport::Client`] runs the encrypted workflows (missing-file-key
//! distribution, chunked and S3 uploads, downloads, shares, rescue keys) over any HTTP client
//! that implements [`transport::Transport`] (async) or [`transport::BlockingTransport`]
//! (blocking, a closure will do); features `reqwest` and `blocking` bring rustls-based adapters.
//! Each workflow is written once; see the [`transport`] module docs for the design.
//!
//! # Errors
//!
//! Everything returns [`Error`], whose variants are the DRACOON error classes
//! ([`Error::WrongPassword`], [`Error::BadFile`], [`Error::VersionMismatch`] ...).

// `unsafe` is confined to the SIMD backend of the GCM core (src/cipher/backend), behind safe
// wrappers and runtime CPU detection.
#![deny(unsafe_code)]
// docs.rs (and `RUSTDOCFLAGS="--cfg docsrs" cargo +nightly doc --all-features`) shows which
// feature each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented
)]

// The README's examples are compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod cipher;
pub mod error;
pub mod file_key;
pub mod keys;
pub mod secret;
#[cfg(feature = "transport")]
pub mod transport;
pub mod version;

pub use cipher::{
    AtomicFile, CiphertextSpool, EncryptingWriter, FileDecryptor, FileEncryptor, FileVerifier,
    MAX_MESSAGE_LEN, UnverifiedDecryptingReader, UnverifiedDecryptingWriter, decrypt_bytes,
    decrypt_file, decrypt_seekable, decrypt_stream, decrypt_to_path, encrypt_bytes, encrypt_file,
    encrypt_stream, verify_stream,
};
pub use error::{Error, Result, TransportError, TransportErrorKind};
pub use file_key::{EncryptedFileKey, PlainFileKey};
pub use keys::{
    PrivateKeyContainer, PublicKeyContainer, RoomRescueKeyPair, SystemRescueKeyPair, UserKeyPair,
    UserKeyPairContainer, UserPrivateKey, UserPublicKey,
};
pub use secret::Password;
pub use version::{EncryptedFileKeyVersion, PlainFileKeyVersion, UserKeyPairVersion};
