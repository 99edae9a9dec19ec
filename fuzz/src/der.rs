//! A small DER writer and PBES2 encryptor for building seed keys.
//!
//! The crate writes only its own profile; the seeder needs every shape the reader accepts
//! (PRF absent / hmacWithSHA1 with and without NULL / hmacWithSHA256, optional keyLength,
//! AES-128/192/256-CBC, any salt length, bare PKCS#1 payloads, INTEGERs with redundant leading
//! zeros), each encrypted with at most 4 iterations so that it unlocks in fuzz builds, where
//! the crate clamps PBKDF2 to 4 iterations.

use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
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

/// One DER element.
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

/// A non-negative INTEGER, minimally encoded.
#[must_use]
pub fn uint(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    let mut content = bytes[skip..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    tlv(0x02, &content)
}

/// The elements of a DER SEQUENCE (tag and content each); `None` if `der` is not exactly one
/// SEQUENCE of well-formed elements with short or long-form lengths.
#[must_use]
pub fn sequence_elements(der: &[u8]) -> Option<Vec<(u8, Vec<u8>)>> {
    let (tag, content, rest) = read_element(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let mut data = content;
    while !data.is_empty() {
        let (t, c, rest) = read_element(data)?;
        out.push((t, c.to_vec()));
        data = rest;
    }
    Some(out)
}

fn read_element(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
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
/// element (which should be an INTEGER): the shape of the Java SDK's `private_key_bad_asn1`.
#[must_use]
pub fn with_redundant_zero(der: &[u8], index: usize) -> Option<Vec<u8>> {
    let mut elements = sequence_elements(der)?;
    let (tag, content) = elements.get_mut(index)?;
    if *tag != 0x02 {
        return None;
    }
    content.insert(0, 0);
    let parts: Vec<Vec<u8>> = elements.iter().map(|(t, c)| tlv(*t, c)).collect();
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Some(seq(&refs))
}

/// PKCS#8 `PrivateKeyInfo` around a PKCS#1 `RSAPrivateKey`.
#[must_use]
pub fn pkcs8_from_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    seq(&[
        &uint(0),
        &seq(&[&tlv(0x06, OID_RSA), &[0x05, 0x00]]),
        &tlv(0x04, pkcs1),
    ])
}

/// The PRF element of PBKDF2-params.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrfShape {
    /// Absent: HMAC-SHA1 by default (what the SDKs write).
    Absent,
    /// hmacWithSHA1 without parameters.
    Sha1NoParams,
    /// hmacWithSHA1 with NULL parameters.
    Sha1Null,
    /// hmacWithSHA256 with NULL parameters.
    Sha256Null,
}

/// The encryption scheme of PBES2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherShape {
    /// aes128-CBC.
    Aes128,
    /// aes192-CBC.
    Aes192,
    /// aes256-CBC.
    Aes256,
}

/// Parameters of a hand-made PBES2 `EncryptedPrivateKeyInfo`.
#[derive(Debug, Clone)]
pub struct Pbes2 {
    /// Salt.
    pub salt: Vec<u8>,
    /// Iteration count.
    pub iterations: u32,
    /// PRF element.
    pub prf: PrfShape,
    /// Cipher.
    pub cipher: CipherShape,
    /// Whether to write the optional keyLength.
    pub key_length: bool,
    /// CBC IV.
    pub iv: [u8; 16],
}

fn pbkdf2<M: Mac + KeyInit + Clone>(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
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
    /// Encrypts `plain` (a PrivateKeyInfo or RSAPrivateKey DER) with `password` and returns the
    /// `EncryptedPrivateKeyInfo` DER.
    #[must_use]
    pub fn encrypt(&self, plain: &[u8], password: &[u8]) -> Vec<u8> {
        let key_len = match self.cipher {
            CipherShape::Aes128 => 16,
            CipherShape::Aes192 => 24,
            CipherShape::Aes256 => 32,
        };
        let mut key = vec![0u8; key_len];
        match self.prf {
            PrfShape::Sha256Null => {
                pbkdf2::<Hmac<sha2::Sha256>>(password, &self.salt, self.iterations, &mut key);
            }
            _ => pbkdf2::<Hmac<sha1::Sha1>>(password, &self.salt, self.iterations, &mut key),
        }
        let data = match self.cipher {
            CipherShape::Aes128 => cbc_encrypt::<aes::Aes128>(&key, &self.iv, plain),
            CipherShape::Aes192 => cbc_encrypt::<aes::Aes192>(&key, &self.iv, plain),
            CipherShape::Aes256 => cbc_encrypt::<aes::Aes256>(&key, &self.iv, plain),
        };
        self.wrap(&data)
    }

    /// The `EncryptedPrivateKeyInfo` with these parameters around already encrypted `data`.
    #[must_use]
    pub fn wrap(&self, data: &[u8]) -> Vec<u8> {
        let key_len = match self.cipher {
            CipherShape::Aes128 => 16,
            CipherShape::Aes192 => 24,
            CipherShape::Aes256 => 32,
        };
        let cipher_oid = match self.cipher {
            CipherShape::Aes128 => OID_AES128_CBC,
            CipherShape::Aes192 => OID_AES192_CBC,
            CipherShape::Aes256 => OID_AES256_CBC,
        };
        let mut params = vec![tlv(0x04, &self.salt), uint(u64::from(self.iterations))];
        if self.key_length {
            params.push(uint(key_len));
        }
        match self.prf {
            PrfShape::Absent => {}
            PrfShape::Sha1NoParams => params.push(seq(&[&tlv(0x06, OID_HMAC_SHA1)])),
            PrfShape::Sha1Null => params.push(seq(&[&tlv(0x06, OID_HMAC_SHA1), &[0x05, 0x00]])),
            PrfShape::Sha256Null => {
                params.push(seq(&[&tlv(0x06, OID_HMAC_SHA256), &[0x05, 0x00]]));
            }
        }
        let params_refs: Vec<&[u8]> = params.iter().map(Vec::as_slice).collect();
        let kdf = seq(&[&tlv(0x06, OID_PBKDF2), &seq(&params_refs)]);
        let scheme = seq(&[&tlv(0x06, cipher_oid), &tlv(0x04, &self.iv)]);
        let alg = seq(&[&tlv(0x06, OID_PBES2), &seq(&[&kdf, &scheme])]);
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
        let z = with_redundant_zero(&der, 1).unwrap();
        assert_eq!(
            z,
            vec![0x30, 0x07, 0x02, 0x01, 0x00, 0x02, 0x02, 0x00, 0x05]
        );
    }
}
