//! PEM armour (RFC 7468): read with LF or CRLF line endings and any line length, write with
//! LF and 64-character lines (FORMAT.md §2.3).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::error::{Error, KeyPairProblem, Limit, Result};

/// Largest PEM string accepted (an RSA-4096 encrypted private key is about 3.3 KB).
pub(crate) const MAX_PEM_LEN: usize = 64 * 1024;

pub(crate) const LABEL_PUBLIC_KEY: &str = "PUBLIC KEY";
pub(crate) const LABEL_ENCRYPTED_PRIVATE_KEY: &str = "ENCRYPTED PRIVATE KEY";
pub(crate) const LABEL_PRIVATE_KEY: &str = "PRIVATE KEY";
pub(crate) const LABEL_RSA_PRIVATE_KEY: &str = "RSA PRIVATE KEY";

/// A decoded PEM document: its label and DER body (wiped on drop, it may be a private key).
pub(crate) struct Pem<'a> {
    pub(crate) label: &'a str,
    pub(crate) der: Zeroizing<Vec<u8>>,
}

fn invalid(problem: KeyPairProblem) -> Error {
    Error::InvalidKeyPair(problem)
}

/// Decodes one PEM document. Surrounding whitespace is ignored; the body may contain any
/// ASCII whitespace; encapsulated headers (`Proc-Type:` ...) are not supported.
pub(crate) fn decode(text: &str) -> Result<Pem<'_>> {
    if text.len() > MAX_PEM_LEN {
        return Err(Error::LimitExceeded(Limit::InputSize { max: MAX_PEM_LEN }));
    }
    let text = text.trim_ascii();
    let rest = text
        .strip_prefix("-----BEGIN ")
        .ok_or(invalid(KeyPairProblem::Pem))?;
    let (label, rest) = rest
        .split_once("-----")
        .ok_or(invalid(KeyPairProblem::Pem))?;
    if label.is_empty()
        || !label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit())
    {
        return Err(invalid(KeyPairProblem::Pem));
    }
    let (body, end) = rest
        .split_once("-----END ")
        .ok_or(invalid(KeyPairProblem::Pem))?;
    if end.strip_suffix("-----") != Some(label) {
        return Err(invalid(KeyPairProblem::Pem));
    }
    if body.contains(':') {
        return Err(invalid(KeyPairProblem::UnsupportedAlgorithm));
    }
    let compact: Zeroizing<Vec<u8>> =
        Zeroizing::new(body.bytes().filter(|b| !b.is_ascii_whitespace()).collect());
    let der = STANDARD
        .decode(compact.as_slice())
        .map_err(|_| invalid(KeyPairProblem::Base64))?;
    Ok(Pem {
        label,
        der: Zeroizing::new(der),
    })
}

/// Encodes DER as PEM with LF line endings, 64-character lines and a final newline.
pub(crate) fn encode(label: &str, der: &[u8]) -> Zeroizing<String> {
    let b64 = Zeroizing::new(STANDARD.encode(der));
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for line in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every 64-byte chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    Zeroizing::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_lf_and_crlf() {
        let der: Vec<u8> = (0..200u8).collect();
        let pem = encode(LABEL_PUBLIC_KEY, &der);
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        let back = decode(&pem).unwrap();
        assert_eq!(back.label, LABEL_PUBLIC_KEY);
        assert_eq!(*back.der, der);
        let crlf = pem.replace('\n', "\r\n");
        assert_eq!(*decode(&crlf).unwrap().der, der);
    }

    #[test]
    fn armour_errors() {
        let pem = encode(LABEL_PUBLIC_KEY, b"abc");
        let kex = pem.replacen("PUBLIC KEY-----\n", "PUBLIC KEX-----\n", 1);
        assert!(matches!(
            decode(&kex),
            Err(Error::InvalidKeyPair(KeyPairProblem::Pem))
        ));
        assert!(decode("").is_err());
        assert!(decode("-----BEGIN PUBLIC KEY-----").is_err());
        let bad_b64 = pem.replace("YWJj", "YW*j");
        assert!(matches!(
            decode(&bad_b64),
            Err(Error::InvalidKeyPair(KeyPairProblem::Base64))
        ));
        let huge = "A".repeat(MAX_PEM_LEN + 1);
        assert!(matches!(decode(&huge), Err(Error::LimitExceeded(_))));
    }
}
