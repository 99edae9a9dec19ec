//! Shares of encrypted files (FORMAT.md §6.4): creating a download share, opening one from
//! the public side, and uploading into an encrypted upload share.

use std::io::Read;
use std::path::Path;

use http::Method;

use super::Transport;
use super::client::{ACK_LIMIT, Call, CancelFlag, Client, Event, invalid};
use super::distribute::{KeyRing, SkipReason, Skipped, par_map};
use super::download::{DownloadOptions, UrlSource};
use super::models::{
    CompleteS3ShareUploadRequest, CreateDownloadShareRequest, CreateShareUploadChannelRequest,
    CreateShareUploadChannelResponse, DownloadShare, Lenient, ObjectExpiration,
    PublicDownloadShare, PublicUploadShare, PublicUploadedFileData, UserFileKey, UserFileKeyList,
};
use super::upload::{Channel, FromReader, FromSlice, Plaintext, Progress, Stream, stream_builders};
use super::util::seg;
use crate::error::{Error, Result};
use crate::file_key::PlainFileKey;
use crate::keys::{UserKeyPair, UserPrivateKey, UserPublicKey};
use crate::secret::Password;
use crate::version::UserKeyPairVersion;

/// How to create a download share of an encrypted file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DownloadShareOptions {
    /// Alias name.
    pub name: Option<String>,
    /// Version of the share's fresh key pair (default `RSA-4096`).
    pub key_pair_version: UserKeyPairVersion,
    /// Notes.
    pub notes: Option<String>,
    /// Expiration.
    pub expiration: Option<ObjectExpiration>,
    /// Maximum number of downloads.
    pub max_downloads: Option<i32>,
}

impl Default for DownloadShareOptions {
    fn default() -> Self {
        DownloadShareOptions {
            name: None,
            key_pair_version: UserKeyPairVersion::Rsa4096,
            notes: None,
            expiration: None,
            max_downloads: None,
        }
    }
}

impl DownloadShareOptions {
    /// With an alias name.
    #[must_use]
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// With another key pair version for the share.
    #[must_use]
    pub fn key_pair_version(mut self, v: UserKeyPairVersion) -> Self {
        self.key_pair_version = v;
        self
    }
}

/// An encrypted download share, opened with its password.
#[derive(Debug)]
#[non_exhaustive]
pub struct OpenedDownloadShare {
    /// What the server says about the share.
    pub info: PublicDownloadShare,
    /// The file's plain key.
    pub key: PlainFileKey,
}

/// How to upload into an upload share. Its `Debug` output redacts the access password.
///
/// ```
/// use dracoon_crypto::transport::{CancelFlag, UploadShareOptions};
///
/// let mut options = UploadShareOptions::new("report.pdf")
///     .size(1234)
///     .chunk_size(1 << 20)
///     .cancel(CancelFlag::new());
/// options.access_password = Some("open sesame".into());
/// assert_eq!((options.size, options.chunk_size), (Some(1234), 1 << 20));
/// assert!(!format!("{options:?}").contains("sesame"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct UploadShareOptions {
    /// File name.
    pub name: String,
    /// Plaintext size, when known.
    pub size: Option<u64>,
    /// Plaintext bytes per chunk (default 8 MiB; for S3 at least 5 MiB).
    pub chunk_size: usize,
    /// The share's access password, when it is protected (never an encryption secret).
    pub access_password: Option<String>,
    /// Upload directly to S3.
    pub s3: bool,
    /// Creation time (RFC 3339).
    pub timestamp_creation: Option<String>,
    /// Modification time (RFC 3339).
    pub timestamp_modification: Option<String>,
    /// Cancels the upload.
    pub cancel: Option<CancelFlag>,
}

impl std::fmt::Debug for UploadShareOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadShareOptions")
            .field("name", &self.name)
            .field("size", &self.size)
            .field("chunk_size", &self.chunk_size)
            .field(
                "access_password",
                &self.access_password.as_ref().map(|_| "<redacted>"),
            )
            .field("s3", &self.s3)
            .field("timestamp_creation", &self.timestamp_creation)
            .field("timestamp_modification", &self.timestamp_modification)
            .field("cancel", &self.cancel)
            .finish()
    }
}

impl UploadShareOptions {
    /// Upload as `name`.
    #[must_use]
    pub fn new(name: &str) -> Self {
        UploadShareOptions {
            name: name.to_owned(),
            size: None,
            chunk_size: 8 * 1024 * 1024,
            access_password: None,
            s3: false,
            timestamp_creation: None,
            timestamp_modification: None,
            cancel: None,
        }
    }

    stream_builders!();
}

impl<T: Transport> Client<T> {
    /// Creates a download share of the encrypted file `node_id`: unwraps the file key with
    /// `keys`, generates a fresh key pair for the share whose private key is encrypted with
    /// `share_password` (which never leaves the client), wraps the file key for the share's
    /// public key, and `POST /shares/downloads` with `keyPair` and `fileKey` (and no access
    /// password, which the API refuses for encrypted shares).
    pub async fn create_encrypted_download_share(
        &self,
        node_id: i64,
        keys: &KeyRing,
        share_password: &Password,
        options: &DownloadShareOptions,
    ) -> Result<DownloadShare> {
        let plain = self.plain_file_key(node_id, keys).await?;
        // RSA key generation and PBKDF2 off the executor.
        let (version, password) = (options.key_pair_version, share_password.clone());
        let (pair, key_pair) = self
            .offload(move || {
                let pair = UserKeyPair::generate(version)?;
                let container = pair.to_container(&password)?;
                Ok::<_, Error>((pair, container))
            })
            .await??;
        let file_key = pair.public_key().wrap_file_key(&plain)?;
        let body = CreateDownloadShareRequest {
            node_id,
            name: options.name.clone(),
            key_pair: Some(key_pair),
            file_key: Some(file_key),
            notes: options.notes.clone(),
            expiration: options.expiration.clone(),
            max_downloads: options.max_downloads,
            password: None,
        };
        let call = Call::api(
            Method::POST,
            "/shares/downloads".into(),
            "create download share",
        )
        .idempotent(false)
        .json(&body)?;
        self.call_json(&call).await
    }

    /// Opens an encrypted download share from the public side: `GET
    /// /public/shares/downloads/{access_key}`, unlocks the share's private key with
    /// `share_password`, unwraps the file key.
    pub async fn open_download_share(
        &self,
        access_key: &str,
        share_password: &Password,
    ) -> Result<OpenedDownloadShare> {
        let call = Call::api(
            Method::GET,
            format!("/public/shares/downloads/{}", seg(access_key)?),
            "get download share",
        )
        .public();
        let info: PublicDownloadShare = self.call_json(&call).await?;
        if info.is_encrypted != Some(true) {
            return Err(Error::InvalidArgument("the share is not encrypted"));
        }
        let (Some(container), Some(efk)) = (&info.private_key_container, &info.file_key) else {
            return Err(invalid(
                "get download share",
                "encrypted share without key pair or file key",
            ));
        };
        // PBKDF2 and RSA off the executor, with the server cap on the iteration count.
        let (container, efk, password) = (container.clone(), efk.clone(), share_password.clone());
        let key = self
            .offload(move || {
                UserPrivateKey::unlock_from_server(&container, &password)?.unwrap_file_key(&efk)
            })
            .await??;
        Ok(OpenedDownloadShare { info, key })
    }

    /// Downloads an encrypted download share into `path` (atomically, after the tag verified).
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "dracoon.download_share", level = "info", skip_all)
    )]
    pub async fn download_share_to_path(
        &self,
        access_key: &str,
        share_password: &Password,
        path: &Path,
        options: &DownloadOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<u64> {
        let opened = self.open_download_share(access_key, share_password).await?;
        self.fetch_to_path(
            UrlSource::Share(access_key),
            &opened.key,
            path,
            options,
            progress,
        )
        .await
    }

    /// Downloads an encrypted download share into memory, returned only after the tag
    /// verified; buffers are handled as in [`Client::download_to_vec`] (intermediate ones
    /// wiped, the returned vector the caller's).
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "dracoon.download_share", level = "info", skip_all)
    )]
    pub async fn download_share_to_vec(
        &self,
        access_key: &str,
        share_password: &Password,
        options: &DownloadOptions,
    ) -> Result<Vec<u8>> {
        let opened = self.open_download_share(access_key, share_password).await?;
        self.fetch_to_vec(UrlSource::Share(access_key), &opened.key, options)
            .await
    }

    /// Uploads `source` encrypted into an upload share of an encrypted room: the file key is
    /// wrapped for **every** public key of the share's `userUserPublicKeyList` (entries that
    /// cannot be read are skipped and reported as [`Event::Skipped`]).
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "dracoon.upload_to_share", level = "info", skip_all)
    )]
    pub async fn upload_to_share<R: Read>(
        &self,
        access_key: &str,
        source: R,
        options: &UploadShareOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<PublicUploadedFileData> {
        let stream = options.stream();
        self.upload_to_share_from(
            access_key,
            &mut FromReader(source),
            stream,
            options,
            progress,
        )
        .await
    }

    /// [`upload_to_share`](Self::upload_to_share) of plaintext already in memory, encrypted
    /// straight from `data` chunk by chunk (see [`Client::upload_slice`]). The size is
    /// `data.len()`; [`UploadShareOptions::size`], if set, must be the same.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "dracoon.upload_to_share", level = "info", skip_all)
    )]
    pub async fn upload_slice_to_share(
        &self,
        access_key: &str,
        data: &[u8],
        options: &UploadShareOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<PublicUploadedFileData> {
        let stream = options.stream().of_slice(data)?;
        self.upload_to_share_from(access_key, &mut FromSlice(data), stream, options, progress)
            .await
    }

    async fn upload_to_share_from(
        &self,
        access_key: &str,
        source: &mut impl Plaintext,
        stream: Stream<'_>,
        options: &UploadShareOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<PublicUploadedFileData> {
        let ak = seg(access_key)?;
        let info_call = Call::api(
            Method::GET,
            format!("/public/shares/uploads/{ak}"),
            "get upload share",
        )
        .public();
        let info: PublicUploadShare = self.call_json(&info_call).await?;
        if info.is_encrypted != Some(true) {
            return Err(Error::InvalidArgument(
                "the upload share's target is not encrypted",
            ));
        }
        let mut recipients: Vec<(i64, UserPublicKey)> = Vec::new();
        let items = info.user_user_public_key_list.map(|l| l.items);
        for entry in items.unwrap_or_default() {
            let parsed = match entry {
                Lenient::Valid(u) => UserPublicKey::from_container(&u.public_key_container)
                    .map(|k| (u.id, k))
                    .map_err(|e| (Some(u.id), e.to_string())),
                Lenient::Invalid { id, reason } => Err((id, reason)),
            };
            match parsed {
                Ok(r) => recipients.push(r),
                Err((id, reason)) => self.emit(Event::Skipped(Skipped {
                    file_id: None,
                    user_id: id,
                    reason: SkipReason::UnreadablePublicKey(reason),
                })),
            }
        }
        if recipients.is_empty() {
            return Err(invalid("get upload share", "no recipient public key"));
        }
        let size = stream.declared_size()?;
        let request = CreateShareUploadChannelRequest {
            name: options.name.clone(),
            size,
            password: options.access_password.clone(),
            direct_s3_upload: options.s3.then_some(true),
            timestamp_creation: options.timestamp_creation.clone(),
            timestamp_modification: options.timestamp_modification.clone(),
        };
        let call = Call::api(
            Method::POST,
            format!("/public/shares/uploads/{ak}"),
            "create share upload channel",
        )
        .public()
        .idempotent(false)
        .json(&request)?;
        let channel: CreateShareUploadChannelResponse = self.call_json(&call).await?;
        let id = seg(&channel.upload_id)?;
        let result = self
            .share_upload_inner(
                source,
                stream,
                options,
                &ak,
                &id,
                &channel,
                &recipients,
                progress,
            )
            .await;
        if result.is_err() {
            let cancel = Call::api(
                Method::DELETE,
                format!("/public/shares/uploads/{ak}/{id}"),
                "cancel share upload",
            )
            .public()
            .limit(ACK_LIMIT);
            let _ = self.execute(&cancel).await;
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn share_upload_inner(
        &self,
        source: &mut impl Plaintext,
        stream: Stream<'_>,
        options: &UploadShareOptions,
        ak: &str,
        id: &str,
        channel: &CreateShareUploadChannelResponse,
        recipients: &[(i64, UserPublicKey)],
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<PublicUploadedFileData> {
        let into = Channel {
            upload_url: &channel.upload_url,
            s3_urls: format!("/public/shares/uploads/{ak}/{id}/s3_urls"),
            auth: false,
        };
        let sent = self.send_encrypted(source, stream, into, progress).await?;
        // One RSA wrap per listed user: in parallel, off the executor.
        let (jobs, key) = (recipients.to_vec(), sent.key.clone());
        let wrapped = self
            .offload(move || {
                par_map(&jobs, |(user_id, pk)| {
                    pk.wrap_file_key(&key).map(|file_key| UserFileKey {
                        user_id: *user_id,
                        file_key,
                    })
                })
            })
            .await?;
        let keys = wrapped.into_iter().collect::<Result<Vec<_>>>()?;
        if options.s3 {
            let body = CompleteS3ShareUploadRequest {
                parts: sent.parts,
                user_file_key_list: keys,
            };
            let call = Call::api(
                Method::PUT,
                format!("/public/shares/uploads/{ak}/{id}/s3"),
                "complete share S3 upload",
            )
            .public()
            .idempotent(false)
            .json(&body)?;
            self.call_empty(&call).await?;
            let poll = Call::api(
                Method::GET,
                format!("/public/shares/uploads/{ak}/{id}"),
                "poll share S3 upload",
            )
            .public();
            let status = self.poll_s3(&poll).await?;
            Ok(PublicUploadedFileData {
                name: status.file_name.unwrap_or_else(|| options.name.clone()),
                size: status.size,
                created_at: None,
                hash: None,
            })
        } else {
            let call = Call::api(
                Method::PUT,
                format!("/public/shares/uploads/{ak}/{id}"),
                "complete share upload",
            )
            .public()
            .idempotent(false)
            .json(&UserFileKeyList { items: keys })?;
            let resp = self.execute(&call).await?;
            if resp.body().is_empty() {
                return Ok(PublicUploadedFileData {
                    name: options.name.clone(),
                    ..PublicUploadedFileData::default()
                });
            }
            serde_json::from_slice(resp.body())
                .map_err(|_| invalid("complete share upload", "malformed answer"))
        }
    }
}
