//! Encrypted uploads: chunked through the upload URL, or directly to S3 through presigned part
//! URLs (FORMAT.md §6.2).

use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, header};
use zeroize::Zeroize as _;

use super::Transport;
use super::client::{ACK_LIMIT, Call, CancelFlag, Client, invalid};
use super::distribute::{DistributionReport, KeyRing, MissingKeysFilter};
use super::models::{
    CompleteS3FileUploadRequest, CompleteUploadRequest, CreateFileUploadRequest,
    CreateFileUploadResponse, GeneratePresignedUrlsRequest, Node, PresignedUrlList,
    ResolutionStrategy, S3FileUploadPart, S3FileUploadStatus, UserFileKey, UserFileKeyList,
};
use super::overlap::overlapped;
use super::util::seg;
use crate::cipher::FileEncryptor;
use crate::error::{Error, Result};
use crate::file_key::PlainFileKey;
use crate::keys::UserPublicKey;

/// Smallest S3 part (except the last one).
pub(crate) const S3_MIN_PART: usize = 5 * 1024 * 1024;

/// How far an upload or download is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes transferred and acknowledged so far.
    pub bytes: u64,
    /// Total bytes, when known.
    pub total: Option<u64>,
}

/// The builder methods both upload option types ([`UploadOptions`] and
/// [`UploadShareOptions`](super::UploadShareOptions)) share, over their fields of the same
/// names, and their [`Stream`].
macro_rules! stream_builders {
    () => {
        /// With the plaintext size (checked against what the source delivers).
        #[must_use]
        pub fn size(mut self, size: u64) -> Self {
            self.size = Some(size);
            self
        }

        /// With another chunk size in plaintext bytes (at least 1; S3 parts are at least
        /// 5 MiB).
        #[must_use]
        pub fn chunk_size(mut self, bytes: usize) -> Self {
            self.chunk_size = bytes.max(1);
            self
        }

        /// Through S3 presigned URLs (or not).
        #[must_use]
        pub fn s3(mut self, yes: bool) -> Self {
            self.s3 = yes;
            self
        }

        /// With timestamps (RFC 3339, see [`rfc3339`](crate::transport::rfc3339)).
        #[must_use]
        pub fn timestamps(
            mut self,
            creation: Option<String>,
            modification: Option<String>,
        ) -> Self {
            self.timestamp_creation = creation;
            self.timestamp_modification = modification;
            self
        }

        /// With a cancel flag.
        #[must_use]
        pub fn cancel(mut self, flag: $crate::transport::CancelFlag) -> Self {
            self.cancel = Some(flag);
            self
        }

        /// How the plaintext is streamed.
        pub(crate) fn stream(&self) -> $crate::transport::upload::Stream<'_> {
            $crate::transport::upload::Stream {
                size: self.size,
                chunk_size: self.chunk_size,
                s3: self.s3,
                cancel: self.cancel.as_ref(),
            }
        }
    };
}
pub(crate) use stream_builders;

/// How an upload streams its plaintext (from either options type).
pub(crate) struct Stream<'a> {
    pub(crate) size: Option<u64>,
    pub(crate) chunk_size: usize,
    pub(crate) s3: bool,
    pub(crate) cancel: Option<&'a CancelFlag>,
}

impl Stream<'_> {
    /// For plaintext in memory: its size, which a declared size must equal.
    pub(crate) fn of_slice(self, data: &[u8]) -> Result<Self> {
        let len = data.len() as u64;
        if self.size.is_some_and(|s| s != len) {
            return Err(Error::InvalidArgument(
                "the declared size is not the length of the data",
            ));
        }
        Ok(Stream {
            size: Some(len),
            ..self
        })
    }

    /// The declared size for the API's `size` field.
    pub(crate) fn declared_size(&self) -> Result<Option<i64>> {
        self.size
            .map(i64::try_from)
            .transpose()
            .map_err(|_| Error::InvalidArgument("size"))
    }
}

/// The upload loop's chunk buffers: one ready for reuse, and one the transport may still hold.
#[derive(Default)]
struct ChunkPool {
    spare: Option<bytes::BytesMut>,
    held: Option<Bytes>,
}

impl ChunkPool {
    /// A buffer for the next chunk: the spare, the held one if the transport has let go of it
    /// meanwhile, else a new one.
    fn take(&mut self) -> bytes::BytesMut {
        if let Some(spare) = self.spare.take() {
            return spare;
        }
        match self.held.take().map(Bytes::try_into_mut) {
            Some(Ok(buf)) => buf,
            Some(Err(still_held)) => {
                self.held = Some(still_held);
                bytes::BytesMut::new()
            }
            None => bytes::BytesMut::new(),
        }
    }

    /// A sent chunk's body, for reuse once nobody else holds it.
    fn give_back(&mut self, body: Bytes) {
        match body.try_into_mut() {
            Ok(buf) => self.spare = Some(buf),
            Err(body) => self.held = Some(body),
        }
    }
}

/// Where an upload channel takes its ciphertext.
pub(crate) struct Channel<'a> {
    /// `POST {upload_url}` with `Content-Range` (chunked uploads).
    pub(crate) upload_url: &'a str,
    /// Presigned URLs from `POST {s3_urls}`, an API path, then `PUT` (S3 uploads).
    pub(crate) s3_urls: String,
    /// Whether `s3_urls` is authenticated (else public: upload shares).
    pub(crate) auth: bool,
}

/// What to upload where, and how.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UploadOptions {
    /// Parent room or folder.
    pub parent_id: i64,
    /// File name.
    pub name: String,
    /// Size of the plaintext in bytes, when known (checked against what the source delivers;
    /// lets the server check the quota, and gives `Content-Range` its total).
    pub size: Option<u64>,
    /// Plaintext bytes per chunk (default 8 MiB; for S3 at least 5 MiB). Memory use is about
    /// one chunk (two while a transport still holds the last one).
    pub chunk_size: usize,
    /// Conflict resolution.
    pub resolution: ResolutionStrategy,
    /// Classification 1..=4.
    pub classification: Option<i32>,
    /// Creation time on the source file system (RFC 3339, see [`super::rfc3339`]).
    pub timestamp_creation: Option<String>,
    /// Modification time on the source file system (RFC 3339).
    pub timestamp_modification: Option<String>,
    /// Upload directly to S3 through presigned URLs.
    pub s3: bool,
    /// Further users to hand the file key to at completion (`userFileKeyList`, not for S3).
    pub also_for: Vec<(i64, UserPublicKey)>,
    /// After the upload, serve the file's missing keys (every user who may read it) with the
    /// still-held plain file key.
    pub distribute: bool,
    /// Cancels the upload (the channel is deleted).
    pub cancel: Option<CancelFlag>,
}

impl UploadOptions {
    /// Upload `name` into `parent_id` with the defaults.
    #[must_use]
    pub fn new(parent_id: i64, name: &str) -> Self {
        UploadOptions {
            parent_id,
            name: name.to_owned(),
            size: None,
            chunk_size: 8 * 1024 * 1024,
            resolution: ResolutionStrategy::Autorename,
            classification: None,
            timestamp_creation: None,
            timestamp_modification: None,
            s3: false,
            also_for: Vec::new(),
            distribute: false,
            cancel: None,
        }
    }

    stream_builders!();

    /// With a resolution strategy.
    #[must_use]
    pub fn resolution(mut self, r: ResolutionStrategy) -> Self {
        self.resolution = r;
        self
    }

    /// Also wrap the file key for `user_id`'s public key at completion.
    #[must_use]
    pub fn also_for(mut self, user_id: i64, key: UserPublicKey) -> Self {
        self.also_for.push((user_id, key));
        self
    }

    /// Distribute the file key to every user missing it after the upload.
    #[must_use]
    pub fn distribute(mut self, yes: bool) -> Self {
        self.distribute = yes;
        self
    }
}

/// The result of an upload.
#[derive(Debug)]
#[non_exhaustive]
pub struct Uploaded {
    /// The created node.
    pub node: Node,
    /// The distribution after the upload ([`UploadOptions::distribute`]).
    pub distribution: Option<DistributionReport>,
    /// Why that distribution failed, if it did (the upload itself succeeded).
    pub distribution_error: Option<Error>,
}

/// The source delivered another number of bytes than the declared size.
const SIZE_MISMATCH: Error =
    Error::InvalidArgument("the source delivered another number of bytes than the declared size");

/// Where encrypted chunks go.
enum Sink<'a> {
    /// `POST {upload_url}` with `Content-Range`.
    Chunks { upload_url: &'a str },
    /// Presigned URLs from `POST {urls_path}` (an API path), then `PUT`.
    S3 { urls_path: String, auth: bool },
}

/// What [`Client::send_encrypted`] produced.
pub(crate) struct Sent {
    pub(crate) key: PlainFileKey,
    pub(crate) parts: Vec<S3FileUploadPart>,
}

/// Reads until `buf` is full or the source ends.
fn read_full(source: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match source.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Ok(n)
}

/// Plaintext bytes read and encrypted at a time within a chunk, so that each piece is encrypted
/// while it is still in the cache.
const WINDOW: usize = 256 * 1024;

/// Fills `buf` from `source` as far as the source goes and encrypts what was read, window by
/// window: the number of bytes read. On an error `buf` is wiped (it may hold plaintext).
fn read_encrypted(
    source: &mut impl Read,
    enc: &mut FileEncryptor,
    buf: &mut [u8],
) -> Result<usize> {
    let mut n: usize = 0;
    let done = loop {
        let end = buf.len().min(n.saturating_add(WINDOW));
        let window = match read_full(source, &mut buf[n..end]) {
            Ok(k) => &mut buf[n..n + k],
            Err(e) => break Err(e),
        };
        if let Err(e) = enc.update_in_place(window) {
            break Err(e);
        }
        n += window.len();
        if n < end || n == buf.len() {
            break Ok(n);
        }
    };
    if done.is_err() {
        buf.zeroize();
    }
    done
}

/// Where an upload's plaintext comes from.
pub(crate) trait Plaintext {
    /// Fills `buf` with the next ciphertext, as far as the plaintext goes: the number of bytes
    /// written (less than `buf.len()` only at the end). On an error `buf` holds no plaintext.
    fn encrypt_next(&mut self, enc: &mut FileEncryptor, buf: &mut [u8]) -> Result<usize>;
}

/// Plaintext read with `std::io::Read` (copied into the chunk, then encrypted in place).
pub(crate) struct FromReader<R>(pub(crate) R);

impl<R: Read> Plaintext for FromReader<R> {
    fn encrypt_next(&mut self, enc: &mut FileEncryptor, buf: &mut [u8]) -> Result<usize> {
        read_encrypted(&mut self.0, enc, buf)
    }
}

/// Plaintext in memory: encrypted straight from the slice into the chunk, one pass.
pub(crate) struct FromSlice<'a>(pub(crate) &'a [u8]);

impl Plaintext for FromSlice<'_> {
    fn encrypt_next(&mut self, enc: &mut FileEncryptor, buf: &mut [u8]) -> Result<usize> {
        let n = buf.len().min(self.0.len());
        let (now, rest) = self.0.split_at(n);
        enc.update(now, &mut buf[..n])?;
        self.0 = rest;
        Ok(n)
    }
}

impl<T: Transport> Client<T> {
    /// Encrypts `source` under a fresh file key and uploads it: creates the channel, sends the
    /// ciphertext chunk by chunk (a chunk that fails transiently is resent from its buffer, into
    /// the same range; the plaintext goes through the encryptor exactly once), completes the
    /// upload with the file key wrapped for `uploader` (and for [`UploadOptions::also_for`]),
    /// and optionally distributes the key to every user missing it.
    ///
    /// On failure or cancellation the channel is deleted. An empty source is uploaded without
    /// chunks (one empty part for S3), and its file key carries the tag of the empty message.
    ///
    /// Pipelined for chunks of 256 KiB or more: while one chunk is sent, the next is read and
    /// encrypted (for a [`Blocking`](super::Blocking) transport the send runs on a scoped
    /// thread, see [`Transport::sends_inline`]). One request is in flight at a time.
    ///
    /// Memory: the chunk in flight (kept until the server acknowledged it, so that a retry
    /// resends exactly those bytes), the next chunk, and a third buffer while a transport still
    /// holds a sent body. `source` is read with `std::io::Read` on the calling task (a little
    /// ahead of what was acknowledged); `progress` is called after every acknowledged chunk.
    /// For plaintext already in memory, [`upload_slice`](Self::upload_slice) encrypts straight
    /// from it and saves the copy out of the reader.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "dracoon.upload", level = "info", skip_all)
    )]
    pub async fn upload<R: Read>(
        &self,
        source: R,
        uploader: &UserPublicKey,
        options: &UploadOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Uploaded> {
        let stream = options.stream();
        self.upload_from(&mut FromReader(source), stream, uploader, options, progress)
            .await
    }

    /// [`upload`](Self::upload) of plaintext already in memory: each chunk is encrypted
    /// straight from `data` into the chunk buffer, in one pass (no copy out of a reader first).
    ///
    /// The size is `data.len()`; [`UploadOptions::size`], if set, must be the same (else
    /// [`Error::InvalidArgument`] before any request).
    ///
    /// ```
    /// # use dracoon_crypto::transport::{Client, Blocking, BlockingReqwestTransport, UploadOptions, block_on};
    /// # use dracoon_crypto::{Password, UserKeyPair, UserKeyPairVersion};
    /// # fn main() -> dracoon_crypto::Result<()> {
    /// # let server = dracoon_crypto_testkit::TestServer::start().unwrap();
    /// # let user = server.create_user("alice");
    /// # let pair = UserKeyPair::generate(UserKeyPairVersion::Rsa2048)?;
    /// # let container = pair.hazmat_to_container_with_iterations(&Password::new("pw"), 1000)?;
    /// # server.add_user_key_pair(user.id, container, &pair);
    /// # let room = server.create_room("room", true, &[user.id]);
    /// # let transport = Blocking(BlockingReqwestTransport::new()?);
    /// let client = Client::new(&transport, &server.base_url())?.with_auth_token(&user.token);
    /// let report = b"quarterly figures";
    /// let uploaded = block_on(client.upload_slice(
    ///     report,
    ///     pair.public_key(),
    ///     &UploadOptions::new(room, "report.txt"),
    ///     &mut |_| {},
    /// ))?;
    /// assert_eq!(uploaded.node.size, Some(report.len() as i64));
    /// # Ok(()) }
    /// ```
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "dracoon.upload", level = "info", skip_all)
    )]
    pub async fn upload_slice(
        &self,
        data: &[u8],
        uploader: &UserPublicKey,
        options: &UploadOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Uploaded> {
        let stream = options.stream().of_slice(data)?;
        self.upload_from(&mut FromSlice(data), stream, uploader, options, progress)
            .await
    }

    async fn upload_from(
        &self,
        source: &mut impl Plaintext,
        stream: Stream<'_>,
        uploader: &UserPublicKey,
        options: &UploadOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Uploaded> {
        let size = stream.declared_size()?;
        let request = CreateFileUploadRequest {
            parent_id: options.parent_id,
            name: options.name.clone(),
            size,
            classification: options.classification,
            timestamp_creation: options.timestamp_creation.clone(),
            timestamp_modification: options.timestamp_modification.clone(),
            direct_s3_upload: options.s3.then_some(true),
            ..CreateFileUploadRequest::default()
        };
        let call = Call::api(
            Method::POST,
            "/nodes/files/uploads".into(),
            "create upload channel",
        )
        .idempotent(false)
        .json(&request)?;
        let channel: CreateFileUploadResponse = self.call_json(&call).await?;

        let done = self
            .upload_into_channel(source, stream, uploader, options, &channel, progress)
            .await;
        let (node, key) = match done {
            Ok(v) => v,
            Err(e) => {
                let cancel = if options.s3 {
                    Call::api(
                        Method::DELETE,
                        format!("/nodes/files/uploads/{}", seg(&channel.upload_id)?),
                        "cancel upload",
                    )
                } else {
                    Call::url(Method::DELETE, channel.upload_url.clone(), "cancel upload")
                };
                let _ = self
                    .execute(&cancel.idempotent(true).limit(ACK_LIMIT))
                    .await;
                return Err(e);
            }
        };

        let mut uploaded = Uploaded {
            node,
            distribution: None,
            distribution_error: None,
        };
        if options.distribute {
            let filter = MissingKeysFilter::new().file(uploaded.node.id);
            let known = HashMap::from([(uploaded.node.id, key)]);
            match self
                .distribute_inner(&KeyRing::new(Vec::new()), &filter, known)
                .await
            {
                Ok(r) => uploaded.distribution = Some(r),
                Err(e) => uploaded.distribution_error = Some(e),
            }
        }
        Ok(uploaded)
    }

    async fn upload_into_channel(
        &self,
        source: &mut impl Plaintext,
        stream: Stream<'_>,
        uploader: &UserPublicKey,
        options: &UploadOptions,
        channel: &CreateFileUploadResponse,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(Node, PlainFileKey)> {
        let into = Channel {
            upload_url: &channel.upload_url,
            s3_urls: format!("/nodes/files/uploads/{}/s3_urls", seg(&channel.upload_id)?),
            auth: true,
        };
        let sent = self.send_encrypted(source, stream, into, progress).await?;
        let file_key = uploader.wrap_file_key(&sent.key)?;
        if let Some(c) = &options.cancel {
            c.check()?;
        }
        let node = if options.s3 {
            let body = CompleteS3FileUploadRequest {
                parts: sent.parts,
                resolution_strategy: Some(options.resolution),
                file_key: Some(file_key),
                ..CompleteS3FileUploadRequest::default()
            };
            let id = seg(&channel.upload_id)?;
            let call = Call::api(
                Method::PUT,
                format!("/nodes/files/uploads/{id}/s3"),
                "complete S3 upload",
            )
            .idempotent(false)
            .json(&body)?;
            self.call_empty(&call).await?;
            let poll = Call::api(
                Method::GET,
                format!("/nodes/files/uploads/{id}"),
                "poll S3 upload",
            );
            let status = self.poll_s3(&poll).await?;
            status
                .node
                .ok_or_else(|| invalid("poll S3 upload", "done without a node"))?
        } else {
            let mut others = Vec::with_capacity(options.also_for.len());
            for (user_id, key) in &options.also_for {
                others.push(UserFileKey {
                    user_id: *user_id,
                    file_key: key.wrap_file_key(&sent.key)?,
                });
            }
            let body = CompleteUploadRequest {
                file_key: Some(file_key),
                resolution_strategy: Some(options.resolution),
                user_file_key_list: (!others.is_empty())
                    .then_some(UserFileKeyList { items: others }),
                ..CompleteUploadRequest::default()
            };
            let call = Call::url(Method::PUT, channel.upload_url.clone(), "complete upload")
                .idempotent(false)
                .json(&body)?;
            self.call_json(&call).await?
        };
        Ok((node, sent.key))
    }

    /// Streams `source` through a fresh encryptor into `channel` (its S3 part URLs when
    /// `stream.s3`, else its upload URL), chunk by chunk.
    pub(crate) async fn send_encrypted(
        &self,
        source: &mut impl Plaintext,
        stream: Stream<'_>,
        channel: Channel<'_>,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Sent> {
        let Stream {
            size,
            chunk_size,
            s3,
            cancel,
        } = stream;
        let sink = if s3 {
            Sink::S3 {
                urls_path: channel.s3_urls,
                auth: channel.auth,
            }
        } else {
            Sink::Chunks {
                upload_url: channel.upload_url,
            }
        };
        let chunk_size = match sink {
            Sink::S3 { .. } => chunk_size.max(S3_MIN_PART),
            Sink::Chunks { .. } => chunk_size.max(1),
        };
        let is_s3 = matches!(sink, Sink::S3 { .. });
        let mut enc = FileEncryptor::new()?;
        let mut offset: u64 = 0;
        let mut parts = Vec::new();
        let mut part_number: i32 = 1;
        let mut exclusive_end = false;
        // Chunk buffers are reused: a fresh multi-MiB allocation per chunk costs more in page
        // faults than the encryption. While one chunk is sent the next is read and encrypted
        // into a second buffer; a transport may still hold a sent body for a moment after its
        // response is back, and that one is taken back on a later round. So at most three.
        let mut pool = ChunkPool::default();
        let mut fill = |pool: &mut ChunkPool, enc: &mut FileEncryptor| -> Result<bytes::BytesMut> {
            if let Some(c) = cancel {
                c.check()?;
            }
            let mut buf = pool.take();
            // Not cleared: what is left is ciphertext, overwritten by the read.
            buf.resize(chunk_size, 0);
            let n = source.encrypt_next(enc, &mut buf)?;
            buf.truncate(n);
            Ok(buf)
        };
        let mut next = fill(&mut pool, &mut enc)?;
        loop {
            let buf = std::mem::take(&mut next);
            let len = buf.len() as u64;
            // A source longer than declared: stop before a byte beyond the declared size leaves
            // (its Content-Range would end beyond the total it names).
            if size.is_some_and(|s| offset + len > s) {
                return Err(SIZE_MISMATCH);
            }
            // An empty file: no chunk at all; one empty part for S3.
            if len == 0 && !(is_s3 && part_number == 1) {
                break;
            }
            // Also checked here: the flag may have been raised after this chunk was read.
            if let Some(c) = cancel {
                c.check()?;
            }
            let last = buf.len() < chunk_size;
            // Ciphertext now: handed to the transport, not copied; reused once it is back.
            let body = buf.freeze();
            let send = self.send_chunk(
                &sink,
                body.clone(),
                offset,
                size,
                part_number,
                &mut exclusive_end,
            );
            let next_bytes = if last { 0 } else { chunk_size };
            let read_next = async { (!last).then(|| fill(&mut pool, &mut enc)).transpose() };
            let (sent, read) = overlapped(self.transport(), next_bytes, send, read_next).await;
            if let Some(etag) = sent? {
                parts.push(S3FileUploadPart {
                    part_etag: etag,
                    part_number,
                });
                part_number = part_number
                    .checked_add(1)
                    .ok_or(Error::InvalidArgument("too many parts"))?;
            }
            offset += len;
            pool.give_back(body);
            progress(Progress {
                bytes: offset,
                total: size,
            });
            match read? {
                Some(buf) => next = buf,
                None => break,
            }
        }
        if size.is_some_and(|s| s != offset) {
            return Err(SIZE_MISMATCH);
        }
        Ok(Sent {
            key: enc.finalize(),
            parts,
        })
    }

    /// Sends one chunk of ciphertext at `offset` of a file of `total` bytes (if known) into
    /// `sink`: the part's ETag for S3.
    async fn send_chunk(
        &self,
        sink: &Sink<'_>,
        body: Bytes,
        offset: u64,
        total: Option<u64>,
        part_number: i32,
        exclusive_end: &mut bool,
    ) -> Result<Option<String>> {
        let len = body.len() as u64;
        match sink {
            Sink::Chunks { upload_url } => {
                let total = total.map_or_else(|| "*".to_owned(), |s| s.to_string());
                loop {
                    // RFC 7233 inclusive end; the form the Java SDK and dco3 send (exclusive end)
                    // only after a server explicitly refused the RFC form (-80021), which stores
                    // nothing, so the chunk is resent into the same range.
                    let last = if *exclusive_end {
                        offset + len
                    } else {
                        offset + len - 1
                    };
                    let range = format!("bytes {offset}-{last}/{total}");
                    let call = Call::url(Method::POST, (*upload_url).to_owned(), "upload chunk")
                        .body(body.clone())
                        .limit(ACK_LIMIT)
                        .header(header::CONTENT_RANGE, &range)?
                        .header(header::CONTENT_TYPE, "application/octet-stream")?;
                    match self.call_empty(&call).await {
                        Err(Error::Api {
                            status: 400,
                            code: Some(-80021),
                            ..
                        }) if !*exclusive_end && offset == 0 => *exclusive_end = true,
                        other => return other.map(|()| None),
                    }
                }
            }
            Sink::S3 { urls_path, auth } => self
                .put_s3_part(urls_path, *auth, part_number, body)
                .await
                .map(Some),
        }
    }

    async fn put_s3_part(
        &self,
        urls_path: &str,
        auth: bool,
        part_number: i32,
        body: Bytes,
    ) -> Result<String> {
        let request = GeneratePresignedUrlsRequest {
            size: i64::try_from(body.len()).map_err(|_| Error::InvalidArgument("part size"))?,
            first_part_number: part_number,
            last_part_number: part_number,
        };
        let mut call = Call::api(Method::POST, urls_path.to_owned(), "get presigned URL")
            .idempotent(true)
            .json(&request)?;
        if !auth {
            call = call.public();
        }
        let list: PresignedUrlList = self.call_json(&call).await?;
        let url = list
            .urls
            .into_iter()
            .find(|u| u.part_number == part_number)
            .ok_or_else(|| invalid("get presigned URL", "no URL for the part"))?
            .url;
        let put = Call::url(Method::PUT, url, "upload S3 part")
            .presigned()
            .limit(ACK_LIMIT)
            .body(body);
        let resp = self.execute(&put).await?;
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().trim_matches('"').to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid("upload S3 part", "no ETag in the answer"))?;
        Ok(etag)
    }

    /// Polls an S3 upload's status until `done` (capped exponential back-off, overall
    /// timeout [`Client::with_s3_timeout`]). The timeout counts the back-off slept as well as
    /// the time elapsed, so it also ends with a transport whose `sleep` returns early (a test
    /// fake, an async runtime with paused time).
    pub(crate) async fn poll_s3(&self, call: &Call) -> Result<S3FileUploadStatus> {
        let start = Instant::now();
        let mut waited = Duration::ZERO;
        let mut delay = Duration::from_millis(100);
        loop {
            let status: S3FileUploadStatus = self.call_json(call).await?;
            match status.status.as_str() {
                "done" => return Ok(status),
                "error" => {
                    let details = status.error_details.unwrap_or_default();
                    return Err(Error::Api {
                        status: details
                            .code
                            .and_then(|c| u16::try_from(c).ok())
                            .unwrap_or(500),
                        code: details.error_code,
                        message: format!(
                            "{} ({})",
                            super::util::shorten(
                                details.message.as_deref().unwrap_or("S3 upload failed"),
                                200
                            ),
                            call.step
                        ),
                    });
                }
                _ => {}
            }
            if start.elapsed().max(waited) + delay > self.s3_timeout {
                return Err(Error::Transport(crate::error::TransportError::new(
                    crate::error::TransportErrorKind::Timeout,
                    "the server did not finish the S3 upload in time",
                )));
            }
            self.sleep(delay).await;
            waited += delay;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn windowed_reads_encrypt_exactly_like_one_pass() {
        let data: Vec<u8> = (0..3 * WINDOW + 1000).map(|i| (i % 251) as u8).collect();
        for (chunk, step) in [(2 * WINDOW + 7, 100_000), (WINDOW, WINDOW), (5000, 3)] {
            let key = PlainFileKey::from_parts(&[7; 32], [9; 12], [0; 16]);
            let mut expected = data.clone();
            let mut one = FileEncryptor::hazmat_with_file_key(&key);
            one.update_in_place(&mut expected).unwrap();

            let mut enc = FileEncryptor::hazmat_with_file_key(&key);
            let mut source = Trickle { data: &data, step };
            let mut got = Vec::new();
            loop {
                let mut buf = vec![0u8; chunk];
                let n = read_encrypted(&mut source, &mut enc, &mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
                if n < chunk {
                    break;
                }
            }
            assert!(got == expected, "chunk {chunk}, reads of {step}");
            assert_eq!(enc.finalize().tag(), one.finalize().tag());
        }
    }

    #[test]
    fn a_slice_encrypts_chunk_by_chunk_exactly_like_a_reader() {
        let data: Vec<u8> = (0..3 * WINDOW + 1000).map(|i| (i % 253) as u8).collect();
        let key = PlainFileKey::from_parts(&[3; 32], [4; 12], [0; 16]);
        for chunk in [1, 4096, WINDOW + 1, data.len(), data.len() + 1] {
            let mut outputs = Vec::new();
            let (mut reader, mut slice) = (FromReader(&data[..]), FromSlice(&data));
            let sources: [&mut dyn Plaintext; 2] = [&mut reader, &mut slice];
            for source in sources {
                let mut enc = FileEncryptor::hazmat_with_file_key(&key);
                let (mut got, mut sizes) = (Vec::new(), Vec::new());
                loop {
                    let mut buf = vec![0u8; chunk];
                    let n = source.encrypt_next(&mut enc, &mut buf).unwrap();
                    got.extend_from_slice(&buf[..n]);
                    sizes.push(n);
                    if n < chunk {
                        break;
                    }
                }
                outputs.push((got, sizes, *enc.finalize().tag()));
            }
            assert!(outputs[0] == outputs[1], "chunk {chunk}");
            assert_ne!(outputs[0].0[..16], data[..16]);
        }
    }

    #[test]
    fn a_declared_size_must_be_the_slices_length() {
        let stream = |size| Stream {
            size,
            chunk_size: 1,
            s3: false,
            cancel: None,
        };
        assert_eq!(stream(None).of_slice(b"abc").unwrap().size, Some(3));
        assert_eq!(stream(Some(3)).of_slice(b"abc").unwrap().size, Some(3));
        assert!(matches!(
            stream(Some(2)).of_slice(b"abc"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(stream(Some(4)).of_slice(b"abc").is_err());
    }

    #[test]
    fn a_failing_source_leaves_no_plaintext_in_the_chunk() {
        struct Fails(usize);
        impl Read for Fails {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk gone"));
                }
                let n = buf.len().min(self.0);
                buf[..n].fill(0xAB);
                self.0 -= n;
                Ok(n)
            }
        }
        let mut enc = FileEncryptor::new().unwrap();
        let mut buf = vec![0u8; 2 * WINDOW];
        let e = read_encrypted(&mut Fails(WINDOW + 10), &mut enc, &mut buf).unwrap_err();
        assert!(matches!(e, Error::Io(_)));
        assert!(buf.iter().all(|&b| b == 0));
    }

    #[test]
    fn the_pool_reuses_a_released_body_and_takes_back_a_held_one_later() {
        let mut pool = ChunkPool::default();
        let mut buf = pool.take();
        buf.resize(64, 1);
        let ptr = buf.as_ptr();
        // Released at once: reused for the next chunk.
        pool.give_back(buf.freeze());
        let buf = pool.take();
        assert_eq!(buf.as_ptr(), ptr);
        // Still held by the transport: the next chunk gets a new buffer ...
        let body = buf.freeze();
        let transport = body.clone();
        pool.give_back(body);
        let mut second = pool.take();
        assert_ne!(second.as_ptr(), ptr);
        second.resize(64, 2);
        // ... and once the transport let go, the held one comes back beside the spare.
        drop(transport);
        pool.give_back(second.freeze());
        let a = pool.take();
        let b = pool.take();
        assert!(a.as_ptr() != b.as_ptr() && [a.as_ptr(), b.as_ptr()].contains(&ptr));
        assert_eq!(pool.take().capacity(), 0, "never more than two");
    }
}
