//! Key-pair and file-key versions and the mapping between them (FORMAT.md §1).
//!
//! | Key pair   | Plain file key        | Encrypted file key       |
//! |------------|-----------------------|--------------------------|
//! | `A`        | `A` (= `AES-256-GCM`) | `A`                      |
//! | `RSA-4096` | `A` (= `AES-256-GCM`) | `RSA-4096/AES-256-GCM`   |
//!
//! Version strings are case-sensitive. Unknown strings are [`Error::UnsupportedVersion`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, VersionKind};

/// Version of a user, room-rescue or system-rescue key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UserKeyPairVersion {
    /// `A`: RSA-2048 (legacy; still readable and writable for recipients that only have it).
    Rsa2048,
    /// `RSA-4096`: RSA-4096, the version for new key pairs.
    Rsa4096,
}

impl UserKeyPairVersion {
    /// The version string as the API spells it (`A` or `RSA-4096`).
    ///
    /// ```
    /// use dracoon_crypto::UserKeyPairVersion;
    /// assert_eq!(UserKeyPairVersion::Rsa2048.as_str(), "A");
    /// assert_eq!("RSA-4096".parse::<UserKeyPairVersion>().unwrap(), UserKeyPairVersion::Rsa4096);
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            UserKeyPairVersion::Rsa2048 => "A",
            UserKeyPairVersion::Rsa4096 => "RSA-4096",
        }
    }

    /// RSA modulus size in bits that this version demands.
    #[must_use]
    pub const fn modulus_bits(self) -> u32 {
        match self {
            UserKeyPairVersion::Rsa2048 => 2048,
            UserKeyPairVersion::Rsa4096 => 4096,
        }
    }

    /// Version of the file keys wrapped for a key pair of this version.
    #[must_use]
    pub const fn encrypted_file_key_version(self) -> EncryptedFileKeyVersion {
        match self {
            UserKeyPairVersion::Rsa2048 => EncryptedFileKeyVersion::Rsa2048,
            UserKeyPairVersion::Rsa4096 => EncryptedFileKeyVersion::Rsa4096Aes256Gcm,
        }
    }
}

/// Version of an encrypted (RSA-wrapped) file key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EncryptedFileKeyVersion {
    /// `A`: wrapped with RSA-2048, OAEP with SHA-256 and MGF1-SHA-1.
    Rsa2048,
    /// `RSA-4096/AES-256-GCM`: wrapped with RSA-4096, OAEP with SHA-256 and MGF1-SHA-256.
    Rsa4096Aes256Gcm,
}

impl EncryptedFileKeyVersion {
    /// The version string as the API spells it (`A` or `RSA-4096/AES-256-GCM`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            EncryptedFileKeyVersion::Rsa2048 => "A",
            EncryptedFileKeyVersion::Rsa4096Aes256Gcm => "RSA-4096/AES-256-GCM",
        }
    }

    /// The key pair version that can unwrap a file key of this version.
    ///
    /// ```
    /// use dracoon_crypto::{EncryptedFileKeyVersion, UserKeyPairVersion};
    /// let v: EncryptedFileKeyVersion = "RSA-4096/AES-256-GCM".parse().unwrap();
    /// assert_eq!(v.key_pair_version(), UserKeyPairVersion::Rsa4096);
    /// ```
    #[must_use]
    pub const fn key_pair_version(self) -> UserKeyPairVersion {
        match self {
            EncryptedFileKeyVersion::Rsa2048 => UserKeyPairVersion::Rsa2048,
            EncryptedFileKeyVersion::Rsa4096Aes256Gcm => UserKeyPairVersion::Rsa4096,
        }
    }

    /// The version of the plain file key inside.
    #[must_use]
    pub const fn plain_file_key_version(self) -> PlainFileKeyVersion {
        PlainFileKeyVersion::Aes256Gcm
    }
}

/// Version of a plain (unwrapped) file key: AES-256-GCM is the only one.
///
/// Parsed from `A` (Java, C#, Swift SDKs) or `AES-256-GCM` (JavaScript SDK, dco3-crypto);
/// written as `A`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum PlainFileKeyVersion {
    /// AES-256-GCM with a 96-bit IV and a 128-bit tag.
    #[default]
    Aes256Gcm,
}

impl PlainFileKeyVersion {
    /// The version string this crate writes: `A`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        "A"
    }
}

impl FromStr for UserKeyPairVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "A" => Ok(UserKeyPairVersion::Rsa2048),
            "RSA-4096" => Ok(UserKeyPairVersion::Rsa4096),
            other => Err(Error::unsupported_version(VersionKind::KeyPair, other)),
        }
    }
}

impl FromStr for EncryptedFileKeyVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "A" => Ok(EncryptedFileKeyVersion::Rsa2048),
            "RSA-4096/AES-256-GCM" => Ok(EncryptedFileKeyVersion::Rsa4096Aes256Gcm),
            other => Err(Error::unsupported_version(
                VersionKind::EncryptedFileKey,
                other,
            )),
        }
    }
}

impl FromStr for PlainFileKeyVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "A" | "AES-256-GCM" => Ok(PlainFileKeyVersion::Aes256Gcm),
            other => Err(Error::unsupported_version(VersionKind::PlainFileKey, other)),
        }
    }
}

macro_rules! string_version {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

string_version!(
    UserKeyPairVersion,
    EncryptedFileKeyVersion,
    PlainFileKeyVersion
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip() {
        for v in [UserKeyPairVersion::Rsa2048, UserKeyPairVersion::Rsa4096] {
            assert_eq!(v.as_str().parse::<UserKeyPairVersion>().ok(), Some(v));
            assert_eq!(
                v.encrypted_file_key_version().key_pair_version(),
                v,
                "mapping is a bijection"
            );
        }
        for v in [
            EncryptedFileKeyVersion::Rsa2048,
            EncryptedFileKeyVersion::Rsa4096Aes256Gcm,
        ] {
            assert_eq!(v.as_str().parse::<EncryptedFileKeyVersion>().ok(), Some(v));
        }
        assert_eq!(
            "AES-256-GCM".parse::<PlainFileKeyVersion>().ok(),
            Some(PlainFileKeyVersion::Aes256Gcm)
        );
        assert_eq!(PlainFileKeyVersion::Aes256Gcm.to_string(), "A");
    }

    #[test]
    fn unknown_and_case_variants_are_rejected() {
        for s in ["", "a", "rsa-4096", "RSA-2048", "X", "Z", " A", "A "] {
            assert!(matches!(
                s.parse::<UserKeyPairVersion>(),
                Err(Error::UnsupportedVersion {
                    kind: VersionKind::KeyPair,
                    ..
                })
            ));
        }
        assert!("ZES-256-GCM".parse::<PlainFileKeyVersion>().is_err());
        assert!("RSA-4096".parse::<EncryptedFileKeyVersion>().is_err());
    }

    #[test]
    fn serde_uses_the_api_strings() {
        let json = serde_json::to_string(&EncryptedFileKeyVersion::Rsa4096Aes256Gcm).ok();
        assert_eq!(json.as_deref(), Some("\"RSA-4096/AES-256-GCM\""));
        let v: Result<UserKeyPairVersion, _> = serde_json::from_str("\"A\"");
        assert_eq!(v.ok(), Some(UserKeyPairVersion::Rsa2048));
        assert!(serde_json::from_str::<UserKeyPairVersion>("\"B\"").is_err());
    }
}
