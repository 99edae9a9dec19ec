//! RSA key pairs: user, room-rescue and system-rescue key pairs (FORMAT.md §2, §3).
//!
//! All three kinds of key pair are the same thing cryptographically: an RSA key pair of
//! version `A` (RSA-2048) or `RSA-4096` whose private key is stored encrypted with a password.
//! Only who holds the password differs: a user, a room's rescue-key holder ("data room emergency
//! password") or the customer's administrator ("data space emergency password"). The aliases
//! [`RoomRescueKeyPair`] and [`SystemRescueKeyPair`] name the latter two where it helps.
//!
//! * [`UserKeyPair`]: an unlocked key pair, to wrap and unwrap file keys.
//! * [`UserPublicKey`] / [`UserPrivateKey`]: its halves.
//! * [`UserKeyPairContainer`], [`PrivateKeyContainer`], [`PublicKeyContainer`]: the API's JSON.

#[cfg(feature = "aws-lc-rsa")]
mod aws_lc;
mod container;
pub(crate) mod der;
mod pbkdf2;
mod pem;
pub(crate) mod pkcs8;

use std::fmt;

use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Oaep};
use sha1::Sha1;
use sha2::Sha256;
use zeroize::Zeroizing;

pub use container::{PrivateKeyContainer, PublicKeyContainer, UserKeyPairContainer};

use crate::error::{Error, FileKeyProblem, KeyPairProblem, Limit, Result, VersionMismatch};
use crate::file_key::{EncryptedFileKey, KEY_LEN, PlainFileKey};
use crate::secret::Password;
use crate::version::UserKeyPairVersion;
use der::{DerError, Reader, oid};

/// Largest RSA modulus read (4096 bits).
pub(crate) const MAX_MODULUS_BYTES: usize = 512;

/// A room's rescue key pair ("data room emergency password"): a [`UserKeyPair`] whose password
/// the room's rescue-key holder keeps.
pub type RoomRescueKeyPair = UserKeyPair;

/// The customer's system rescue key pair ("data space emergency password"): a [`UserKeyPair`]
/// whose password the administrator keeps.
pub type SystemRescueKeyPair = UserKeyPair;

fn invalid(problem: KeyPairProblem) -> Error {
    Error::InvalidKeyPair(problem)
}

fn asn1(_: DerError) -> Error {
    invalid(KeyPairProblem::Asn1)
}

/// Modulus size in bits of `n`.
fn modulus_bits(key: &impl PublicKeyParts) -> u32 {
    key.n().as_ref().bit_width_vartime()
}

fn check_modulus(version: UserKeyPairVersion, key: &impl PublicKeyParts) -> Result<()> {
    let found = modulus_bits(key);
    let expected = version.modulus_bits();
    if found == expected {
        Ok(())
    } else {
        Err(invalid(KeyPairProblem::ModulusSize { expected, found }))
    }
}

/// The OAEP parameters of version `A` (FORMAT.md §3.2): SHA-256, MGF1 with SHA-1, empty label.
fn oaep_a() -> Oaep<Sha256, Sha1> {
    Oaep::<Sha256, Sha1>::new_with_mgf_hash()
}

/// The OAEP parameters of version `RSA-4096`: SHA-256, MGF1 with SHA-256, empty label.
fn oaep_4096() -> Oaep<Sha256, Sha256> {
    Oaep::<Sha256, Sha256>::new()
}

// ------------------------------------------------------------------------------------------
// Public key

/// The public half of a key pair: wraps file keys for its owner.
///
/// ```
/// use dracoon_crypto::{encrypt_bytes, UserKeyPair, UserKeyPairVersion};
/// let key_pair = UserKeyPair::generate(UserKeyPairVersion::Rsa2048)?;
/// let (_ciphertext, file_key) = encrypt_bytes(b"minutes")?;
/// let wrapped = key_pair.public_key().wrap_file_key(&file_key)?;
/// assert_eq!(wrapped.version().as_str(), "A");
/// assert_eq!(key_pair.private_key().unwrap_file_key(&wrapped)?, file_key);
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
#[derive(Clone)]
pub struct UserPublicKey {
    version: UserKeyPairVersion,
    key: rsa::PublicKey,
    /// RSA-4096 keys imported into AWS-LC (feature `aws-lc-rsa`).
    #[cfg(feature = "aws-lc-rsa")]
    fast: Option<aws_lc::FastPublic>,
}

impl PartialEq for UserPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version && self.key == other.key
    }
}

impl Eq for UserPublicKey {}

impl UserPublicKey {
    fn new(version: UserKeyPairVersion, key: rsa::PublicKey) -> Self {
        UserPublicKey {
            #[cfg(feature = "aws-lc-rsa")]
            fast: match version {
                UserKeyPairVersion::Rsa4096 => aws_lc::FastPublic::import(&key),
                UserKeyPairVersion::Rsa2048 => None,
            },
            version,
            key,
        }
    }

    /// Reads a public key container: SPKI PEM (LF or CRLF), RSA, modulus size as the version
    /// demands.
    pub fn from_container(container: &PublicKeyContainer) -> Result<Self> {
        let pem = pem::decode(&container.public_key)?;
        if pem.label != pem::LABEL_PUBLIC_KEY {
            return Err(invalid(KeyPairProblem::Pem));
        }
        let key = parse_spki(&pem.der, container.version)?;
        check_modulus(container.version, &key)?;
        Ok(UserPublicKey::new(container.version, key))
    }

    /// The container (SPKI PEM with LF line endings, 64-character lines).
    pub fn to_container(&self) -> Result<PublicKeyContainer> {
        let der = self
            .key
            .to_public_key_der()
            .map_err(|_| invalid(KeyPairProblem::InvalidKey))?;
        Ok(PublicKeyContainer {
            version: self.version,
            public_key: pem::encode(pem::LABEL_PUBLIC_KEY, der.as_bytes()).to_string(),
            created_at: None,
            created_by: None,
            expire_at: None,
        })
    }

    /// The key pair version.
    #[must_use]
    pub fn version(&self) -> UserKeyPairVersion {
        self.version
    }

    /// Wraps a file key for this key's owner with RSA-OAEP. The result's version follows this
    /// key's version; IV and tag are copied.
    pub fn wrap_file_key(&self, file_key: &PlainFileKey) -> Result<EncryptedFileKey> {
        let msg = file_key.key_bytes().as_slice();
        #[cfg(feature = "aws-lc-rsa")]
        if let Some(fast) = &self.fast {
            let wrapped = fast.encrypt(msg).ok_or(Error::Random)?;
            return Ok(EncryptedFileKey::from_parts(
                wrapped,
                *file_key.iv(),
                *file_key.tag(),
                self.version.encrypted_file_key_version(),
            ));
        }
        let mut rng = rand::rngs::SysRng;
        let wrapped = match self.version {
            UserKeyPairVersion::Rsa2048 => self.key.encrypt(&mut rng, oaep_a(), msg),
            UserKeyPairVersion::Rsa4096 => self.key.encrypt(&mut rng, oaep_4096(), msg),
        }
        .map_err(|_| Error::Random)?;
        Ok(EncryptedFileKey::from_parts(
            wrapped,
            *file_key.iv(),
            *file_key.tag(),
            self.version.encrypted_file_key_version(),
        ))
    }
}

impl fmt::Debug for UserPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPublicKey")
            .field("version", &self.version)
            .field("modulus_bits", &modulus_bits(&self.key))
            .finish()
    }
}

/// Parses an X.509 `SubjectPublicKeyInfo` holding an RSA key whose modulus has the size
/// `version` demands (checked before any big-number work).
fn parse_spki(der: &[u8], version: UserKeyPairVersion) -> Result<rsa::PublicKey> {
    let mut outer = Reader::new(der);
    let mut spki = outer.sequence().map_err(asn1)?;
    outer.finish().map_err(asn1)?;
    let mut alg = spki.sequence().map_err(asn1)?;
    if alg.oid().map_err(asn1)? != oid::RSA_ENCRYPTION {
        return Err(invalid(KeyPairProblem::UnsupportedAlgorithm));
    }
    alg.optional_null().map_err(asn1)?;
    alg.finish().map_err(asn1)?;
    let bits = spki.expect(der::TAG_BIT_STRING).map_err(asn1)?;
    spki.finish().map_err(asn1)?;
    let rsa_key = match bits.split_first() {
        Some((0, rest)) => rest,
        _ => return Err(asn1(DerError)),
    };
    let mut outer = Reader::new(rsa_key);
    let mut seq = outer.sequence().map_err(asn1)?;
    outer.finish().map_err(asn1)?;
    let n = seq.unsigned_integer().map_err(asn1)?;
    let e = seq.unsigned_integer().map_err(asn1)?;
    seq.finish().map_err(asn1)?;
    let found = bit_length(n);
    let expected = version.modulus_bits();
    if found != expected {
        return Err(invalid(KeyPairProblem::ModulusSize { expected, found }));
    }
    if n.len() > MAX_MODULUS_BYTES || e.len() > 8 {
        return Err(invalid(KeyPairProblem::InvalidKey));
    }
    let n_bits = u32::try_from(n.len() * 8).unwrap_or(u32::MAX).max(64);
    let e_bits = u32::try_from(e.len() * 8).unwrap_or(u32::MAX).max(64);
    let n = BoxedUint::from_be_slice(n, n_bits).map_err(|_| invalid(KeyPairProblem::InvalidKey))?;
    let e = BoxedUint::from_be_slice(e, e_bits).map_err(|_| invalid(KeyPairProblem::InvalidKey))?;
    rsa::PublicKey::new(n, e).map_err(|_| invalid(KeyPairProblem::InvalidKey))
}

/// Bits of a big-endian magnitude without leading zero octets.
fn bit_length(magnitude: &[u8]) -> u32 {
    match magnitude.first() {
        None => 0,
        Some(&b) => u32::try_from(magnitude.len() * 8)
            .unwrap_or(u32::MAX)
            .saturating_sub(b.leading_zeros()),
    }
}

// ------------------------------------------------------------------------------------------
// Private key

/// The private half of a key pair, decrypted: unwraps file keys. Wiped on drop, never printed.
#[derive(Clone)]
pub struct UserPrivateKey {
    version: UserKeyPairVersion,
    key: rsa::PrivateKey,
    /// RSA-4096 keys imported into AWS-LC (feature `aws-lc-rsa`).
    #[cfg(feature = "aws-lc-rsa")]
    fast: Option<aws_lc::FastPrivate>,
}

impl UserPrivateKey {
    fn new(version: UserKeyPairVersion, key: rsa::PrivateKey) -> Result<Self> {
        check_modulus(version, &key)?;
        Ok(UserPrivateKey {
            #[cfg(feature = "aws-lc-rsa")]
            fast: match version {
                UserKeyPairVersion::Rsa4096 => aws_lc::FastPrivate::import(&key),
                UserKeyPairVersion::Rsa2048 => None,
            },
            version,
            key,
        })
    }

    /// Decrypts a private key container with its password.
    ///
    /// The password is tried as UTF-8, then ISO-8859-1, then in the Java SDK 2.x byte form, as
    /// the SDKs wrote keys over the years (FORMAT.md §2.6). Every PBES2 shape the SDKs produced
    /// is accepted; an unencrypted key is [`KeyPairProblem::NotEncrypted`]; absurd KDF
    /// parameters are refused before any work ([`Error::LimitExceeded`]).
    pub fn unlock(container: &PrivateKeyContainer, password: &Password) -> Result<Self> {
        Self::unlock_capped(container, password, None)
    }

    /// [`UserPrivateKey::unlock`] for a container a server handed out: refused with
    /// [`Error::LimitExceeded`] before any key derivation when its PBKDF2 iteration count is
    /// above the server cap (2,000,000, against 10,000,000 for local files).
    #[cfg(feature = "transport")]
    pub(crate) fn unlock_from_server(
        container: &PrivateKeyContainer,
        password: &Password,
    ) -> Result<Self> {
        Self::unlock_capped(container, password, Some(pkcs8::MAX_SERVER_ITERATIONS))
    }

    fn unlock_capped(
        container: &PrivateKeyContainer,
        password: &Password,
        max_iterations: Option<u32>,
    ) -> Result<Self> {
        let pem = pem::decode(&container.private_key)?;
        match pem.label {
            pem::LABEL_ENCRYPTED_PRIVATE_KEY => {}
            pem::LABEL_PRIVATE_KEY | pem::LABEL_RSA_PRIVATE_KEY => {
                return Err(invalid(KeyPairProblem::NotEncrypted));
            }
            _ => return Err(invalid(KeyPairProblem::Pem)),
        }
        let info = pkcs8::EncryptedPrivateKeyInfo::parse(&pem.der)?;
        if max_iterations.is_some_and(|max| info.iterations > max) {
            return Err(Error::LimitExceeded(Limit::IterationCount {
                found: u64::from(info.iterations),
            }));
        }
        let key = pkcs8::decrypt(&info, password)?;
        Self::new(container.version, key)
    }

    /// Reads an unencrypted private key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`
    /// PEM), as the JavaScript SDK and dco3-crypto represent decrypted keys. Such keys never go
    /// to the server; this exists for interoperability with those representations.
    pub fn from_plain_container(container: &PrivateKeyContainer) -> Result<Self> {
        let pem = pem::decode(&container.private_key)?;
        let key = match pem.label {
            pem::LABEL_RSA_PRIVATE_KEY => pkcs8::parse_rsa_private_key(&pem.der)?,
            pem::LABEL_PRIVATE_KEY => pkcs8::parse_private_key_info(&pem.der)?,
            pem::LABEL_ENCRYPTED_PRIVATE_KEY => return Err(invalid(KeyPairProblem::Encrypted)),
            _ => return Err(invalid(KeyPairProblem::Pem)),
        };
        Self::new(container.version, key)
    }

    /// Encrypts this private key with `password` in the current SDK profile (PBES2,
    /// PBKDF2-HMAC-SHA1 with 1,300,000 iterations and a 20-byte salt, AES-256-CBC).
    pub fn to_container(&self, password: &Password) -> Result<PrivateKeyContainer> {
        self.to_container_with_iterations(password, pkcs8::WRITE_ITERATIONS)
    }

    /// Like [`UserPrivateKey::to_container`] with another iteration count.
    ///
    /// **Hazardous**: fewer iterations make the password easier to guess. For fast tests and
    /// reproducible vectors of legacy profiles only.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_to_container_with_iterations(
        &self,
        password: &Password,
        iterations: u32,
    ) -> Result<PrivateKeyContainer> {
        self.to_container_with_iterations(password, iterations)
    }

    fn to_container_with_iterations(
        &self,
        password: &Password,
        iterations: u32,
    ) -> Result<PrivateKeyContainer> {
        let info = self
            .key
            .to_pkcs8_der()
            .map_err(|_| invalid(KeyPairProblem::InvalidKey))?;
        let der = Zeroizing::new(pkcs8::encrypt(info.as_bytes(), password, iterations)?);
        Ok(PrivateKeyContainer {
            version: self.version,
            private_key: pem::encode(pem::LABEL_ENCRYPTED_PRIVATE_KEY, &der).to_string(),
            created_at: None,
            created_by: None,
            expire_at: None,
        })
    }

    /// The key pair version.
    #[must_use]
    pub fn version(&self) -> UserKeyPairVersion {
        self.version
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> UserPublicKey {
        UserPublicKey::new(self.version, self.key.to_public_key())
    }

    /// Unwraps a file key wrapped for this key pair.
    ///
    /// [`Error::VersionMismatch`] when the file key was wrapped for the other key pair version;
    /// [`Error::InvalidFileKey`] with [`FileKeyProblem::Unwrap`] (and no further detail) when
    /// RSA-OAEP decryption fails. RSA decryption is blinded.
    pub fn unwrap_file_key(&self, file_key: &EncryptedFileKey) -> Result<PlainFileKey> {
        check_file_key_version(self.version, file_key)?;
        let ct = file_key.wrapped_key();
        let plain = self
            .oaep_decrypt(ct)
            .ok_or(Error::InvalidFileKey(FileKeyProblem::Unwrap))?;
        let key: &[u8; KEY_LEN] = plain
            .as_slice()
            .try_into()
            .map_err(|_| Error::InvalidFileKey(FileKeyProblem::Unwrap))?;
        Ok(PlainFileKey::from_parts(
            key,
            *file_key.iv(),
            *file_key.tag(),
        ))
    }
}

impl UserPrivateKey {
    /// RSA-OAEP decryption with the version's parameters; `None` on any failure.
    fn oaep_decrypt(&self, ct: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        #[cfg(feature = "aws-lc-rsa")]
        if let Some(fast) = &self.fast {
            return fast.decrypt(ct);
        }
        let mut rng = rand::rngs::SysRng;
        match self.version {
            UserKeyPairVersion::Rsa2048 => self.key.decrypt_blinded(&mut rng, oaep_a(), ct),
            UserKeyPairVersion::Rsa4096 => self.key.decrypt_blinded(&mut rng, oaep_4096(), ct),
        }
        .ok()
        .map(Zeroizing::new)
    }
}

/// The version check of FORMAT.md §1.2, done before any password is used.
pub(crate) fn check_file_key_version(
    key_pair: UserKeyPairVersion,
    file_key: &EncryptedFileKey,
) -> Result<()> {
    if file_key.version().key_pair_version() == key_pair {
        Ok(())
    } else {
        Err(Error::VersionMismatch(VersionMismatch::FileKey {
            key_pair,
            file_key: file_key.version(),
        }))
    }
}

impl PartialEq for UserPrivateKey {
    /// Compares the key material (for tests and checks; not constant-time).
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version && self.key == other.key
    }
}

impl Eq for UserPrivateKey {}

impl fmt::Debug for UserPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPrivateKey")
            .field("version", &self.version)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl PrivateKeyContainer {
    /// Decrypts this private key with its password: [`UserPrivateKey::unlock`].
    pub fn unlock(&self, password: &Password) -> Result<UserPrivateKey> {
        UserPrivateKey::unlock(self, password)
    }

    /// Unwraps `file_key` with this private key. The versions are checked first, so a
    /// mismatch costs no key derivation.
    pub fn unwrap_file_key(
        &self,
        file_key: &EncryptedFileKey,
        password: &Password,
    ) -> Result<PlainFileKey> {
        check_file_key_version(self.version, file_key)?;
        self.unlock(password)?.unwrap_file_key(file_key)
    }
}

impl PublicKeyContainer {
    /// Wraps `file_key` for this public key: [`UserPublicKey::wrap_file_key`].
    pub fn wrap_file_key(&self, file_key: &PlainFileKey) -> Result<EncryptedFileKey> {
        UserPublicKey::from_container(self)?.wrap_file_key(file_key)
    }
}

// ------------------------------------------------------------------------------------------
// Key pair

/// An unlocked key pair (user, room-rescue or system-rescue).
///
/// ```no_run
/// use dracoon_crypto::{Password, UserKeyPair, UserKeyPairVersion};
///
/// let password = Password::new("correct horse battery staple");
/// let key_pair = UserKeyPair::generate(UserKeyPairVersion::Rsa4096)?;
/// let container = key_pair.to_container(&password)?; // what the API stores
/// println!("{}", container.to_json());
///
/// let unlocked = container.unlock(&password)?;
/// assert_eq!(unlocked, key_pair);
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct UserKeyPair {
    private: UserPrivateKey,
    public: UserPublicKey,
}

impl UserKeyPair {
    /// Generates a new key pair (public exponent 65537) from the operating system's random
    /// number generator. New key pairs should be `RSA-4096`; `A` (RSA-2048) is legacy.
    pub fn generate(version: UserKeyPairVersion) -> Result<Self> {
        let bits = version.modulus_bits() as usize;
        let key = rsa::PrivateKey::new(&mut rand::rngs::SysRng, bits).map_err(|_| Error::Random)?;
        Self::from_private(UserPrivateKey::new(version, key)?)
    }

    /// Builds a key pair from its private key.
    pub fn from_private(private: UserPrivateKey) -> Result<Self> {
        let public = private.public_key();
        Ok(UserKeyPair { private, public })
    }

    /// Decrypts a key pair container with its password and checks that the private key belongs
    /// to the public key.
    ///
    /// Errors: [`Error::VersionMismatch`] when the two halves carry different versions (checked
    /// first), [`Error::WrongPassword`], [`Error::InvalidKeyPair`] (malformed, or the halves do
    /// not belong together), [`Error::LimitExceeded`].
    pub fn unlock(container: &UserKeyPairContainer, password: &Password) -> Result<Self> {
        Self::unlock_with(container, password, UserPrivateKey::unlock)
    }

    /// [`UserKeyPair::unlock`] for a container from a server (the lower PBKDF2 cap of
    /// [`UserPrivateKey::unlock_from_server`]).
    #[cfg(feature = "transport")]
    pub(crate) fn unlock_from_server(
        container: &UserKeyPairContainer,
        password: &Password,
    ) -> Result<Self> {
        Self::unlock_with(container, password, UserPrivateKey::unlock_from_server)
    }

    fn unlock_with(
        container: &UserKeyPairContainer,
        password: &Password,
        unlock: fn(&PrivateKeyContainer, &Password) -> Result<UserPrivateKey>,
    ) -> Result<Self> {
        container.version()?;
        let public = UserPublicKey::from_container(&container.public_key_container)?;
        let private = unlock(&container.private_key_container, password)?;
        if private.key.as_public_key() != &public.key {
            return Err(invalid(KeyPairProblem::Mismatch));
        }
        Ok(UserKeyPair { private, public })
    }

    /// The container the API stores: the private key encrypted with `password` in the current
    /// profile, the public key as SPKI PEM.
    pub fn to_container(&self, password: &Password) -> Result<UserKeyPairContainer> {
        Ok(UserKeyPairContainer {
            private_key_container: self.private.to_container(password)?,
            public_key_container: self.public.to_container()?,
        })
    }

    /// Like [`UserKeyPair::to_container`] with another iteration count.
    ///
    /// **Hazardous**: for fast tests and reproducible vectors only.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_to_container_with_iterations(
        &self,
        password: &Password,
        iterations: u32,
    ) -> Result<UserKeyPairContainer> {
        Ok(UserKeyPairContainer {
            private_key_container: self
                .private
                .hazmat_to_container_with_iterations(password, iterations)?,
            public_key_container: self.public.to_container()?,
        })
    }

    /// The key pair version.
    #[must_use]
    pub fn version(&self) -> UserKeyPairVersion {
        self.private.version
    }

    /// The public half.
    #[must_use]
    pub fn public_key(&self) -> &UserPublicKey {
        &self.public
    }

    /// The private half.
    #[must_use]
    pub fn private_key(&self) -> &UserPrivateKey {
        &self.private
    }
}

impl fmt::Debug for UserKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserKeyPair")
            .field("version", &self.version())
            .field("private", &"<redacted>")
            .finish()
    }
}

impl UserKeyPairContainer {
    /// Decrypts this key pair: [`UserKeyPair::unlock`].
    pub fn unlock(&self, password: &Password) -> Result<UserKeyPair> {
        UserKeyPair::unlock(self, password)
    }

    /// Whether `password` unlocks this key pair: `Ok(false)` for a wrong password, an error
    /// when the key pair itself is broken (malformed, mismatched halves or versions).
    pub fn check(&self, password: &Password) -> Result<bool> {
        match self.unlock(password) {
            Ok(_) => Ok(true),
            Err(Error::WrongPassword) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Re-encrypts the private key under a new password (current profile).
    pub fn change_password(&self, old: &Password, new: &Password) -> Result<UserKeyPairContainer> {
        self.unlock(old)?.to_container(new)
    }
}

#[cfg(all(test, feature = "aws-lc-rsa"))]
mod aws_lc_tests {
    use super::*;

    /// AWS-LC and `rsa` open each other's RSA-4096 OAEP ciphertexts.
    #[test]
    fn aws_lc_and_rsa_agree() {
        let kp = UserKeyPair::generate(UserKeyPairVersion::Rsa4096).unwrap();
        assert!(kp.private_key().fast.is_some() && kp.public_key().fast.is_some());
        let file_key = crate::FileEncryptor::new().unwrap().finalize();
        let msg = file_key.key_bytes().as_slice();
        let mut rng = rand::rngs::SysRng;

        let by_aws = kp.public_key().wrap_file_key(&file_key).unwrap();
        let opened = kp
            .private_key()
            .key
            .decrypt_blinded(&mut rng, oaep_4096(), by_aws.wrapped_key())
            .unwrap();
        assert_eq!(opened, msg);

        let by_rsa = kp
            .public_key()
            .key
            .encrypt(&mut rng, oaep_4096(), msg)
            .unwrap();
        let efk = EncryptedFileKey::from_parts(
            by_rsa,
            *file_key.iv(),
            *file_key.tag(),
            crate::EncryptedFileKeyVersion::Rsa4096Aes256Gcm,
        );
        assert_eq!(kp.private_key().unwrap_file_key(&efk).unwrap(), file_key);

        // One bit off: the same opaque error as on the `rsa` path.
        let mut bad = efk.wrapped_key().to_vec();
        bad[100] ^= 1;
        let bad = EncryptedFileKey::from_parts(bad, *file_key.iv(), *file_key.tag(), efk.version());
        assert!(matches!(
            kp.private_key().unwrap_file_key(&bad),
            Err(Error::InvalidFileKey(FileKeyProblem::Unwrap))
        ));
    }
}

#[cfg(all(test, feature = "transport"))]
mod server_cap_tests {
    use super::*;

    /// A private key container whose PBKDF2 runs `iterations` (the rest is garbage: a local
    /// unlock derives, then fails on the padding).
    fn container(iterations: u32) -> PrivateKeyContainer {
        let info = pkcs8::garbage_info_with_iterations(iterations);
        PrivateKeyContainer {
            version: UserKeyPairVersion::Rsa2048,
            private_key: pem::encode(pem::LABEL_ENCRYPTED_PRIVATE_KEY, &info).to_string(),
            created_at: None,
            created_by: None,
            expire_at: None,
        }
    }

    #[test]
    fn server_containers_have_a_lower_iteration_cap() {
        let pw = Password::new("pw");
        let heavy = container(pkcs8::MAX_SERVER_ITERATIONS + 1);
        // From a server: refused before any derivation.
        assert!(matches!(
            UserPrivateKey::unlock_from_server(&heavy, &pw),
            Err(Error::LimitExceeded(Limit::IterationCount { found })) if found == u64::from(pkcs8::MAX_SERVER_ITERATIONS) + 1
        ));
        // At the cap: derived (and the garbage fails as a wrong password).
        let light = container(1000);
        assert!(matches!(
            UserPrivateKey::unlock_from_server(&light, &pw),
            Err(Error::WrongPassword)
        ));
    }
}
