//! A small DER writer and PBES2 encryptor, independent of the library's own code, for building
//! every private-key shape the official SDKs produced (PRF absent / hmacWithSHA1 with and
//! without NULL / hmacWithSHA256, optional keyLength, AES-128/192/256-CBC, any salt length,
//! bare PKCS#1 payloads, INTEGERs with redundant leading zeros) and hostile ones (unknown
//! schemes, odd iteration encodings, short IVs). The one DER builder of the library's tests and
//! of the fuzz seeder.
//!
//! ```
//! use dracoon_crypto_testkit::der;
//!
//! let two_ints = der::seq(&[&der::uint(0), &der::uint(0x80)]);
//! assert_eq!(two_ints, [0x30, 0x07, 0x02, 0x01, 0x00, 0x02, 0x02, 0x00, 0x80]);
//! assert_eq!(der::elements(&two_ints).map(|e| e.len()), Some(2));
//! ```

use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};

/// rsaEncryption.
pub const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
/// id-PBES2.
pub const OID_PBES2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D];
/// id-PBKDF2.
pub const OID_PBKDF2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C];
/// hmacWithSHA1.
pub const OID_HMAC_SHA1: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x07];
/// hmacWithSHA256.
pub const OID_HMAC_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x09];
/// aes128-CBC.
pub const OID_AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
/// aes192-CBC.
pub const OID_AES192_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16];
/// aes256-CBC.
pub const OID_AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A];
/// pbeWithSHA1AndDES-CBC (PBES1).
pub const PBES1_SHA1_DES: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0A];
/// id-scrypt.
pub const SCRYPT: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x04, 0x0B];
/// des-ede3-cbc.
pub const DES_EDE3_CBC: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x03, 0x07];

/// One DER element (definite length, short or long form).
#[must_use]
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of encoded elements.
#[must_use]
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A SEQUENCE of (tag, content) elements.
#[must_use]
pub fn seq_of(elements: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = elements.iter().map(|(t, c)| tlv(*t, c)).collect();
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    seq(&refs)
}

/// A non-negative INTEGER from big-endian bytes (minimal, with a sign octet where needed).
#[must_use]
pub fn int_bytes(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    let mut content = magnitude[start..].to_vec();
    if content.first().is_none_or(|&b| b & 0x80 != 0) {
        content.insert(0, 0);
    }
    tlv(0x02, &content)
}

/// A non-negative INTEGER, minimally encoded.
#[must_use]
pub fn uint(value: u64) -> Vec<u8> {
    int_bytes(&value.to_be_bytes())
}

/// The elements of one DER SEQUENCE (tag and content each); `None` if `der` is not exactly one
/// SEQUENCE of well-formed elements.
#[must_use]
pub fn elements(der: &[u8]) -> Option<Vec<(u8, Vec<u8>)>> {
    let (tag, content, rest) = read(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let mut data = content;
    while !data.is_empty() {
        let (t, c, rest) = read(data)?;
        out.push((t, c.to_vec()));
        data = rest;
    }
    Some(out)
}

fn read(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b))
    };
    let (content, after) = rest.split_at_checked(len)?;
    Some((tag, content, after))
}

/// Re-encodes a SEQUENCE with one redundant leading zero octet added to its `index`-th
/// element (which must be an INTEGER): the shape of the Java SDK's `private_key_bad_asn1`.
#[must_use]
pub fn with_redundant_zero(der: &[u8], index: usize) -> Option<Vec<u8>> {
    let mut elements = elements(der)?;
    let (tag, content) = elements.get_mut(index)?;
    if *tag != 0x02 {
        return None;
    }
    content.insert(0, 0);
    Some(seq_of(&elements))
}

/// PKCS#8 `PrivateKeyInfo` (rsaEncryption, NULL parameters) around a PKCS#1 `RSAPrivateKey`.
#[must_use]
pub fn pkcs8_from_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    seq(&[
        &uint(0),
        &seq(&[&tlv(0x06, OID_RSA), &[0x05, 0x00]]),
        &tlv(0x04, pkcs1),
    ])
}

/// PEM armour with 64-character lines and LF line ends.
#[must_use]
pub fn pem(label: &str, der: &[u8]) -> String {
    pem_with(label, der, false)
}

/// PEM armour with 64-character lines, LF or (with `crlf`) CRLF line ends.
#[must_use]
pub fn pem_with(label: &str, der: &[u8], crlf: bool) -> String {
    let nl = if crlf { "\r\n" } else { "\n" };
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----{nl}");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str(nl);
    }
    out.push_str(&format!("-----END {label}-----{nl}"));
    out
}

/// The PRF element of PBKDF2-params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prf {
    /// Absent: HMAC-SHA1 by default (what the SDKs write).
    Absent,
    /// hmacWithSHA1 without parameters.
    Sha1NoParams,
    /// hmacWithSHA1 with NULL parameters.
    Sha1Null,
    /// hmacWithSHA256 with NULL parameters.
    Sha256Null,
    /// Another algorithm identifier, with NULL parameters ([`Pbes2::encrypt`] still derives
    /// with HMAC-SHA1).
    Other(Vec<u8>),
}

/// The encryption scheme of PBES2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    /// aes128-CBC.
    Aes128,
    /// aes192-CBC.
    Aes192,
    /// aes256-CBC.
    Aes256,
}

impl Cipher {
    /// The key length in bytes.
    #[must_use]
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128 => 16,
            Cipher::Aes192 => 24,
            Cipher::Aes256 => 32,
        }
    }

    /// The algorithm's OID.
    #[must_use]
    pub fn oid(self) -> &'static [u8] {
        match self {
            Cipher::Aes128 => OID_AES128_CBC,
            Cipher::Aes192 => OID_AES192_CBC,
            Cipher::Aes256 => OID_AES256_CBC,
        }
    }
}

/// Parameters of a hand-made PBES2 `EncryptedPrivateKeyInfo`.
#[derive(Debug, Clone)]
pub struct Pbes2 {
    /// Salt.
    pub salt: Vec<u8>,
    /// The iteration count written ([`Pbes2::encrypt`] runs at most 16 of them, so keep it
    /// small for keys that must unlock).
    pub iterations: u64,
    /// Raw content octets of the iteration INTEGER, overriding `iterations` in the encoding.
    pub raw_iterations: Option<Vec<u8>>,
    /// PRF element.
    pub prf: Prf,
    /// Cipher.
    pub cipher: Cipher,
    /// The optional keyLength, if written.
    pub key_length: Option<u64>,
    /// CBC IV.
    pub iv: [u8; 16],
    /// Length of the IV written (default 16).
    pub iv_len: Option<usize>,
}

impl Default for Pbes2 {
    fn default() -> Self {
        Pbes2 {
            salt: vec![0; 20],
            iterations: 1,
            raw_iterations: None,
            prf: Prf::Absent,
            cipher: Cipher::Aes256,
            key_length: None,
            iv: [0; 16],
            iv_len: None,
        }
    }
}

fn pbkdf2<M: Mac + KeyInit + Clone>(password: &[u8], salt: &[u8], iterations: u64, out: &mut [u8]) {
    let Ok(keyed) = <M as KeyInit>::new_from_slice(password) else {
        return;
    };
    let block_len = <M as hmac::digest::OutputSizeUser>::output_size();
    for (i, chunk) in out.chunks_mut(block_len).enumerate() {
        let mut mac = keyed.clone();
        mac.update(salt);
        mac.update(&(i as u32 + 1).to_be_bytes());
        let mut u = mac.finalize().into_bytes().to_vec();
        let mut acc = u.clone();
        for _ in 1..iterations {
            let mut mac = keyed.clone();
            mac.update(&u);
            u = mac.finalize().into_bytes().to_vec();
            acc.iter_mut().zip(&u).for_each(|(a, b)| *a ^= b);
        }
        chunk.copy_from_slice(&acc[..chunk.len()]);
    }
}

fn cbc_encrypt<C>(key: &[u8], iv: &[u8; 16], plain: &[u8]) -> Vec<u8>
where
    C: aes::cipher::BlockCipherEncrypt + aes::cipher::KeyInit,
    cbc::Encryptor<C>: KeyIvInit,
{
    let Ok(enc) = cbc::Encryptor::<C>::new_from_slices(key, iv) else {
        return Vec::new();
    };
    let mut buf = vec![0u8; plain.len() + 16];
    buf[..plain.len()].copy_from_slice(plain);
    match enc.encrypt_padded::<Pkcs7>(&mut buf, plain.len()) {
        Ok(ct) => ct.to_vec(),
        Err(_) => Vec::new(),
    }
}

impl Pbes2 {
    /// Encrypts `plain` (a `PrivateKeyInfo` or `RSAPrivateKey` DER) with `password` (PBKDF2
    /// with the PRF's hash, at most 16 iterations run) and returns the
    /// `EncryptedPrivateKeyInfo` DER.
    #[must_use]
    pub fn encrypt(&self, plain: &[u8], password: &[u8]) -> Vec<u8> {
        let mut key = vec![0u8; self.cipher.key_len()];
        let iterations = self.iterations.clamp(1, 16);
        match self.prf {
            Prf::Sha256Null => {
                pbkdf2::<Hmac<sha2::Sha256>>(password, &self.salt, iterations, &mut key);
            }
            _ => pbkdf2::<Hmac<sha1::Sha1>>(password, &self.salt, iterations, &mut key),
        }
        let data = match self.cipher {
            Cipher::Aes128 => cbc_encrypt::<aes::Aes128>(&key, &self.iv, plain),
            Cipher::Aes192 => cbc_encrypt::<aes::Aes192>(&key, &self.iv, plain),
            Cipher::Aes256 => cbc_encrypt::<aes::Aes256>(&key, &self.iv, plain),
        };
        self.wrap(&data)
    }

    /// The `EncryptedPrivateKeyInfo` with these parameters around already encrypted `data`.
    #[must_use]
    pub fn wrap(&self, data: &[u8]) -> Vec<u8> {
        self.wrap_with(OID_PBES2, OID_PBKDF2, self.cipher.oid(), data)
    }

    /// As [`Pbes2::wrap`], with the scheme, KDF and cipher OIDs given.
    #[must_use]
    pub fn wrap_with(
        &self,
        scheme_oid: &[u8],
        kdf_oid: &[u8],
        cipher_oid: &[u8],
        data: &[u8],
    ) -> Vec<u8> {
        let iterations = match &self.raw_iterations {
            Some(raw) => tlv(0x02, raw),
            None => uint(self.iterations),
        };
        let mut params = vec![tlv(0x04, &self.salt), iterations];
        if let Some(len) = self.key_length {
            params.push(uint(len));
        }
        match &self.prf {
            Prf::Absent => {}
            Prf::Sha1NoParams => params.push(seq(&[&tlv(0x06, OID_HMAC_SHA1)])),
            Prf::Sha1Null => params.push(seq(&[&tlv(0x06, OID_HMAC_SHA1), &[0x05, 0x00]])),
            Prf::Sha256Null => params.push(seq(&[&tlv(0x06, OID_HMAC_SHA256), &[0x05, 0x00]])),
            Prf::Other(oid) => params.push(seq(&[&tlv(0x06, oid), &[0x05, 0x00]])),
        }
        let refs: Vec<&[u8]> = params.iter().map(Vec::as_slice).collect();
        let kdf = seq(&[&tlv(0x06, kdf_oid), &seq(&refs)]);
        let iv = &self.iv[..self.iv_len.unwrap_or(16).min(16)];
        let scheme = seq(&[&tlv(0x06, cipher_oid), &tlv(0x04, iv)]);
        let alg = seq(&[&tlv(0x06, scheme_oid), &seq(&[&kdf, &scheme])]);
        seq(&[&alg, &tlv(0x04, data)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6070_pbkdf2() {
        let mut out = [0u8; 20];
        pbkdf2::<Hmac<sha1::Sha1>>(b"password", b"salt", 2, &mut out);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
    }

    #[test]
    fn redundant_zero() {
        let der = seq(&[&uint(0), &uint(5)]);
        let z = with_redundant_zero(&der, 1).expect("an INTEGER at 1");
        assert_eq!(
            z,
            vec![0x30, 0x07, 0x02, 0x01, 0x00, 0x02, 0x02, 0x00, 0x05]
        );
        assert_eq!(with_redundant_zero(&seq(&[&tlv(0x04, &[1])]), 0), None);
    }

    #[test]
    fn long_lengths_and_pem() {
        let big = tlv(0x04, &[7; 300]);
        assert_eq!(&big[..4], &[0x04, 0x82, 0x01, 0x2C]);
        assert_eq!(elements(&seq(&[&big])).map(|e| e[0].1.len()), Some(300));
        assert!(elements(&big[..100]).is_none());
        let p = pem_with("X", &[0; 60], true);
        assert!(p.starts_with("-----BEGIN X-----\r\n") && p.ends_with("-----END X-----\r\n"));
        assert_eq!(pem("X", &[1]), "-----BEGIN X-----\nAQ==\n-----END X-----\n");
    }
}
