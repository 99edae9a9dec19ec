//! Feature `tracing`: the workflows emit spans and events naming the step, the status and the
//! bytes, and never a URL, a token or key material.

use std::io::Write;
use std::sync::{Arc, Mutex};

use dracoon_crypto::transport::{
    Blocking, BlockingReqwestTransport, Client, DownloadOptions, KeyRing, UploadOptions, block_on,
};
use dracoon_crypto::{Password, UserKeyPair, UserKeyPairVersion, encrypt_bytes};
use dracoon_crypto_testkit::TestServer;

/// A `MakeWriter` collecting everything into one buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

#[test]
fn workflows_trace_steps_and_never_secrets() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();

    let pair = UserKeyPair::generate(UserKeyPairVersion::Rsa2048).unwrap();
    let server = TestServer::start().unwrap();
    let user = server.create_user("alice");
    let password = Password::new("trace-Pa55");
    server.add_user_key_pair(
        user.id,
        pair.hazmat_to_container_with_iterations(&password, 1000)
            .unwrap(),
        &pair,
    );
    let room = server.create_room("Traced", true, &[user.id]);
    let (ct, key) = encrypt_bytes(&[9u8; 3000]).unwrap();
    let efk = pair.public_key().wrap_file_key(&key).unwrap();
    let file = server.put_file(room, "t.bin", ct, &key, &[(user.id, efk)]);

    let client = Client::new(
        Blocking(BlockingReqwestTransport::new().unwrap()),
        &server.base_url(),
    )
    .unwrap()
    .with_auth_token(&user.token);
    let keys = KeyRing::new(vec![pair.clone()]);
    tracing::subscriber::with_default(subscriber, || {
        let data = block_on(client.download_to_vec(
            file,
            &keys,
            &DownloadOptions::default().chunk_size(1024),
        ))
        .unwrap();
        assert_eq!(data, vec![9u8; 3000]);
        // Upload chunks of 256 KiB or more are sent from a scoped thread (pipelined): traced
        // all the same.
        block_on(client.upload(
            &vec![7u8; 600_000][..],
            pair.public_key(),
            &UploadOptions::new(room, "up.bin").chunk_size(256 * 1024),
            &mut |_| {},
        ))
        .unwrap();
    });

    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "dracoon.download",
        "dracoon.request",
        "download chunk",
        "status=206",
        "response_bytes=1024",
        "dracoon.upload",
        "upload chunk",
    ] {
        assert!(log.contains(expected), "{expected} missing from:\n{log}");
    }
    let chunk_answers = log
        .lines()
        .filter(|l| {
            l.contains("dracoon.upload") && l.contains("upload chunk") && l.contains("status=")
        })
        .count();
    assert_eq!(
        chunk_answers, 3,
        "every chunk request is traced under the upload's span:\n{log}"
    );
    for secret in [user.token.as_str(), "127.0.0.1", "/downloads/", "Bearer"] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the trace:\n{log}"
        );
    }
}
