//! API models (serde) of the DRACOON API subset the workflows use, with the exact JSON field
//! names of `api/dracoon-crypto-api.yaml`. Unknown fields are ignored; ids are `i64`.
//!
//! Entries of server lists that this crate cannot use (an unknown key version, a malformed key)
//! are kept as [`Lenient::Invalid`] instead of failing the whole answer, so a workflow can skip
//! and report them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::file_key::EncryptedFileKey;
use crate::keys::{PrivateKeyContainer, PublicKeyContainer, UserKeyPairContainer};

/// A list entry that either parsed, or did not (with the reason, which names no secret).
#[derive(Debug, Clone, PartialEq)]
pub enum Lenient<T> {
    /// The entry as the API defines it.
    Valid(T),
    /// The entry could not be read (e.g. an unknown version string).
    Invalid {
        /// The entry's `id`, when it had a readable one.
        id: Option<i64>,
        /// Why it could not be read.
        reason: String,
    },
}

impl<T> Lenient<T> {
    /// The entry, if it parsed.
    pub fn valid(&self) -> Option<&T> {
        match self {
            Lenient::Valid(t) => Some(t),
            Lenient::Invalid { .. } => None,
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let id = value.get("id").and_then(serde_json::Value::as_i64);
        Ok(match serde_json::from_value::<T>(value) {
            Ok(t) => Lenient::Valid(t),
            Err(e) => Lenient::Invalid {
                id,
                reason: crate::transport::util::shorten(&e.to_string(), 160),
            },
        })
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lenient::Valid(t) => t.serialize(s),
            Lenient::Invalid { .. } => s.serialize_none(),
        }
    }
}

/// `null` or absent lists read as empty.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// `ErrorResponse`: the body of every error answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    /// HTTP status code.
    #[serde(default)]
    pub code: Option<i32>,
    /// Status description.
    #[serde(default)]
    pub message: Option<String>,
    /// Debug information.
    #[serde(default)]
    pub debug_info: Option<String>,
    /// DRACOON error code (negative).
    #[serde(default)]
    pub error_code: Option<i32>,
}

/// `Range`: paging information.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// Offset of the first entry.
    #[serde(default)]
    pub offset: i64,
    /// Entries requested.
    #[serde(default)]
    pub limit: i64,
    /// All matching entries.
    #[serde(default)]
    pub total: i64,
}

/// `UserIdFileIdItem`: one missing (file, user) pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdFileIdItem {
    /// User id.
    #[serde(default)]
    pub user_id: Option<i64>,
    /// File id.
    #[serde(default)]
    pub file_id: Option<i64>,
}

/// `UserUserPublicKey`: a user's public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUserPublicKey {
    /// User id.
    pub id: i64,
    /// The public key.
    pub public_key_container: PublicKeyContainer,
}

/// `FileFileKeys`: a file's key, encrypted for the caller (or the key `use_key` selects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileFileKeys {
    /// File id.
    pub id: i64,
    /// The encrypted file key (its `tag` is required here, although the schema marks it
    /// optional: a file key without tag cannot decrypt anything).
    pub file_key_container: EncryptedFileKey,
}

/// `MissingKeysResponse` of `GET /nodes/missingFileKeys`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MissingKeysResponse {
    /// Paging.
    #[serde(default)]
    pub range: Option<Range>,
    /// The missing (file, user) pairs.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub items: Vec<UserIdFileIdItem>,
    /// The target users' public keys (one entry per key; a user may have several).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub users: Vec<Lenient<UserUserPublicKey>>,
    /// The file keys encrypted for the caller.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub files: Vec<Lenient<FileFileKeys>>,
}

/// `UserFileKeySetRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserFileKeySetRequest {
    /// File id.
    pub file_id: i64,
    /// Target user id.
    pub user_id: i64,
    /// The file key wrapped for the target user.
    pub file_key: EncryptedFileKey,
}

/// `UserFileKeySetBatchRequest` of `POST /nodes/files/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFileKeySetBatchRequest {
    /// The keys.
    pub items: Vec<UserFileKeySetRequest>,
}

/// `UserFileKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserFileKey {
    /// User id.
    pub user_id: i64,
    /// The file key wrapped for that user.
    pub file_key: EncryptedFileKey,
}

/// `UserFileKeyList` (deprecated in the API, but the body of upload-share completion).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFileKeyList {
    /// The keys.
    #[serde(default)]
    pub items: Vec<UserFileKey>,
}

/// Conflict resolution at upload completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolutionStrategy {
    /// Rename the new file (server default).
    #[default]
    Autorename,
    /// Replace the existing file.
    Overwrite,
    /// Fail with `409` / `-40010` or `-41001`.
    Fail,
}

impl std::str::FromStr for ResolutionStrategy {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "autorename" => Ok(ResolutionStrategy::Autorename),
            "overwrite" => Ok(ResolutionStrategy::Overwrite),
            "fail" => Ok(ResolutionStrategy::Fail),
            _ => Err(crate::Error::InvalidArgument(
                "resolution strategy must be autorename, overwrite or fail",
            )),
        }
    }
}

/// `ObjectExpiration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectExpiration {
    /// Enabled.
    pub enable_expiration: bool,
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<String>,
}

/// `CreateFileUploadRequest` of `POST /nodes/files/uploads`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFileUploadRequest {
    /// Parent room or folder.
    pub parent_id: i64,
    /// File name.
    pub name: String,
    /// Size in bytes (plaintext = ciphertext size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Classification 1..=4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<i32>,
    /// Expiration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<ObjectExpiration>,
    /// Notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Creation time on the source file system (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_creation: Option<String>,
    /// Modification time on the source file system (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_modification: Option<String>,
    /// Upload directly to S3 through presigned URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_s3_upload: Option<bool>,
}

/// `CreateFileUploadResponse`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFileUploadResponse {
    /// Upload channel id.
    pub upload_id: String,
    /// The public upload URL (carries the token: a secret).
    pub upload_url: String,
    /// The upload token (deprecated; a secret).
    #[serde(default)]
    pub token: Option<String>,
}

impl fmt::Debug for CreateFileUploadResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateFileUploadResponse")
            .field("upload_id", &self.upload_id)
            .finish_non_exhaustive()
    }
}

/// `ChunkUploadResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkUploadResponse {
    /// Chunk size.
    #[serde(default)]
    pub size: Option<i64>,
    /// Hash of the chunk.
    #[serde(default)]
    pub hash: Option<String>,
}

/// `CompleteUploadRequest` of `PUT /uploads/{token}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteUploadRequest {
    /// The file key wrapped for the uploader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_key: Option<EncryptedFileKey>,
    /// New file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Keep download share links (only with `overwrite`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_share_links: Option<bool>,
    /// Conflict resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_strategy: Option<ResolutionStrategy>,
    /// The file key wrapped for further users (deprecated in the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_file_key_list: Option<UserFileKeyList>,
}

/// `GeneratePresignedUrlsRequest`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratePresignedUrlsRequest {
    /// `Content-Length` of each part.
    pub size: i64,
    /// First part number (1-based).
    pub first_part_number: i32,
    /// Last part number.
    pub last_part_number: i32,
}

/// `PresignedUrl`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignedUrl {
    /// The presigned URL (a secret).
    pub url: String,
    /// Its part number.
    pub part_number: i32,
}

impl fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignedUrl")
            .field("url", &"<redacted>")
            .field("part_number", &self.part_number)
            .finish()
    }
}

/// `PresignedUrlList`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignedUrlList {
    /// The URLs.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub urls: Vec<PresignedUrl>,
}

/// `S3FileUploadPart`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3FileUploadPart {
    /// The part's ETag (without quotes).
    pub part_etag: String,
    /// Part number (1-based).
    pub part_number: i32,
}

/// `CompleteS3FileUploadRequest` of `PUT /nodes/files/uploads/{upload_id}/s3`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteS3FileUploadRequest {
    /// The parts.
    pub parts: Vec<S3FileUploadPart>,
    /// Conflict resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_strategy: Option<ResolutionStrategy>,
    /// The file key wrapped for the uploader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_key: Option<EncryptedFileKey>,
    /// New file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Keep download share links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_share_links: Option<bool>,
}

/// `CompleteS3ShareUploadRequest` (note: `userFileKeyList` is a bare array here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteS3ShareUploadRequest {
    /// The parts.
    pub parts: Vec<S3FileUploadPart>,
    /// The file key for every user of the share's `userUserPublicKeyList`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_file_key_list: Vec<UserFileKey>,
}

/// `S3FileUploadStatus` (and `S3ShareUploadStatus`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3FileUploadStatus {
    /// `transfer`, `finishing`, `done` or `error`.
    pub status: String,
    /// The node, once done (authenticated uploads).
    #[serde(default)]
    pub node: Option<Node>,
    /// What went wrong, for `error`.
    #[serde(default)]
    pub error_details: Option<ErrorResponse>,
    /// File name (share uploads).
    #[serde(default)]
    pub file_name: Option<String>,
    /// Size (share uploads).
    #[serde(default)]
    pub size: Option<i64>,
}

/// `Node` (the fields this crate reads; every other field is kept in `other`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// Node id.
    pub id: i64,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// `room`, `folder` or `file`.
    #[serde(rename = "type", default)]
    pub node_type: String,
    /// Parent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<i64>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Whether the node is encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_encrypted: Option<bool>,
    /// All other fields as received.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// `DownloadTokenGenerateResponse` / `PublicDownloadTokenGenerateResponse`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadTokenGenerateResponse {
    /// The download URL (carries a token: a secret).
    #[serde(default)]
    pub download_url: Option<String>,
}

impl fmt::Debug for DownloadTokenGenerateResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DownloadTokenGenerateResponse { .. }")
    }
}

/// `PublicDownloadTokenGenerateRequest` (never carries an encryption password). Its `Debug`
/// output redacts the access password.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicDownloadTokenGenerateRequest {
    /// The share's access password (only for password-protected, unencrypted shares).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl fmt::Debug for PublicDownloadTokenGenerateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicDownloadTokenGenerateRequest")
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `CreateDownloadShareRequest` of `POST /shares/downloads`. Its `Debug` output redacts the
/// access password.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDownloadShareRequest {
    /// The shared node.
    pub node_id: i64,
    /// Alias name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The share's key pair (private key encrypted with the share password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair: Option<UserKeyPairContainer>,
    /// The file key wrapped for the share's public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_key: Option<EncryptedFileKey>,
    /// Access password: not allowed for encrypted shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Expiration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<ObjectExpiration>,
    /// Notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Maximum downloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<i32>,
}

impl fmt::Debug for CreateDownloadShareRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateDownloadShareRequest")
            .field("node_id", &self.node_id)
            .field("name", &self.name)
            .field("key_pair", &self.key_pair)
            .field("file_key", &self.file_key)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("expiration", &self.expiration)
            .field("notes", &self.notes)
            .field("max_downloads", &self.max_downloads)
            .finish()
    }
}

/// `DownloadShare` (selected fields; the rest in `other`).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadShare {
    /// Share id.
    pub id: i64,
    /// Access key of the share link (a secret of the link).
    pub access_key: String,
    /// Shared node.
    #[serde(default)]
    pub node_id: i64,
    /// Alias name.
    #[serde(default)]
    pub name: String,
    /// Whether the share is encrypted.
    #[serde(default)]
    pub is_encrypted: Option<bool>,
    /// All other fields.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for DownloadShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadShare")
            .field("id", &self.id)
            .field("node_id", &self.node_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `PublicDownloadShare` of `GET /public/shares/downloads/{access_key}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicDownloadShare {
    /// Whether the file is encrypted.
    #[serde(default)]
    pub is_encrypted: Option<bool>,
    /// The file key wrapped for the share's key pair.
    #[serde(default)]
    pub file_key: Option<EncryptedFileKey>,
    /// The share's private key, encrypted with the share password.
    #[serde(default)]
    pub private_key_container: Option<PrivateKeyContainer>,
    /// File size.
    #[serde(default)]
    pub size: Option<i64>,
    /// File name.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Share name.
    #[serde(default)]
    pub name: Option<String>,
    /// Protected by an access password.
    #[serde(default)]
    pub is_protected: Option<bool>,
    /// Download limit reached.
    #[serde(default)]
    pub limit_reached: Option<bool>,
}

/// `PublicUploadShare` of `GET /public/shares/uploads/{access_key}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicUploadShare {
    /// Whether the target is encrypted.
    #[serde(default)]
    pub is_encrypted: Option<bool>,
    /// Protected by an access password.
    #[serde(default)]
    pub is_protected: Option<bool>,
    /// Share name.
    #[serde(default)]
    pub name: Option<String>,
    /// The public keys to wrap the file key for.
    #[serde(default)]
    pub user_user_public_key_list: Option<UserUserPublicKeyList>,
}

/// `UserUserPublicKeyList`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserUserPublicKeyList {
    /// The keys.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub items: Vec<Lenient<UserUserPublicKey>>,
}

/// `CreateShareUploadChannelRequest`. Its `Debug` output redacts the password.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateShareUploadChannelRequest {
    /// File name.
    pub name: String,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// The share's access password (never an encryption secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Upload directly to S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_s3_upload: Option<bool>,
    /// Creation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_creation: Option<String>,
    /// Modification time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_modification: Option<String>,
}

impl fmt::Debug for CreateShareUploadChannelRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateShareUploadChannelRequest")
            .field("name", &self.name)
            .field("size", &self.size)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("direct_s3_upload", &self.direct_s3_upload)
            .field("timestamp_creation", &self.timestamp_creation)
            .field("timestamp_modification", &self.timestamp_modification)
            .finish()
    }
}

/// `CreateShareUploadChannelResponse`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateShareUploadChannelResponse {
    /// Upload channel id.
    pub upload_id: String,
    /// Upload URL (a secret).
    pub upload_url: String,
}

impl fmt::Debug for CreateShareUploadChannelResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateShareUploadChannelResponse")
            .field("upload_id", &self.upload_id)
            .finish_non_exhaustive()
    }
}

/// `PublicUploadedFileData`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicUploadedFileData {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Size.
    #[serde(default)]
    pub size: Option<i64>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Hash.
    #[serde(default)]
    pub hash: Option<String>,
}

/// `EncryptRoomRequest` of `PUT /nodes/rooms/{room_id}/encrypt`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptRoomRequest {
    /// Encryption on or off.
    pub is_encrypted: bool,
    /// Also use the system rescue key for this room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_data_space_rescue_key: Option<bool>,
    /// The room rescue key pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_room_rescue_key: Option<UserKeyPairContainer>,
}

/// `CreateKeyPairRequest` (key pair migration, keeping the old private key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyPairRequest {
    /// New private key.
    pub private_key_container: PrivateKeyContainer,
    /// New public key.
    pub public_key_container: PublicKeyContainer,
    /// The previous private key (encrypted with the current password).
    pub previous_private_key: PrivateKeyContainer,
}

/// `AlgorithmVersionInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlgorithmVersionInfo {
    /// Version string.
    #[serde(default)]
    pub version: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `REQUIRED` or `DISCOURAGED`.
    #[serde(default)]
    pub status: String,
}

/// `AlgorithmVersionInfoList` of `GET /config/info/policies/algorithms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlgorithmVersionInfoList {
    /// File key algorithms.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub file_key_algorithms: Vec<AlgorithmVersionInfo>,
    /// Key pair algorithms.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub key_pair_algorithms: Vec<AlgorithmVersionInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_tolerates_unknown_versions_and_nulls() {
        let json = r#"{"range":{"offset":0,"limit":100,"total":3},
            "items":[{"userId":2,"fileId":3},{"userId":null}],
            "users":[{"id":2,"publicKeyContainer":{"version":"X-9","publicKey":"p"}},
                     {"id":2,"publicKeyContainer":{"version":"A","publicKey":"p","createdBy":1}},
                     "garbage"],
            "files":null, "extra": {"x": 1}}"#;
        let r: MissingKeysResponse = serde_json::from_str(json).unwrap();
        assert_eq!(r.items.len(), 2);
        assert!(matches!(r.users[0], Lenient::Invalid { id: Some(2), .. }));
        assert!(r.users[1].valid().is_some());
        assert!(matches!(r.users[2], Lenient::Invalid { id: None, .. }));
        assert!(r.files.is_empty());
        assert_eq!(r.range.unwrap().total, 3);
    }

    #[test]
    fn request_field_names() {
        let req = CreateFileUploadRequest {
            parent_id: 5,
            name: "a".into(),
            direct_s3_upload: Some(true),
            timestamp_modification: Some("2024-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["parentId"], 5);
        assert_eq!(v["directS3Upload"], true);
        assert_eq!(v["timestampModification"], "2024-01-01T00:00:00Z");
        assert!(v.get("size").is_none());
        let c = CompleteUploadRequest {
            resolution_strategy: Some(ResolutionStrategy::Overwrite),
            user_file_key_list: Some(UserFileKeyList::default()),
            ..Default::default()
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["resolutionStrategy"], "overwrite");
        assert_eq!(v["userFileKeyList"]["items"], serde_json::json!([]));
        let n: Node =
            serde_json::from_str(r#"{"id":9007199254740993,"name":"f","type":"file","hash":"h"}"#)
                .unwrap();
        assert_eq!(n.id, 9_007_199_254_740_993);
        assert_eq!(n.other["hash"], "h");
    }
}
