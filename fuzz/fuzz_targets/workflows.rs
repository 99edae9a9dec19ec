//! Workflows against a scripted server: each input names a workflow of
//! `dracoon_crypto::transport::Client` (missing-key distribution with filters and `use_key`,
//! chunked and S3 uploads, uploads into a share, downloads to memory, a path or a writer,
//! opening and downloading shares, creating one, key rings and key pair fetches) and a script
//! of HTTP answers (status, `Retry-After`, `ETag`, `Content-Range`, bodies: honest, fixture
//! templates, JSON edits of them, or raw blobs), fed through a `BlockingTransport` whose
//! `sleep` is instant, over the testkit's honest DRACOON model (in memory, one fork per input).
//! See `dracoon_crypto_fuzz::harness` for the server.
//!
//! Oracles:
//! * no panic, and an end within a bound derived from the documented caps (retries of the
//!   policy, `max_requests` of the distribution, the S3 polling timeout, chunks of the source);
//!   more than 20,000 requests is a hang;
//! * a download that reports success returned (or wrote at the path) exactly the plaintext; a
//!   failed `download_to_path` leaves no file; a successful upload stored exactly the
//!   encrypted source under the file key it completed with; a wrong declared size never
//!   succeeds; an opened share has the right file key; a key ring holds only the user's key;
//! * no error (`Display` and `Debug`) and no event contains a secret marker (token, upload,
//!   download and presigned URLs, access key, passwords) unless the server itself put that
//!   text where the crate quotes server text;
//! * `Authorization` (with the right token) only on the authenticated API; no password ever sent;
//!   the model records no client defect (tokens on public URLs, chunks that do not fit, ...);
//! * no sleep longer than the policy's caps or the 2 s polling cap.

#![no_main]

use dracoon_crypto_fuzz::harness;
use dracoon_crypto_fuzz::script::WorkflowInput;
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        dracoon_crypto_fuzz::seed::from_env("workflows");
        let _ = dracoon_crypto_fuzz::api::fixture();
    },
    |data: &[u8]| {
        let Some((input, blobs)) = WorkflowInput::parse(data) else {
            return;
        };
        let _ = harness::run(&input, &blobs);
    }
);
