//! API response models: the input bytes go, exactly as the workflows hand an answer body to
//! serde (`serde_json::from_slice`), into every model of `dracoon_crypto::transport::models` the
//! workflows parse, plus the request models that carry keys.
//!
//! Oracles:
//! * no panic, whatever the bytes;
//! * a successful parse re-serialises to JSON that parses to an equal value, and serialising
//!   that again gives the same bytes. Every model is `Serialize`. The one exception to
//!   equality is [`Lenient::Invalid`]: an entry the crate could not read serialises as `null`
//!   (its content is gone by design), so it reads back as `Invalid` with another reason and no
//!   id; those entries are compared as "invalid" only;
//! * a `Lenient::Invalid` reason has at most 160 characters (the documented shortening);
//! * the `Debug` output of the models that hold a secret (upload URL and token, presigned URL,
//!   download URL, share access key) does not depend on that secret.

#![no_main]

use std::fmt::Debug;

use dracoon_crypto::transport::models::{
    AlgorithmVersionInfoList, ChunkUploadResponse, CompleteS3FileUploadRequest,
    CreateDownloadShareRequest, CreateFileUploadResponse, CreateShareUploadChannelResponse,
    DownloadShare, DownloadTokenGenerateResponse, ErrorResponse, Lenient, MissingKeysResponse,
    Node, PresignedUrlList, PublicDownloadShare, PublicUploadShare, PublicUploadedFileData,
    S3FileUploadStatus, UserFileKeyList, UserFileKeySetBatchRequest, UserUserPublicKeyList,
};
use dracoon_crypto::{EncryptedFileKey, UserKeyPairContainer};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fuzz_target!(init: dracoon_crypto_fuzz::seed::from_env("api_models"), |data: &[u8]| {
    // Missing keys, with its lenient lists.
    round_trip_with::<MissingKeysResponse>("MissingKeysResponse", data, |r| {
        blank(&mut r.users);
        blank(&mut r.files);
    });
    // Key pairs: one, or a lenient list.
    round_trip::<UserKeyPairContainer>("UserKeyPairContainer", data);
    round_trip_with::<Vec<Lenient<UserKeyPairContainer>>>("key pair list", data, |v| blank(v));
    // Uploads.
    if let Some(r) = round_trip::<CreateFileUploadResponse>("CreateFileUploadResponse", data) {
        debug_ignores("CreateFileUploadResponse.upload_url", &r, |r| r.upload_url.push('#'));
        debug_ignores("CreateFileUploadResponse.token", &r, |r| {
            r.token = Some(r.token.take().unwrap_or_default() + "#");
        });
    }
    round_trip::<ChunkUploadResponse>("ChunkUploadResponse", data);
    if let Some(r) = round_trip::<PresignedUrlList>("PresignedUrlList", data) {
        for i in 0..r.urls.len() {
            debug_ignores("PresignedUrl.url", &r, |r| r.urls[i].url.push('#'));
        }
    }
    round_trip::<S3FileUploadStatus>("S3FileUploadStatus", data);
    round_trip::<Node>("Node", data);
    // Downloads.
    if let Some(r) = round_trip::<DownloadTokenGenerateResponse>("DownloadTokenGenerateResponse", data) {
        debug_ignores("DownloadTokenGenerateResponse.download_url", &r, |r| {
            r.download_url = Some(r.download_url.take().unwrap_or_default() + "#");
        });
    }
    round_trip::<EncryptedFileKey>("EncryptedFileKey (user file key)", data);
    // Shares.
    if let Some(r) = round_trip::<DownloadShare>("DownloadShare", data) {
        debug_ignores("DownloadShare.access_key", &r, |r| r.access_key.push('#'));
    }
    round_trip::<PublicDownloadShare>("PublicDownloadShare", data);
    round_trip_with::<PublicUploadShare>("PublicUploadShare", data, |r| {
        if let Some(l) = &mut r.user_user_public_key_list {
            blank(&mut l.items);
        }
    });
    round_trip_with::<UserUserPublicKeyList>("UserUserPublicKeyList", data, |r| {
        blank(&mut r.items);
    });
    if let Some(r) =
        round_trip::<CreateShareUploadChannelResponse>("CreateShareUploadChannelResponse", data)
    {
        debug_ignores("CreateShareUploadChannelResponse.upload_url", &r, |r| {
            r.upload_url.push('#');
        });
    }
    round_trip::<PublicUploadedFileData>("PublicUploadedFileData", data);
    // Errors and policies.
    round_trip::<ErrorResponse>("ErrorResponse", data);
    round_trip::<AlgorithmVersionInfoList>("AlgorithmVersionInfoList", data);
    // Request models that carry keys (built by the crate, but Deserialize too).
    round_trip::<UserFileKeySetBatchRequest>("UserFileKeySetBatchRequest", data);
    round_trip::<UserFileKeyList>("UserFileKeyList", data);
    round_trip::<CompleteS3FileUploadRequest>("CompleteS3FileUploadRequest", data);
    round_trip::<CreateDownloadShareRequest>("CreateDownloadShareRequest", data);
});

/// Parses `data` as `M`; on success checks the serialise/parse round trip and returns the value.
fn round_trip<M>(name: &str, data: &[u8]) -> Option<M>
where
    M: DeserializeOwned + Serialize + PartialEq + Debug,
{
    round_trip_with(name, data, |_| {})
}

/// Like [`round_trip`], comparing after `normalize` (which blanks `Lenient::Invalid` entries).
fn round_trip_with<M>(name: &str, data: &[u8], normalize: impl Fn(&mut M)) -> Option<M>
where
    M: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let parsed: M = serde_json::from_slice(data).ok()?;
    let json = serde_json::to_vec(&parsed)
        .unwrap_or_else(|e| panic!("{name}: parsed, but does not serialise: {e}"));
    let back: M = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!(
            "{name}: its own JSON does not parse: {e}\n{}",
            String::from_utf8_lossy(&json)
        )
    });
    let again = serde_json::to_vec(&back).expect("serialised once already");
    assert_eq!(
        String::from_utf8_lossy(&again),
        String::from_utf8_lossy(&json),
        "{name}: serialisation not stable"
    );
    let mut a = parsed;
    let mut b = back;
    normalize(&mut a);
    normalize(&mut b);
    assert_eq!(a, b, "{name}: round trip changed the value");
    Some(a)
}

/// Checks that every `Lenient::Invalid` reason has at most 160 characters, then makes each
/// such entry `Invalid { id: None, reason: "" }`.
fn blank<T>(entries: &mut [Lenient<T>]) {
    for e in entries {
        if let Lenient::Invalid { id, reason } = e {
            assert!(
                reason.chars().count() <= 160,
                "a Lenient reason has more than 160 characters"
            );
            *id = None;
            reason.clear();
        }
    }
}

/// `Debug` of `value` is the same after `change` alters its secret field.
fn debug_ignores<M: Clone + Debug>(what: &str, value: &M, change: impl Fn(&mut M)) {
    let mut other = value.clone();
    change(&mut other);
    assert_eq!(
        format!("{value:?}"),
        format!("{other:?}"),
        "Debug shows {what}"
    );
}
