//! File keys: the per-file AES-256-GCM key, IV and tag, plain or wrapped with RSA-OAEP
//! (FORMAT.md §3).
//!
//! A [`PlainFileKey`] comes out of [`crate::FileEncryptor::finalize`] (or out of unwrapping); it
//! is wrapped for every reader with [`crate::UserPublicKey::wrap_file_key`], which gives an
//! [`EncryptedFileKey`] (the API's `FileKey` JSON). Readers unwrap it with their private key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, FileKeyField, FileKeyProblem, Limit, Result};
use crate::secret::SecretArray;
use crate::version::{EncryptedFileKeyVersion, PlainFileKeyVersion};

/// Length of the AES-256 key.
pub const KEY_LEN: usize = 32;
/// Length of the GCM IV.
pub const IV_LEN: usize = 12;
/// Length of the GCM tag.
pub const TAG_LEN: usize = 16;

/// Largest file key JSON accepted (a 4096-bit wrapped key is ~700 bytes of JSON).
pub(crate) const MAX_FILE_KEY_JSON: usize = 16 * 1024;

/// An unwrapped file key: the AES-256 key, the 96-bit IV and the 128-bit tag of one file.
///
/// The key is wiped from memory on drop and never printed. A `PlainFileKey` can only decrypt:
/// new content is always encrypted by a [`crate::FileEncryptor`], which draws a fresh key and IV
/// itself, so a key+IV pair can never be used twice through this crate's API.
///
/// ```
/// use dracoon_crypto::{FileEncryptor, PlainFileKey};
/// let mut enc = FileEncryptor::new()?;
/// let mut data = *b"hello";
/// enc.update_in_place(&mut data)?;
/// let key: PlainFileKey = enc.finalize();
/// assert_eq!(key.iv().len(), 12);
/// assert!(format!("{key:?}").contains("key: \"<redacted>\""));
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PlainFileKey {
    key: SecretArray<KEY_LEN>,
    iv: [u8; IV_LEN],
    tag: [u8; TAG_LEN],
    version: PlainFileKeyVersion,
}

impl PlainFileKey {
    pub(crate) fn from_parts(key: &[u8; KEY_LEN], iv: [u8; IV_LEN], tag: [u8; TAG_LEN]) -> Self {
        PlainFileKey {
            key: SecretArray(*key),
            iv,
            tag,
            version: PlainFileKeyVersion::Aes256Gcm,
        }
    }

    pub(crate) fn key_bytes(&self) -> &[u8; KEY_LEN] {
        &self.key.0
    }

    /// The 12-byte GCM IV.
    #[must_use]
    pub fn iv(&self) -> &[u8; IV_LEN] {
        &self.iv
    }

    /// The 16-byte GCM tag.
    #[must_use]
    pub fn tag(&self) -> &[u8; TAG_LEN] {
        &self.tag
    }

    /// The version (always AES-256-GCM).
    #[must_use]
    pub fn version(&self) -> PlainFileKeyVersion {
        self.version
    }

    /// Parses the JSON form `{"key", "iv", "tag", "version"}` (version `A` or `AES-256-GCM`);
    /// key, IV and tag must decode to exactly 32, 12 and 16 bytes.
    ///
    /// ```
    /// use dracoon_crypto::PlainFileKey;
    /// let json = r#"{"key":"RZIcE5VWziSw4EPsfa40xKGM95LAdC/WMMY84g4aOHo=","iv":"8O+rDR/+InRDmWxB",
    ///               "tag":"SsQh5Pws/rmrVC2b+25v9A==","version":"A"}"#;
    /// let key = PlainFileKey::from_json(json)?;
    /// assert_eq!(PlainFileKey::from_json(&key.to_json())?, key);
    /// # Ok::<(), dracoon_crypto::Error>(())
    /// ```
    pub fn from_json(json: &str) -> Result<Self> {
        let raw: RawFileKey = parse_json(json)?;
        raw.into_plain()
    }

    /// The JSON form, version `A`, in a buffer wiped on drop (it contains the key).
    #[must_use]
    pub fn to_json(&self) -> Zeroizing<String> {
        let key = Zeroizing::new(STANDARD.encode(self.key.0));
        let raw = RawFileKeyRef {
            key: &key,
            iv: &STANDARD.encode(self.iv),
            tag: Some(&STANDARD.encode(self.tag)),
            version: self.version.as_str(),
        };
        Zeroizing::new(serde_json::to_string(&raw).unwrap_or_default())
    }
}

impl fmt::Debug for PlainFileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainFileKey")
            .field("key", &"<redacted>")
            .field("iv", &STANDARD.encode(self.iv))
            .field("tag", &STANDARD.encode(self.tag))
            .field("version", &self.version)
            .finish()
    }
}

/// A file key wrapped with RSA-OAEP for one key pair: the API's `FileKey` object.
///
/// Serialises to and from `{"key": "<base64>", "iv": "<base64>", "tag": "<base64>",
/// "version": "A" | "RSA-4096/AES-256-GCM"}` exactly as the DRACOON API has it.
///
/// ```
/// use dracoon_crypto::{EncryptedFileKey, EncryptedFileKeyVersion};
/// let json = format!(
///     r#"{{"key":"{}","iv":"8O+rDR/+InRDmWxB","tag":"SsQh5Pws/rmrVC2b+25v9A==","version":"A"}}"#,
///     "A".repeat(340) + "AA=="
/// );
/// let key = EncryptedFileKey::from_json(&json)?;
/// assert_eq!(key.version(), EncryptedFileKeyVersion::Rsa2048);
/// assert_eq!(EncryptedFileKey::from_json(&key.to_json())?, key);
/// # Ok::<(), dracoon_crypto::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedFileKey {
    key: Vec<u8>,
    iv: [u8; IV_LEN],
    tag: [u8; TAG_LEN],
    version: EncryptedFileKeyVersion,
}

impl EncryptedFileKey {
    pub(crate) fn from_parts(
        key: Vec<u8>,
        iv: [u8; IV_LEN],
        tag: [u8; TAG_LEN],
        version: EncryptedFileKeyVersion,
    ) -> Self {
        EncryptedFileKey {
            key,
            iv,
            tag,
            version,
        }
    }

    /// The RSA-OAEP ciphertext (256 bytes for `A`, 512 for `RSA-4096/AES-256-GCM`).
    #[must_use]
    pub fn wrapped_key(&self) -> &[u8] {
        &self.key
    }

    /// The 12-byte GCM IV (not protected by RSA).
    #[must_use]
    pub fn iv(&self) -> &[u8; IV_LEN] {
        &self.iv
    }

    /// The 16-byte GCM tag (not protected by RSA).
    #[must_use]
    pub fn tag(&self) -> &[u8; TAG_LEN] {
        &self.tag
    }

    /// The version: which key pair version can unwrap it.
    #[must_use]
    pub fn version(&self) -> EncryptedFileKeyVersion {
        self.version
    }

    /// Parses the API's `FileKey` JSON. Unknown versions are [`Error::UnsupportedVersion`];
    /// wrong base64 or lengths are [`Error::InvalidFileKey`].
    pub fn from_json(json: &str) -> Result<Self> {
        let raw: RawFileKey = parse_json(json)?;
        raw.into_encrypted()
    }

    /// The API's `FileKey` JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Debug for EncryptedFileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedFileKey")
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("iv", &STANDARD.encode(self.iv))
            .field("tag", &STANDARD.encode(self.tag))
            .field("version", &self.version)
            .finish()
    }
}

impl Serialize for EncryptedFileKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawFileKeyRef {
            key: &STANDARD.encode(&self.key),
            iv: &STANDARD.encode(self.iv),
            tag: Some(&STANDARD.encode(self.tag)),
            version: self.version.as_str(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EncryptedFileKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawFileKey::deserialize(deserializer)?
            .into_encrypted()
            .map_err(serde::de::Error::custom)
    }
}

/// The wire shape, with every field as received.
#[derive(Deserialize)]
struct RawFileKey {
    key: String,
    iv: String,
    #[serde(default)]
    tag: Option<String>,
    version: String,
}

#[derive(Serialize)]
struct RawFileKeyRef<'a> {
    key: &'a str,
    iv: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
    version: &'a str,
}

impl Drop for RawFileKey {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.key.zeroize();
    }
}

impl RawFileKey {
    fn iv_and_tag(&self) -> Result<([u8; IV_LEN], [u8; TAG_LEN])> {
        let iv = decode_fixed::<IV_LEN>(&self.iv, FileKeyField::Iv)?;
        let tag = self
            .tag
            .as_deref()
            .ok_or(Error::InvalidFileKey(FileKeyProblem::Missing(
                FileKeyField::Tag,
            )))?;
        let tag = decode_fixed::<TAG_LEN>(tag, FileKeyField::Tag)?;
        Ok((iv, tag))
    }

    fn into_plain(self) -> Result<PlainFileKey> {
        let version: PlainFileKeyVersion = self.version.parse()?;
        let key = decode_fixed::<KEY_LEN>(&self.key, FileKeyField::Key)?;
        let key = SecretArray(key);
        let (iv, tag) = self.iv_and_tag()?;
        Ok(PlainFileKey {
            key,
            iv,
            tag,
            version,
        })
    }

    fn into_encrypted(self) -> Result<EncryptedFileKey> {
        let version: EncryptedFileKeyVersion = self.version.parse()?;
        let key = decode_b64(&self.key, FileKeyField::Key)?;
        let expected = wrapped_len(version);
        if key.len() != expected {
            return Err(Error::InvalidFileKey(FileKeyProblem::Length {
                field: FileKeyField::Key,
                expected,
                found: key.len(),
            }));
        }
        let (iv, tag) = self.iv_and_tag()?;
        Ok(EncryptedFileKey {
            key,
            iv,
            tag,
            version,
        })
    }
}

/// Length of the RSA-OAEP ciphertext for a version: the modulus length.
pub(crate) fn wrapped_len(version: EncryptedFileKeyVersion) -> usize {
    version.key_pair_version().modulus_bits() as usize / 8
}

fn parse_json(json: &str) -> Result<RawFileKey> {
    if json.len() > MAX_FILE_KEY_JSON {
        return Err(Error::LimitExceeded(Limit::InputSize {
            max: MAX_FILE_KEY_JSON,
        }));
    }
    serde_json::from_str(json).map_err(|_| Error::InvalidFileKey(FileKeyProblem::Json))
}

/// Decodes standard base64 with padding after trimming surrounding ASCII whitespace
/// (FORMAT.md §0.3).
fn decode_b64(s: &str, field: FileKeyField) -> Result<Vec<u8>> {
    STANDARD
        .decode(s.trim_ascii())
        .map_err(|_| Error::InvalidFileKey(FileKeyProblem::Base64(field)))
}

fn decode_fixed<const N: usize>(s: &str, field: FileKeyField) -> Result<[u8; N]> {
    let bytes = Zeroizing::new(decode_b64(s, field)?);
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
        Error::InvalidFileKey(FileKeyProblem::Length {
            field,
            expected: N,
            found: bytes.len(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = r#"{"key":"RZIcE5VWziSw4EPsfa40xKGM95LAdC/WMMY84g4aOHo=","iv":"8O+rDR/+InRDmWxB","tag":"SsQh5Pws/rmrVC2b+25v9A==","version":"A"}"#;

    #[test]
    fn plain_round_trip_and_redaction() {
        let k = PlainFileKey::from_json(PLAIN).unwrap();
        assert_eq!(PlainFileKey::from_json(&k.to_json()).unwrap(), k);
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("RZIc"), "{dbg}");
        assert!(dbg.contains("8O+rDR/+InRDmWxB"));
    }

    #[test]
    fn plain_accepts_the_js_version_string() {
        let js = PLAIN.replace("\"A\"", "\"AES-256-GCM\"");
        assert!(PlainFileKey::from_json(&js).is_ok());
        let bad = PLAIN.replace("\"A\"", "\"ZES-256-GCM\"");
        assert_eq!(
            PlainFileKey::from_json(&bad).err().map(|e| e.class()),
            Some("unknown_version")
        );
    }

    #[test]
    fn lengths_are_exact() {
        let short_tag = PLAIN.replace("SsQh5Pws/rmrVC2b+25v9A==", "SsQh5Pws/rmrVC2b+25v");
        assert!(matches!(
            PlainFileKey::from_json(&short_tag),
            Err(Error::InvalidFileKey(FileKeyProblem::Length {
                field: FileKeyField::Tag,
                expected: 16,
                found: 15
            }))
        ));
        let one_byte_tag = PLAIN.replace("SsQh5Pws/rmrVC2b+25v9A==", "AA==");
        assert!(PlainFileKey::from_json(&one_byte_tag).is_err());
        let long_iv = PLAIN.replace("8O+rDR/+InRDmWxB", "8O+rDR/+InRDmWxBAAAA");
        assert!(PlainFileKey::from_json(&long_iv).is_err());
        let no_tag = r#"{"key":"RZIcE5VWziSw4EPsfa40xKGM95LAdC/WMMY84g4aOHo=","iv":"8O+rDR/+InRDmWxB","version":"A"}"#;
        assert!(matches!(
            PlainFileKey::from_json(no_tag),
            Err(Error::InvalidFileKey(FileKeyProblem::Missing(
                FileKeyField::Tag
            )))
        ));
        let bad_b64 = PLAIN.replace("RZIc", "RZ!c");
        assert!(matches!(
            PlainFileKey::from_json(&bad_b64),
            Err(Error::InvalidFileKey(FileKeyProblem::Base64(
                FileKeyField::Key
            )))
        ));
    }

    #[test]
    fn encrypted_key_length_follows_the_version() {
        let wrapped = STANDARD.encode([7u8; 256]);
        let json = format!(
            r#"{{"key":"{wrapped}","iv":"8O+rDR/+InRDmWxB","tag":"SsQh5Pws/rmrVC2b+25v9A==","version":"A","extra":1}}"#
        );
        let k = EncryptedFileKey::from_json(&json).ok();
        assert_eq!(k.as_ref().map(|k| k.wrapped_key().len()), Some(256));
        let as_4096 = json.replace("\"A\"", "\"RSA-4096/AES-256-GCM\"");
        assert!(matches!(
            EncryptedFileKey::from_json(&as_4096),
            Err(Error::InvalidFileKey(FileKeyProblem::Length {
                expected: 512,
                ..
            }))
        ));
        let via_serde: Result<EncryptedFileKey, _> = serde_json::from_str(&json);
        assert_eq!(via_serde.ok(), k);
    }

    #[test]
    fn oversized_json_is_refused_first() {
        let huge = " ".repeat(MAX_FILE_KEY_JSON + 1);
        assert!(matches!(
            EncryptedFileKey::from_json(&huge),
            Err(Error::LimitExceeded(_))
        ));
    }
}
