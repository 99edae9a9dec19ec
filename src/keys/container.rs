//! The DRACOON API's key containers (FORMAT.md §2.2), with the API's exact JSON field names.
//! Unknown extra fields are ignored.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, KeyPairProblem, Limit, Result};
use crate::version::UserKeyPairVersion;

/// Largest key container JSON accepted.
pub(crate) const MAX_CONTAINER_JSON: usize = 128 * 1024;

/// A private key as the API stores it: PKCS#8 `EncryptedPrivateKeyInfo` PEM, encrypted with the
/// key pair's password. (The same shape with an unencrypted PEM is what some SDKs use for
/// decrypted keys in their tests; see [`crate::UserPrivateKey::from_plain_container`].)
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateKeyContainer {
    /// Key pair version (`A` or `RSA-4096`).
    pub version: UserKeyPairVersion,
    /// The private key PEM.
    pub private_key: String,
    /// Creation time (RFC 3339), set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Id of the creating user, set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<i64>,
    /// Expiry time (RFC 3339), set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<String>,
}

/// A public key as the API stores it: X.509 `SubjectPublicKeyInfo` PEM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyContainer {
    /// Key pair version (`A` or `RSA-4096`).
    pub version: UserKeyPairVersion,
    /// The public key PEM.
    pub public_key: String,
    /// Creation time (RFC 3339), set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Id of the creating user, set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<i64>,
    /// Expiry time (RFC 3339), set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<String>,
}

/// A key pair as the API stores it (user, room-rescue or system-rescue key pair).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserKeyPairContainer {
    /// The encrypted private key.
    pub private_key_container: PrivateKeyContainer,
    /// The public key.
    pub public_key_container: PublicKeyContainer,
}

impl fmt::Debug for PrivateKeyContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKeyContainer")
            .field("version", &self.version)
            .field(
                "private_key",
                &format_args!("<{} bytes of PEM>", self.private_key.len()),
            )
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("expire_at", &self.expire_at)
            .finish()
    }
}

impl PrivateKeyContainer {
    /// Parses the JSON form. An unknown `version` is [`Error::UnsupportedVersion`], anything
    /// else malformed is [`Error::InvalidKeyPair`].
    pub fn from_json(json: &str) -> Result<Self> {
        parse_container(json, &[&["version"]])
    }

    /// The JSON form.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl PublicKeyContainer {
    /// Parses the JSON form: a `PublicKeyContainer`, or a whole `UserKeyPairContainer`
    /// (then its `publicKeyContainer` is used).
    ///
    /// ```
    /// use dracoon_crypto::{Error, PublicKeyContainer};
    /// let err = PublicKeyContainer::from_json(r#"{"version":"X","publicKey":"..."}"#).unwrap_err();
    /// assert_eq!(err.class(), "unknown_version");
    /// ```
    pub fn from_json(json: &str) -> Result<Self> {
        let value = parse_value(json)?;
        if let Some(inner) = value.get("publicKeyContainer") {
            check_versions(inner, &[&["version"]])?;
            return from_value(inner.clone());
        }
        check_versions(&value, &[&["version"]])?;
        from_value(value)
    }

    /// The JSON form.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl UserKeyPairContainer {
    /// Parses the JSON form.
    pub fn from_json(json: &str) -> Result<Self> {
        parse_container(
            json,
            &[
                &["privateKeyContainer", "version"],
                &["publicKeyContainer", "version"],
            ],
        )
    }

    /// The JSON form.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The key pair version, if both halves agree on it.
    pub fn version(&self) -> Result<UserKeyPairVersion> {
        let private = self.private_key_container.version;
        let public = self.public_key_container.version;
        if private == public {
            Ok(private)
        } else {
            Err(Error::VersionMismatch(
                crate::error::VersionMismatch::KeyPair { private, public },
            ))
        }
    }
}

fn parse_value(json: &str) -> Result<serde_json::Value> {
    if json.len() > MAX_CONTAINER_JSON {
        return Err(Error::LimitExceeded(Limit::InputSize {
            max: MAX_CONTAINER_JSON,
        }));
    }
    serde_json::from_str(json).map_err(|_| Error::InvalidKeyPair(KeyPairProblem::Json))
}

/// Reports unknown version strings as [`Error::UnsupportedVersion`] before serde sees them.
fn check_versions(value: &serde_json::Value, paths: &[&[&str]]) -> Result<()> {
    for path in paths {
        let found = path.iter().try_fold(value, |v, key| v.get(key));
        if let Some(version) = found.and_then(serde_json::Value::as_str) {
            version.parse::<UserKeyPairVersion>()?;
        }
    }
    Ok(())
}

fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    serde_json::from_value(value).map_err(|_| Error::InvalidKeyPair(KeyPairProblem::Json))
}

fn parse_container<T: DeserializeOwned>(json: &str, version_paths: &[&[&str]]) -> Result<T> {
    let value = parse_value(json)?;
    check_versions(&value, version_paths)?;
    from_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_field_names_and_extras() {
        let json = r#"{"privateKeyContainer":{"version":"RSA-4096","privateKey":"p","createdAt":"2024-01-01T00:00:00Z","createdBy":7,"expireAt":null,"future":true},
                       "publicKeyContainer":{"version":"RSA-4096","publicKey":"q"},"other":[]}"#;
        let c = UserKeyPairContainer::from_json(json).unwrap();
        assert_eq!(c.private_key_container.created_by, Some(7));
        assert_eq!(c.version().unwrap(), UserKeyPairVersion::Rsa4096);
        let out = c.to_json();
        assert!(out.contains("\"privateKeyContainer\""));
        assert!(out.contains("\"publicKey\": \"q\""));
        assert!(!out.contains("expireAt"));
    }

    #[test]
    fn errors_have_the_right_class() {
        let bad_version = r#"{"version":"Z","privateKey":"p"}"#;
        assert_eq!(
            PrivateKeyContainer::from_json(bad_version)
                .unwrap_err()
                .class(),
            "unknown_version"
        );
        assert_eq!(
            PrivateKeyContainer::from_json("{").unwrap_err().class(),
            "invalid_key_pair"
        );
        assert_eq!(
            PrivateKeyContainer::from_json(r#"{"version":"A"}"#)
                .unwrap_err()
                .class(),
            "invalid_key_pair"
        );
        let mixed = r#"{"privateKeyContainer":{"version":"A","privateKey":"p"},
                        "publicKeyContainer":{"version":"RSA-4096","publicKey":"q"}}"#;
        let c = UserKeyPairContainer::from_json(mixed).unwrap();
        assert_eq!(c.version().unwrap_err().class(), "version_mismatch");
    }

    #[test]
    fn public_key_from_key_pair_file() {
        let kp = r#"{"privateKeyContainer":{"version":"A","privateKey":"p"},
                     "publicKeyContainer":{"version":"A","publicKey":"q"}}"#;
        assert_eq!(PublicKeyContainer::from_json(kp).unwrap().public_key, "q");
    }

    #[test]
    fn debug_hides_the_private_pem() {
        let c =
            PrivateKeyContainer::from_json(r#"{"version":"A","privateKey":"SECRETPEM"}"#).unwrap();
        assert!(!format!("{c:?}").contains("SECRETPEM"));
    }
}
