//! Encrypted downloads in ranged chunks (FORMAT.md §6.3), resumed after a dropped connection.

use std::io::Write;
use std::path::Path;

use http::{Method, StatusCode, header};

use super::Transport;
use super::client::{Call, CancelFlag, Client, invalid};
use super::distribute::KeyRing;
use super::models::{DownloadTokenGenerateResponse, PublicDownloadTokenGenerateRequest};
use super::upload::Progress;
use super::util::{parse_content_range, seg};
use crate::cipher::{AtomicFile, FileDecryptor};
use crate::error::{Error, Result};
use crate::file_key::{EncryptedFileKey, PlainFileKey};

/// How to download.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Bytes per ranged request (default 8 MiB). Memory use is about one chunk.
    pub chunk_size: u64,
    /// Cancels the download.
    pub cancel: Option<CancelFlag>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            chunk_size: 8 * 1024 * 1024,
            cancel: None,
        }
    }
}

impl DownloadOptions {
    /// With another chunk size (at least 1 byte).
    #[must_use]
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// With a cancel flag.
    #[must_use]
    pub fn cancel(mut self, flag: CancelFlag) -> Self {
        self.cancel = Some(flag);
        self
    }
}

/// Where download URLs come from (a new one is requested when an old one stops working).
#[derive(Clone, Copy)]
pub(crate) enum UrlSource<'a> {
    File(i64),
    Share(&'a str),
}

impl<T: Transport> Client<T> {
    /// `GET /nodes/files/{file_id}/user_file_key`: the file key wrapped for the user.
    pub async fn user_file_key(&self, file_id: i64) -> Result<EncryptedFileKey> {
        let call = Call::api(
            Method::GET,
            format!("/nodes/files/{file_id}/user_file_key"),
            "get user file key",
        );
        self.call_json(&call).await
    }

    /// The user's plain file key of a file, unwrapped with `keys`.
    pub async fn plain_file_key(&self, file_id: i64, keys: &KeyRing) -> Result<PlainFileKey> {
        let efk = self.user_file_key(file_id).await?;
        keys.unwrap_file_key(&efk)
    }

    pub(crate) async fn download_url(&self, source: UrlSource<'_>) -> Result<String> {
        let resp: DownloadTokenGenerateResponse = match source {
            UrlSource::File(id) => {
                let call = Call::api(
                    Method::POST,
                    format!("/nodes/files/{id}/downloads"),
                    "get download URL",
                )
                .idempotent(true);
                self.call_json(&call).await?
            }
            UrlSource::Share(access_key) => {
                // Never a password here: an encrypted share's password stays on the client.
                let call = Call::api(
                    Method::POST,
                    format!("/public/shares/downloads/{}", seg(access_key)),
                    "get share download URL",
                )
                .public()
                .idempotent(true)
                .json(&PublicDownloadTokenGenerateRequest::default())?;
                self.call_json(&call).await?
            }
        };
        resp.download_url
            .filter(|u| !u.is_empty())
            .ok_or_else(|| invalid("get download URL", "no downloadUrl"))
    }

    /// Downloads and decrypts file `file_id` into `path`. The plaintext is written to a
    /// temporary file beside `path`, which is renamed to `path` only after the GCM tag verified;
    /// on any failure `path` is untouched. Returns the number of bytes.
    pub async fn download_to_path(
        &self,
        file_id: i64,
        keys: &KeyRing,
        path: &Path,
        options: &DownloadOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<u64> {
        let key = self.plain_file_key(file_id, keys).await?;
        self.fetch_to_path(UrlSource::File(file_id), &key, path, options, progress)
            .await
    }

    /// Downloads and decrypts file `file_id` into memory; the plaintext is returned only after
    /// the tag verified.
    pub async fn download_to_vec(
        &self,
        file_id: i64,
        keys: &KeyRing,
        options: &DownloadOptions,
    ) -> Result<Vec<u8>> {
        let key = self.plain_file_key(file_id, keys).await?;
        let mut out = Vec::new();
        self.fetch_decrypt(
            UrlSource::File(file_id),
            &key,
            &mut out,
            options,
            &mut |_| {},
        )
        .await?;
        Ok(out)
    }

    /// Downloads and decrypts file `file_id` into `writer`, streaming.
    ///
    /// **What reaches `writer` is unauthenticated until this returns `Ok`**: a modified file
    /// gives [`Error::BadFile`] only at the end, after its plaintext was written. Prefer
    /// [`Client::download_to_path`] or [`Client::download_to_vec`].
    pub async fn download_to_writer<W: Write>(
        &self,
        file_id: i64,
        keys: &KeyRing,
        writer: &mut W,
        options: &DownloadOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<u64> {
        let key = self.plain_file_key(file_id, keys).await?;
        self.fetch_decrypt(UrlSource::File(file_id), &key, writer, options, progress)
            .await
    }

    pub(crate) async fn fetch_to_path(
        &self,
        source: UrlSource<'_>,
        key: &PlainFileKey,
        path: &Path,
        options: &DownloadOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<u64> {
        let mut file = AtomicFile::new(path)?;
        let n = self
            .fetch_decrypt(source, key, file.file(), options, progress)
            .await?;
        file.commit()?;
        Ok(n)
    }

    /// Ranged GETs from `offset` on, decrypting into `writer`; finalizes (checks the tag).
    pub(crate) async fn fetch_decrypt<W: Write>(
        &self,
        source: UrlSource<'_>,
        key: &PlainFileKey,
        writer: &mut W,
        options: &DownloadOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<u64> {
        let chunk = options.chunk_size.max(1);
        let mut url = self.download_url(source).await?;
        let mut dec = FileDecryptor::new(key);
        let mut offset: u64 = 0;
        let mut total: Option<u64> = None;
        let mut refreshed_at: Option<u64> = None;
        loop {
            if let Some(c) = &options.cancel {
                c.check()?;
            }
            if total.is_some_and(|t| offset >= t) {
                break;
            }
            let mut end = offset.saturating_add(chunk - 1);
            if let Some(t) = total {
                end = end.min(t - 1);
            }
            let call = Call::url(Method::GET, url.clone(), "download chunk")
                .header(header::RANGE, &format!("bytes={offset}-{end}"))?;
            let resp = match self.execute(&call).await {
                Ok(r) => r,
                // The URL stopped working (expired or one-time token): get a new one, once per
                // position.
                Err(Error::Api {
                    status: 401 | 403 | 404 | 410,
                    ..
                }) if offset > 0 && refreshed_at != Some(offset) => {
                    refreshed_at = Some(offset);
                    url = self.download_url(source).await?;
                    continue;
                }
                // Nothing to range over: an empty file.
                Err(Error::Api { status: 416, .. }) if offset == 0 && total.is_none() => break,
                Err(e) => return Err(e),
            };
            let body = resp.body();
            let whole = match resp.status() {
                StatusCode::PARTIAL_CONTENT => {
                    let cr = resp
                        .headers()
                        .get(header::CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_content_range)
                        .ok_or_else(|| invalid("download chunk", "bad Content-Range"))?;
                    let (start, last, t) = cr;
                    // `last >= start` (parse_content_range); `+ 1` overflows for a range that
                    // ends at u64::MAX.
                    let len = (last - start).checked_add(1);
                    if start != offset || len != Some(body.len() as u64) || last > end {
                        return Err(invalid("download chunk", "range does not match request"));
                    }
                    if let Some(t) = t {
                        if total.is_some_and(|old| old != t) || last >= t {
                            return Err(invalid("download chunk", "inconsistent total size"));
                        }
                        total = Some(t);
                    }
                    false
                }
                StatusCode::OK if offset == 0 => true,
                _ => return Err(invalid("download chunk", "unexpected status")),
            };
            if body.is_empty() && !whole {
                return Err(invalid("download chunk", "empty partial answer"));
            }
            let mut buf = body.to_vec();
            dec.update_in_place(&mut buf)?;
            writer.write_all(&buf).map_err(Error::Io)?;
            offset += buf.len() as u64;
            progress(Progress {
                bytes: offset,
                total,
            });
            if whole {
                break;
            }
            if total.is_none() && (buf.len() as u64) < chunk {
                // No total announced: a short chunk is the last one.
                break;
            }
        }
        dec.finalize()?;
        writer.flush().map_err(Error::Io)?;
        Ok(offset)
    }
}
