//! Password-encrypted private keys: PKCS#8 `EncryptedPrivateKeyInfo` with PBES2 (PBKDF2 +
//! AES-CBC), in every shape a DRACOON SDK ever wrote (FORMAT.md §2.4-2.6), and the unencrypted
//! PKCS#8 / PKCS#1 forms.
//!
//! Reading is lenient where the SDKs differ (salt length, iteration count, PRF element present
//! or absent, with or without NULL parameters, optional keyLength, redundant leading zeros in
//! the inner key's INTEGERs) and strict everywhere else. Writing produces exactly the current
//! profile: 20-byte salt, 1,300,000 iterations of PBKDF2-HMAC-SHA1 (PRF element omitted),
//! AES-256-CBC with a 16-byte IV, `PrivateKeyInfo` inside.

use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use rand::TryRng as _;
use rsa::BoxedUint;
use zeroize::Zeroizing;

use super::der::{self, DerError, Reader, oid};
use super::pbkdf2::{self, Prf};
use crate::error::{Error, KeyPairProblem, Limit, Result};
use crate::secret::Password;

/// Iteration count written for new keys (the SDKs' "kdf v2" profile).
pub(crate) const WRITE_ITERATIONS: u32 = 1_300_000;
/// Salt length written for new keys.
pub(crate) const WRITE_SALT_LEN: usize = 20;
/// Highest iteration count accepted in a local file; the SDKs write at most 1,300,000.
pub(crate) const MAX_ITERATIONS: u64 = 10_000_000;
/// Highest iteration count accepted in a container that comes from a server (key pairs the
/// transport workflows unlock, share key pairs): a server cannot make a client run more than
/// 2,000,000 iterations per container and password encoding (about 1.5x the SDKs' profile).
#[cfg(feature = "transport")]
pub(crate) const MAX_SERVER_ITERATIONS: u32 = 2_000_000;
/// Accepted salt lengths (the SDKs wrote 8, 20 and 128 bytes).
pub(crate) const SALT_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=1024;
/// In fuzz builds (`cfg(fuzzing)`) key derivation runs at most this many iterations, so each
/// fuzz input is fast; the result is then simply a wrong key.
#[cfg(fuzzing)]
const FUZZ_ITERATION_CAP: u32 = 4;
/// Largest encrypted payload accepted (RSA-4096 keys are 2,384 bytes).
pub(crate) const MAX_ENCRYPTED_DATA: usize = 16 * 1024;

fn asn1(_: DerError) -> Error {
    Error::InvalidKeyPair(KeyPairProblem::Asn1)
}

const UNSUPPORTED: Error = Error::InvalidKeyPair(KeyPairProblem::UnsupportedAlgorithm);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AesCbc {
    Aes128,
    Aes192,
    Aes256,
}

impl AesCbc {
    fn key_len(self) -> usize {
        match self {
            AesCbc::Aes128 => 16,
            AesCbc::Aes192 => 24,
            AesCbc::Aes256 => 32,
        }
    }
}

/// The parameters and ciphertext of an `EncryptedPrivateKeyInfo`.
#[derive(Debug)]
pub(crate) struct EncryptedPrivateKeyInfo<'a> {
    pub(crate) salt: &'a [u8],
    pub(crate) iterations: u32,
    pub(crate) prf: Prf,
    pub(crate) cipher: AesCbc,
    pub(crate) iv: [u8; 16],
    pub(crate) data: &'a [u8],
}

impl<'a> EncryptedPrivateKeyInfo<'a> {
    /// Parses and checks the structure and every limit, before any key derivation.
    pub(crate) fn parse(der: &'a [u8]) -> Result<Self> {
        let mut outer = Reader::new(der);
        let mut info = outer.sequence().map_err(asn1)?;
        outer.finish().map_err(asn1)?;

        let mut alg = info.sequence().map_err(asn1)?;
        let data = info.octet_string().map_err(asn1)?;
        info.finish().map_err(asn1)?;

        if alg.oid().map_err(asn1)? != oid::PBES2 {
            return Err(UNSUPPORTED);
        }
        let mut params = alg.sequence().map_err(asn1)?;
        alg.finish().map_err(asn1)?;

        // keyDerivationFunc
        let mut kdf = params.sequence().map_err(asn1)?;
        if kdf.oid().map_err(asn1)? != oid::PBKDF2 {
            return Err(UNSUPPORTED);
        }
        let mut pbkdf2_params = kdf.sequence().map_err(asn1)?;
        kdf.finish().map_err(asn1)?;
        let salt = pbkdf2_params.octet_string().map_err(asn1)?;
        let iterations = pbkdf2_params.small_uint().map_err(asn1)?;
        let mut key_length = None;
        if pbkdf2_params.peek_tag() == Some(der::TAG_INTEGER) {
            key_length = Some(pbkdf2_params.small_uint().map_err(asn1)?);
        }
        let mut prf = Prf::HmacSha1;
        if !pbkdf2_params.is_empty() {
            let mut prf_alg = pbkdf2_params.sequence().map_err(asn1)?;
            prf = match prf_alg.oid().map_err(asn1)? {
                o if o == oid::HMAC_SHA1 => Prf::HmacSha1,
                o if o == oid::HMAC_SHA256 => Prf::HmacSha256,
                _ => return Err(UNSUPPORTED),
            };
            prf_alg.optional_null().map_err(asn1)?;
            prf_alg.finish().map_err(asn1)?;
        }
        pbkdf2_params.finish().map_err(asn1)?;

        // encryptionScheme
        let mut scheme = params.sequence().map_err(asn1)?;
        params.finish().map_err(asn1)?;
        let cipher = match scheme.oid().map_err(asn1)? {
            o if o == oid::AES256_CBC => AesCbc::Aes256,
            o if o == oid::AES192_CBC => AesCbc::Aes192,
            o if o == oid::AES128_CBC => AesCbc::Aes128,
            _ => return Err(UNSUPPORTED),
        };
        let iv: [u8; 16] = scheme
            .octet_string()
            .map_err(asn1)?
            .try_into()
            .map_err(|_| asn1(DerError))?;
        scheme.finish().map_err(asn1)?;

        if key_length.is_some_and(|len| len != cipher.key_len() as u64) {
            return Err(UNSUPPORTED);
        }
        if iterations == 0 || iterations > MAX_ITERATIONS {
            return Err(Error::LimitExceeded(Limit::IterationCount {
                found: iterations,
            }));
        }
        if !SALT_LEN_RANGE.contains(&salt.len()) {
            return Err(Error::LimitExceeded(Limit::SaltLength {
                found: salt.len(),
            }));
        }
        if data.len() > MAX_ENCRYPTED_DATA {
            return Err(Error::LimitExceeded(Limit::InputSize {
                max: MAX_ENCRYPTED_DATA,
            }));
        }
        if data.is_empty() || data.len() % 16 != 0 {
            return Err(asn1(DerError));
        }
        Ok(EncryptedPrivateKeyInfo {
            salt,
            iterations: u32::try_from(iterations).map_err(|_| asn1(DerError))?,
            prf,
            cipher,
            iv,
            data,
        })
    }

    /// Decrypts with one candidate password encoding; `None` when the padding is wrong.
    fn decrypt_with(&self, password: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut key = Zeroizing::new([0u8; 32]);
        let key = key.get_mut(..self.cipher.key_len())?;
        #[cfg(not(fuzzing))]
        let iterations = self.iterations;
        #[cfg(fuzzing)]
        let iterations = self.iterations.min(FUZZ_ITERATION_CAP);
        pbkdf2::derive(self.prf, password, self.salt, iterations, key);
        let mut buf = Zeroizing::new(self.data.to_vec());
        let len = match self.cipher {
            AesCbc::Aes128 => cbc_decrypt::<aes::Aes128>(key, &self.iv, &mut buf),
            AesCbc::Aes192 => cbc_decrypt::<aes::Aes192>(key, &self.iv, &mut buf),
            AesCbc::Aes256 => cbc_decrypt::<aes::Aes256>(key, &self.iv, &mut buf),
        }?;
        buf.truncate(len);
        Some(buf)
    }
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8; 16], buf: &mut [u8]) -> Option<usize>
where
    C: aes::cipher::BlockCipherDecrypt + aes::cipher::KeyInit,
    cbc::Decryptor<C>: KeyIvInit,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
    dec.decrypt_padded::<Pkcs7>(buf).ok().map(<[u8]>::len)
}

/// Decrypts an encrypted private key: each password candidate in turn (FORMAT.md §2.6); the
/// first whose plaintext is a valid RSA key wins. A candidate whose
/// plaintext is not well-formed DER counts as a wrong password (CBC padding is right by chance for
/// about one wrong password in 256); a well-formed key that is mathematically unusable can only
/// come from the right password and is reported as `InvalidKeyPair(InvalidKey)`.
pub(crate) fn decrypt(
    info: &EncryptedPrivateKeyInfo<'_>,
    password: &Password,
) -> Result<rsa::PrivateKey> {
    let mut unusable = None;
    for candidate in password.candidates() {
        let Some(plain) = info.decrypt_with(&candidate) else {
            continue;
        };
        match parse_decrypted(&plain) {
            Ok(key) => return Ok(key),
            // Well-formed DER holding an unusable key: only the right password gets this far.
            Err(e @ Error::InvalidKeyPair(KeyPairProblem::InvalidKey)) => unusable = Some(e),
            Err(_) => {}
        }
    }
    Err(unusable.unwrap_or(Error::WrongPassword))
}

/// A decrypted payload: `PrivateKeyInfo`, or a bare `RSAPrivateKey` when it is not one.
fn parse_decrypted(plain: &[u8]) -> Result<rsa::PrivateKey> {
    match parse_private_key_info(plain) {
        Err(Error::InvalidKeyPair(KeyPairProblem::Asn1)) => parse_rsa_private_key(plain),
        other => other,
    }
}

/// Encrypts a private key (as PKCS#8 `PrivateKeyInfo` DER) in the current profile; returns
/// the `EncryptedPrivateKeyInfo` DER.
pub(crate) fn encrypt(
    private_key_info: &[u8],
    password: &Password,
    iterations: u32,
) -> Result<Vec<u8>> {
    if password.is_empty() {
        return Err(Error::InvalidArgument("the password must not be empty"));
    }
    let mut rng = rand::rngs::SysRng;
    let mut salt = [0u8; WRITE_SALT_LEN];
    let mut iv = [0u8; 16];
    rng.try_fill_bytes(&mut salt)
        .and_then(|()| rng.try_fill_bytes(&mut iv))
        .map_err(|_| Error::Random)?;

    let mut key = Zeroizing::new([0u8; 32]);
    pbkdf2::derive(
        Prf::HmacSha1,
        password.expose().as_bytes(),
        &salt,
        iterations,
        key.as_mut_slice(),
    );
    let enc = cbc::Encryptor::<aes::Aes256>::new_from_slices(key.as_slice(), &iv)
        .map_err(|_| Error::InvalidArgument("bad AES key length"))?;
    let msg_len = private_key_info.len();
    let mut data = vec![0u8; msg_len + 16 - msg_len % 16];
    data.get_mut(..msg_len)
        .ok_or(Error::InvalidArgument("buffer"))?
        .copy_from_slice(private_key_info);
    let ct_len = enc
        .encrypt_padded::<Pkcs7>(&mut data, msg_len)
        .map_err(|_| Error::InvalidArgument("CBC padding buffer too small"))?
        .len();
    data.truncate(ct_len);

    let pbkdf2_params = der::sequence(&[
        &der::tlv(der::TAG_OCTET_STRING, &salt),
        &der::unsigned_integer(&iterations.to_be_bytes()),
        // keyLength and prf omitted: HMAC-SHA1 is the DEFAULT
    ]);
    let kdf = der::sequence(&[&der::tlv(der::TAG_OID, oid::PBKDF2), &pbkdf2_params]);
    let scheme = der::sequence(&[
        &der::tlv(der::TAG_OID, oid::AES256_CBC),
        &der::tlv(der::TAG_OCTET_STRING, &iv),
    ]);
    let alg = der::sequence(&[
        &der::tlv(der::TAG_OID, oid::PBES2),
        &der::sequence(&[&kdf, &scheme]),
    ]);
    Ok(der::sequence(&[
        &alg,
        &der::tlv(der::TAG_OCTET_STRING, &data),
    ]))
}

/// Parses a PKCS#8 `PrivateKeyInfo` holding an RSA key.
pub(crate) fn parse_private_key_info(der: &[u8]) -> Result<rsa::PrivateKey> {
    let mut outer = Reader::new(der);
    let mut info = outer.sequence().map_err(asn1)?;
    outer.finish().map_err(asn1)?;
    let version = info.small_uint().map_err(asn1)?;
    if version > 1 {
        return Err(asn1(DerError));
    }
    let mut alg = info.sequence().map_err(asn1)?;
    if alg.oid().map_err(asn1)? != oid::RSA_ENCRYPTION {
        return Err(UNSUPPORTED);
    }
    alg.optional_null().map_err(asn1)?;
    alg.finish().map_err(asn1)?;
    let key = info.octet_string().map_err(asn1)?;
    // [0] attributes and [1] publicKey (v2) may follow; they carry nothing we need.
    while !info.is_empty() {
        match info.any().map_err(asn1)? {
            (0xA0 | 0xA1 | 0x80 | 0x81, _) => {}
            _ => return Err(asn1(DerError)),
        }
    }
    parse_rsa_private_key(key)
}

/// Parses a PKCS#1 `RSAPrivateKey` (two primes), tolerating redundant leading zeros in its
/// INTEGERs. The CRT values are recomputed from n, e, d, p, q and the key is validated.
pub(crate) fn parse_rsa_private_key(der: &[u8]) -> Result<rsa::PrivateKey> {
    let mut outer = Reader::new(der);
    let mut seq = outer.sequence().map_err(asn1)?;
    outer.finish().map_err(asn1)?;
    if seq.small_uint().map_err(asn1)? != 0 {
        return Err(UNSUPPORTED); // multi-prime
    }
    let n = seq.unsigned_integer().map_err(asn1)?;
    let e = seq.unsigned_integer().map_err(asn1)?;
    let d = seq.unsigned_integer().map_err(asn1)?;
    let p = seq.unsigned_integer().map_err(asn1)?;
    let q = seq.unsigned_integer().map_err(asn1)?;
    for _ in 0..3 {
        seq.unsigned_integer().map_err(asn1)?; // dP, dQ, qInv: recomputed
    }
    seq.finish().map_err(asn1)?;

    if n.len() > super::MAX_MODULUS_BYTES || e.len() > 8 {
        return Err(Error::InvalidKeyPair(KeyPairProblem::InvalidKey));
    }
    let bits = u32::try_from(n.len() * 8).map_err(|_| asn1(DerError))?;
    let uint = |bytes: &[u8], bits: u32| {
        BoxedUint::from_be_slice(bytes, bits.max(64))
            .map_err(|_| Error::InvalidKeyPair(KeyPairProblem::InvalidKey))
    };
    let e_bits = u32::try_from(e.len() * 8).map_err(|_| asn1(DerError))?;
    let key = rsa::PrivateKey::from_components(
        uint(n, bits)?,
        uint(e, e_bits)?,
        uint(d, bits)?,
        vec![uint(p, bits)?, uint(q, bits)?],
    )
    .map_err(|_| Error::InvalidKeyPair(KeyPairProblem::InvalidKey))?;
    Ok(key)
}

/// A structurally valid PBES2 `EncryptedPrivateKeyInfo` (PBKDF2-HMAC-SHA1 with `iterations`,
/// AES-256-CBC) around 32 bytes of garbage, for limit tests.
#[cfg(test)]
pub(crate) fn garbage_info_with_iterations(iterations: u32) -> Vec<u8> {
    let params = der::sequence(&[
        &der::tlv(der::TAG_OCTET_STRING, &[1; 20]),
        &der::unsigned_integer(&iterations.to_be_bytes()),
    ]);
    let kdf = der::sequence(&[&der::tlv(der::TAG_OID, oid::PBKDF2), &params]);
    let scheme = der::sequence(&[
        &der::tlv(der::TAG_OID, oid::AES256_CBC),
        &der::tlv(der::TAG_OCTET_STRING, &[0; 16]),
    ]);
    let alg = der::sequence(&[
        &der::tlv(der::TAG_OID, oid::PBES2),
        &der::sequence(&[&kdf, &scheme]),
    ]);
    der::sequence(&[&alg, &der::tlv(der::TAG_OCTET_STRING, &[0; 32])])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_before_any_work() {
        // A structurally valid header with 2^31 iterations must be refused at once.
        let info = garbage_info_with_iterations(0x8000_0000);
        assert!(matches!(
            EncryptedPrivateKeyInfo::parse(&info),
            Err(Error::LimitExceeded(Limit::IterationCount {
                found: 0x8000_0000
            }))
        ));
    }

    #[test]
    fn written_structure_parses_back_with_the_profile() {
        let der = encrypt(b"not really a key", &Password::new("pw"), 1000).unwrap();
        let info = EncryptedPrivateKeyInfo::parse(&der).unwrap();
        assert_eq!(info.salt.len(), WRITE_SALT_LEN);
        assert_eq!(info.iterations, 1000);
        assert_eq!(info.prf, Prf::HmacSha1);
        assert_eq!(info.cipher, AesCbc::Aes256);
        assert_eq!(
            info.decrypt_with(b"pw").as_deref().map(Vec::as_slice),
            Some(&b"not really a key"[..])
        );
        // The plaintext is no RSA key, so every candidate fails: a wrong password.
        assert!(matches!(
            decrypt(&info, &Password::new("pw")),
            Err(Error::WrongPassword)
        ));
    }

    #[test]
    fn empty_password_is_refused_for_writing() {
        assert!(matches!(
            encrypt(b"x", &Password::new(""), 1),
            Err(Error::InvalidArgument(_))
        ));
    }
}
