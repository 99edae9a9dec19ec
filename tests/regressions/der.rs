//! A small DER writer and PBES2 encryptor for building hostile and unusual keys in tests,
//! independent of the crate's own code. Shared by tests/hardening.rs and tests/regressions.rs.
#![allow(dead_code)]

use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};

pub const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
pub const OID_PBES2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D];
pub const OID_PBKDF2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C];
pub const OID_AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A];
/// pbeWithSHA1AndDES-CBC (PBES1).
pub const PBES1_SHA1_DES: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0A];
/// id-scrypt.
pub const SCRYPT: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x04, 0x0B];
/// des-ede3-cbc.
pub const DES_EDE3_CBC: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x03, 0x07];

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

pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A SEQUENCE of (tag, content) elements.
pub fn seq_of(elements: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = elements.iter().map(|(t, c)| tlv(*t, c)).collect();
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    seq(&refs)
}

/// A non-negative INTEGER from big-endian bytes (minimal, sign octet added).
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

pub fn uint(v: u64) -> Vec<u8> {
    int_bytes(&v.to_be_bytes())
}

/// The elements of one DER SEQUENCE.
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
        let (bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b))
    };
    let (content, after) = rest.split_at_checked(len)?;
    Some((tag, content, after))
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The PRF element of PBKDF2-params.
pub enum Prf {
    /// Absent (HMAC-SHA1).
    Absent,
    /// Another algorithm identifier (with NULL parameters).
    Other(Vec<u8>),
}

pub struct Pbes2 {
    pub salt: Vec<u8>,
    pub iterations: u64,
    /// Raw content octets of the iteration INTEGER, overriding `iterations`.
    pub raw_iterations: Option<Vec<u8>>,
    pub prf: Prf,
    pub key_length: Option<u64>,
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
            key_length: None,
            iv: [0; 16],
            iv_len: None,
        }
    }
}

impl Pbes2 {
    /// PBKDF2-HMAC-SHA1 (at most 2^32 - 1 iterations are run; tests use few) and
    /// AES-256-CBC over `plain`.
    pub fn encrypt(&self, plain: &[u8], password: &[u8]) -> Vec<u8> {
        let mut key = [0u8; 32];
        let iterations = self.iterations.clamp(1, 16);
        for (i, chunk) in key.chunks_mut(20).enumerate() {
            let keyed =
                <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(password).expect("any key length");
            let mut mac = keyed.clone();
            mac.update(&self.salt);
            mac.update(&(i as u32 + 1).to_be_bytes());
            let mut u = mac.finalize().into_bytes();
            let mut acc = u;
            for _ in 1..iterations {
                let mut mac = keyed.clone();
                mac.update(&u);
                u = mac.finalize().into_bytes();
                acc.iter_mut().zip(u.iter()).for_each(|(a, b)| *a ^= b);
            }
            chunk.copy_from_slice(&acc[..chunk.len()]);
        }
        let enc = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &self.iv).expect("sizes");
        let mut buf = vec![0u8; plain.len() + 16];
        buf[..plain.len()].copy_from_slice(plain);
        let ct = enc
            .encrypt_padded::<Pkcs7>(&mut buf, plain.len())
            .expect("room for padding")
            .to_vec();
        self.wrap(&ct)
    }

    pub fn wrap(&self, data: &[u8]) -> Vec<u8> {
        self.wrap_with(OID_PBES2, OID_PBKDF2, OID_AES256_CBC, data)
    }

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
        if let Prf::Other(oid) = &self.prf {
            params.push(seq(&[&tlv(0x06, oid), &[0x05, 0x00]]));
        }
        let refs: Vec<&[u8]> = params.iter().map(Vec::as_slice).collect();
        let kdf = seq(&[&tlv(0x06, kdf_oid), &seq(&refs)]);
        let iv = &self.iv[..self.iv_len.unwrap_or(16).min(16)];
        let scheme = seq(&[&tlv(0x06, cipher_oid), &tlv(0x04, iv)]);
        let alg = seq(&[&tlv(0x06, scheme_oid), &seq(&[&kdf, &scheme])]);
        seq(&[&alg, &tlv(0x04, data)])
    }
}

/// PKCS#8 `PrivateKeyInfo` (rsaEncryption, NULL) around a PKCS#1 `RSAPrivateKey`.
pub fn pkcs8_from_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    seq(&[
        &uint(0),
        &seq(&[&tlv(0x06, OID_RSA), &[0x05, 0x00]]),
        &tlv(0x04, pkcs1),
    ])
}
