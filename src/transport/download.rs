//! Encrypted downloads in ranged chunks (FORMAT.md §6.3), resumed after a dropped connection.

use std::io::Write;
use std::path::Path;

use http::{Method, StatusCode, header};

use super::client::{Call, CancelFlag, Client, invalid};
use super::distribute::KeyRing;
use super::models::{DownloadTokenGenerateResponse, PublicDownloadTokenGenerateRequest};
use super::overlap::overlapped;
use super::upload::Progress;
use super::util::{parse_content_range, seg};
use super::{BodyLimit, Transport};
use zeroize::{Zeroize as _, Zeroizing};

use crate::cipher::{AtomicFile, CiphertextSpool, FileDecryptor, MAX_MESSAGE_LEN};
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
                    format!("/public/shares/downloads/{}", seg(access_key)?),
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
    /// temporary file beside `path` (unnamed on Linux), which appears at `path` only after the
    /// GCM tag verified; on any failure `path` is untouched. Decryption and file I/O run
    /// through [`Transport::offload`]. Returns the number of bytes.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "dracoon.download", level = "info", skip_all)
    )]
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
    /// the tag verified. Every intermediate buffer that held plaintext (also unauthenticated
    /// plaintext, on [`Error::BadFile`]) is wiped, and no copy of the plaintext is made: the
    /// returned vector is the one buffer, and the caller's (a plain `Vec` is not wiped on drop:
    /// wrap it in [`zeroize::Zeroizing`] when the content is sensitive).
    ///
    /// Pipelined like [`Client::upload`] (as are the other downloads): the next chunk is
    /// fetched while the last one is decrypted (one request in flight at a time).
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "dracoon.download", level = "info", skip_all)
    )]
    pub async fn download_to_vec(
        &self,
        file_id: i64,
        keys: &KeyRing,
        options: &DownloadOptions,
    ) -> Result<Vec<u8>> {
        let key = self.plain_file_key(file_id, keys).await?;
        self.fetch_to_vec(UrlSource::File(file_id), &key, options)
            .await
    }

    /// Downloads file `file_id`, checks its tag, and only then decrypts it into `writer`:
    /// **`writer` receives no plaintext unless the file is authentic** (on [`Error::BadFile`]
    /// it received nothing). The ciphertext is spooled meanwhile into an unnamed temporary file
    /// ([`crate::CiphertextSpool`]), so memory stays bounded by one chunk; spooling runs
    /// through [`Transport::offload`], the final pass (decrypting into `writer`, which is
    /// borrowed) on the calling task.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "dracoon.download", level = "info", skip_all)
    )]
    pub async fn download_to_writer<W: Write>(
        &self,
        file_id: i64,
        keys: &KeyRing,
        writer: &mut W,
        options: &DownloadOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<u64> {
        let key = self.plain_file_key(file_id, keys).await?;
        self.fetch_to_writer(UrlSource::File(file_id), &key, writer, options, progress)
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
        let path = path.to_path_buf();
        let mut file = self.offload(move || AtomicFile::new(&path)).await??;
        let mut dec = FileDecryptor::new(key);
        let mut chunks = Chunks::new(self, source, options).await?;
        let mut next = chunks.next().await?;
        while let Some(body) = next {
            let len = body.len();
            let at = chunks.progress();
            // File and decryptor travel to the blocking side and back with each chunk, while
            // the next chunk is fetched.
            let write = self.offload(move || {
                // The answer's buffer is ours alone: decrypt it in place (a copy only if the
                // transport kept a reference), and wipe the plaintext once written.
                let mut buf = body
                    .try_into_mut()
                    .unwrap_or_else(|shared| bytes::BytesMut::from(&shared[..]));
                let r = dec
                    .update_in_place(&mut buf)
                    .and_then(|()| file.file().write_all(&buf).map_err(Error::Io));
                buf.as_mut().zeroize();
                (file, dec, r)
            });
            let (fetched, wrote) = overlapped(self.transport(), len, chunks.next(), write).await;
            let written;
            (file, dec, written) = wrote?;
            written?;
            progress(at);
            next = fetched?;
        }
        self.offload(move || dec.finalize().and_then(|()| file.commit()))
            .await??;
        Ok(chunks.offset)
    }

    pub(crate) async fn fetch_to_vec(
        &self,
        source: UrlSource<'_>,
        key: &PlainFileKey,
        options: &DownloadOptions,
    ) -> Result<Vec<u8>> {
        let mut dec = FileDecryptor::new(key);
        let mut out = WipingBuf::default();
        let mut chunks = Chunks::new(self, source, options).await?;
        let mut next = chunks.next().await?;
        while let Some(body) = next {
            if let Some(t) = chunks.total {
                out.reserve_total(t);
            }
            // The next chunk is fetched while this one is appended and decrypted.
            let (fetched, decrypted) =
                overlapped(self.transport(), body.len(), chunks.next(), async {
                    dec.update_in_place(out.append(&body))
                })
                .await;
            decrypted?;
            next = fetched?;
        }
        dec.finalize()?;
        Ok(out.into_inner())
    }

    pub(crate) async fn fetch_to_writer<W: Write>(
        &self,
        source: UrlSource<'_>,
        key: &PlainFileKey,
        writer: &mut W,
        options: &DownloadOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<u64> {
        let key = key.clone();
        let mut spool = self.offload(move || CiphertextSpool::new(&key)).await??;
        let mut chunks = Chunks::new(self, source, options).await?;
        let mut next = chunks.next().await?;
        while let Some(body) = next {
            let len = body.len();
            let at = chunks.progress();
            // GHASH and the spool file's I/O off the executor, while the next chunk is fetched.
            let push = self.offload(move || {
                let r = spool.push(&body);
                (spool, r)
            });
            let (fetched, pushed) = overlapped(self.transport(), len, chunks.next(), push).await;
            let (back, pushed) = pushed?;
            pushed?;
            spool = back;
            progress(at);
            next = fetched?;
        }
        spool.finish(writer)
    }
}

/// A growing plaintext buffer whose every old allocation is wiped (a `Vec` that grows leaves
/// its old contents in freed memory).
#[derive(Default)]
struct WipingBuf(Zeroizing<Vec<u8>>);

impl WipingBuf {
    /// Makes room for `total` bytes in all, once the size is known. The total is the server's
    /// claim, so the reservation may fail: then the buffer grows with what actually arrives.
    fn reserve_total(&mut self, total: u64) {
        if let Ok(want) = usize::try_from(total)
            && want > self.0.capacity()
        {
            self.regrow(want);
        }
    }

    /// Moves the contents into a new allocation of `capacity` bytes (the old one is wiped as it
    /// drops); false, and nothing changed, if that much memory is not available.
    fn regrow(&mut self, capacity: usize) -> bool {
        let mut bigger = Vec::new();
        if bigger.try_reserve_exact(capacity).is_err() {
            return false;
        }
        bigger.extend_from_slice(&self.0);
        self.0 = Zeroizing::new(bigger);
        true
    }

    /// Appends `data` and returns the appended part, to decrypt in place.
    fn append(&mut self, data: &[u8]) -> &mut [u8] {
        let start = self.0.len();
        let need = start.saturating_add(data.len());
        if need > self.0.capacity()
            && !self.regrow(need.max(self.0.capacity().saturating_mul(2)))
            && !self.regrow(need)
        {
            // Not even the bytes received fit: out of memory, as for any failed allocation.
            let layout = std::alloc::Layout::array::<u8>(need)
                .unwrap_or_else(|_| std::alloc::Layout::new::<u8>());
            std::alloc::handle_alloc_error(layout);
        }
        self.0.extend_from_slice(data);
        self.0.get_mut(start..).unwrap_or_default()
    }

    fn into_inner(mut self) -> Vec<u8> {
        std::mem::take(&mut *self.0)
    }
}

/// The ranged GETs of one download, from offset 0 to the end, as a pull-based sequence of
/// verified-length chunks (a new download URL is fetched when the old one stops working).
pub(crate) struct Chunks<'a, 's, T> {
    client: &'a Client<T>,
    source: UrlSource<'s>,
    options: &'a DownloadOptions,
    url: String,
    chunk: u64,
    pub(crate) offset: u64,
    pub(crate) total: Option<u64>,
    refreshed_at: Option<u64>,
    done: bool,
}

impl<'a, 's, T: Transport> Chunks<'a, 's, T> {
    pub(crate) async fn new(
        client: &'a Client<T>,
        source: UrlSource<'s>,
        options: &'a DownloadOptions,
    ) -> Result<Self> {
        Ok(Chunks {
            client,
            source,
            options,
            url: client.download_url(source).await?,
            chunk: options.chunk_size.max(1),
            offset: 0,
            total: None,
            refreshed_at: None,
            done: false,
        })
    }

    pub(crate) fn progress(&self) -> Progress {
        Progress {
            bytes: self.offset,
            total: self.total,
        }
    }

    /// The next chunk of ciphertext, or `None` at the end.
    pub(crate) async fn next(&mut self) -> Result<Option<bytes::Bytes>> {
        loop {
            if self.done || self.total.is_some_and(|t| self.offset >= t) {
                return Ok(None);
            }
            if let Some(c) = &self.options.cancel {
                c.check()?;
            }
            let offset = self.offset;
            let mut end = offset.saturating_add(self.chunk - 1);
            if let Some(t) = self.total {
                end = end.min(t - 1);
            }
            // The answer may hold at most the range asked for: a host that ignores `Range`
            // cannot make us read (and hold) more than one chunk.
            let call = Call::url(Method::GET, self.url.clone(), "download chunk")
                .header(header::RANGE, &format!("bytes={offset}-{end}"))?
                .limit(BodyLimit::bytes(end - offset + 1));
            let resp = match self.client.execute(&call).await {
                Ok(r) => r,
                // The URL stopped working (expired or one-time token): get a new one, once per
                // position.
                Err(Error::Api {
                    status: 401 | 403 | 404 | 410,
                    ..
                }) if offset > 0 && self.refreshed_at != Some(offset) => {
                    self.refreshed_at = Some(offset);
                    self.url = self.client.download_url(self.source).await?;
                    continue;
                }
                // Nothing to range over: an empty file.
                Err(Error::Api { status: 416, .. }) if offset == 0 && self.total.is_none() => {
                    self.done = true;
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
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
                    if start != offset || len != Some(resp.body().len() as u64) || last > end {
                        return Err(invalid("download chunk", "range does not match request"));
                    }
                    if let Some(t) = t {
                        if self.total.is_some_and(|old| old != t) || last >= t {
                            return Err(invalid("download chunk", "inconsistent total size"));
                        }
                        if t > MAX_MESSAGE_LEN {
                            return Err(invalid(
                                "download chunk",
                                "total size larger than one file can be (the GCM limit)",
                            ));
                        }
                        self.total = Some(t);
                    }
                    // Exactly the range asked for, cut only at the end of the file (a chunk
                    // that stops early is the last one only when the size is unknown).
                    if let Some(t) = self.total
                        && last != end.min(t.saturating_sub(1))
                    {
                        return Err(invalid(
                            "download chunk",
                            "the answer is shorter than the range asked for",
                        ));
                    }
                    false
                }
                StatusCode::OK if offset == 0 => true,
                _ => return Err(invalid("download chunk", "unexpected status")),
            };
            let body = resp.into_body();
            if body.is_empty() && !whole {
                return Err(invalid("download chunk", "empty partial answer"));
            }
            self.offset += body.len() as u64;
            // A whole answer, or a short chunk without an announced total, is the last one.
            if whole || (self.total.is_none() && (body.len() as u64) < self.chunk) {
                self.done = true;
            }
            return Ok(Some(body));
        }
    }
}
