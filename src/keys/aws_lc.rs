//! RSA-4096 OAEP (SHA-256 / MGF1-SHA-256) on AWS-LC, behind feature `aws-lc-rsa`.
//!
//! `rsa` 0.10 needs about 12-17 ms for one RSA-4096 private-key operation here, OpenSSL and
//! AWS-LC about 2.2 ms (benches/README.md, group `rsa4096_backend_*`); missing-key distribution
//! spends almost all its time in exactly this operation. AWS-LC's RSA is constant-time and
//! blinded. It only offers OAEP with one hash for both roles, which is what version `RSA-4096`
//! uses; version `A` (MGF1-SHA-1) stays on `rsa`. Importing a key costs about 0.75 ms, once per
//! [`super::UserPrivateKey`]. AWS-LC clears freed memory (`OPENSSL_free` cleanses), so the
//! imported key does not outlive its owner in memory.

use std::sync::Arc;

use aws_lc_rs::rsa::{
    OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

/// An RSA-4096 private key imported into AWS-LC.
#[derive(Clone)]
pub(crate) struct FastPrivate(Arc<OaepPrivateDecryptingKey>);

/// An RSA-4096 public key imported into AWS-LC.
#[derive(Clone)]
pub(crate) struct FastPublic(Arc<OaepPublicEncryptingKey>);

impl FastPrivate {
    /// Imports `key`; `None` if AWS-LC refuses it (the `rsa` path is used then).
    pub(crate) fn import(key: &rsa::PrivateKey) -> Option<Self> {
        let der = key.to_pkcs8_der().ok()?;
        let key = PrivateDecryptingKey::from_pkcs8(der.as_bytes()).ok()?;
        OaepPrivateDecryptingKey::new(key)
            .ok()
            .map(|k| FastPrivate(Arc::new(k)))
    }

    /// OAEP-decrypts `ciphertext`; `None` on any failure (deliberately without detail).
    pub(crate) fn decrypt(&self, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.0.min_output_size()]);
        let len = self
            .0
            .decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None)
            .ok()?
            .len();
        out.truncate(len);
        Some(out)
    }
}

impl FastPublic {
    /// Imports `key`; `None` if AWS-LC refuses it.
    pub(crate) fn import(key: &rsa::PublicKey) -> Option<Self> {
        let der = key.to_public_key_der().ok()?;
        let key = PublicEncryptingKey::from_der(der.as_bytes()).ok()?;
        OaepPublicEncryptingKey::new(key)
            .ok()
            .map(|k| FastPublic(Arc::new(k)))
    }

    /// OAEP-encrypts `plaintext` (AWS-LC draws the seed from its own RNG).
    pub(crate) fn encrypt(&self, plaintext: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; self.0.ciphertext_size()];
        let len = self
            .0
            .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None)
            .ok()?
            .len();
        out.truncate(len);
        Some(out)
    }
}
