//! The CLI's network commands (CLI.md) against the in-process DRACOON test server: `upload`
//! (chunked and `--s3`), `download`, `distribute-keys` (own keys and a room rescue key), exit
//! statuses and JSON output.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use dracoon_crypto::{
    Password, UserKeyPair, UserKeyPairContainer, UserKeyPairVersion, encrypt_bytes,
};
use dracoon_crypto_testkit::{Fault, TestServer, TestUser};

const BIN: &str = env!("CARGO_BIN_EXE_dracoon-crypto");

fn pairs() -> &'static [UserKeyPair] {
    static P: OnceLock<Vec<UserKeyPair>> = OnceLock::new();
    P.get_or_init(|| {
        let h: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| UserKeyPair::generate(UserKeyPairVersion::Rsa2048).unwrap())
            })
            .collect();
        h.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn container(i: usize) -> UserKeyPairContainer {
    pairs()[i]
        .hazmat_to_container_with_iterations(&Password::new(format!("pw{i}")), 1000)
        .unwrap()
}

struct World {
    server: TestServer,
    users: Vec<TestUser>,
    room: i64,
    dir: tempfile::TempDir,
}

fn world() -> World {
    let server = TestServer::start().unwrap();
    let mut users = Vec::new();
    for (i, login) in ["alice", "bob", "carol"].iter().enumerate() {
        let u = server.create_user(login);
        server.add_user_key_pair(u.id, container(i), &pairs()[i]);
        users.push(u);
    }
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let room = server.create_room("Legal", true, &ids);
    World {
        server,
        users,
        room,
        dir: tempfile::tempdir().unwrap(),
    }
}

/// The CLI as `user`, with password `pw{i}` in a file, no token in argv (the environment).
fn cli(w: &World, user: usize) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("DRACOON_AUTH_TOKEN", &w.users[user].token)
        .env("DRACOON_CRYPTO_PASSWORD", format!("pw{user}"));
    c
}

fn run(c: &mut Command) -> Output {
    c.output().unwrap()
}

fn stdout_json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "exit {:?}, stderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn path(w: &World, name: &str) -> String {
    w.dir.path().join(name).to_string_lossy().into_owned()
}

fn write(p: &str, data: &[u8]) {
    std::fs::write(Path::new(p), data).unwrap();
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn upload_distribute_download_round_trip() {
    let w = world();
    let input = path(&w, "report.pdf");
    let plain = data(3 * 1024 * 1024 + 11);
    write(&input, &plain);
    w.server.inject(Fault::Status {
        method: "POST",
        path_prefix: "/uploads/".into(),
        status: 503,
        retry_after: Some(0),
        count: 1,
    });
    let url = w.server.base_url();
    let room = w.room.to_string();
    let o = run(cli(&w, 0).args([
        "upload",
        "--server",
        &url,
        "--parent-id",
        &room,
        "--in",
        &input,
        "--chunk-size",
        "1000000",
    ]));
    let node = stdout_json(&o);
    assert_eq!(node["name"], "report.pdf");
    assert_eq!(node["type"], "file");
    let id = node["id"].as_i64().unwrap();

    // Bob cannot read it yet: -40761, exit 1, one line naming the class.
    let out = path(&w, "bob.pdf");
    let id_s = id.to_string();
    let o = run(cli(&w, 1).args([
        "download",
        "--server",
        &url,
        "--file-id",
        &id_s,
        "--out",
        &out,
    ]));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("api") && err.contains("-40761"), "{err}");
    assert!(!err.contains(&w.users[1].token));
    assert!(!Path::new(&out).exists());

    // Alice distributes (password from a file this time).
    let pw = path(&w, "pw.txt");
    write(&pw, b"pw0\r\n");
    let o = run(cli(&w, 0).env_remove("DRACOON_CRYPTO_PASSWORD").args([
        "distribute-keys",
        "--server",
        &url,
        "--room-id",
        &room,
        "--password-file",
        &pw,
    ]));
    assert_eq!(stdout_json(&o), serde_json::json!({"distributed": 2}));

    let o = run(cli(&w, 1).args([
        "download",
        "--server",
        &url,
        "--file-id",
        &id_s,
        "--out",
        &out,
    ]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&out).unwrap() == plain);

    // Carol streams it to stdout.
    let o = run(cli(&w, 2).args([
        "download",
        "--server",
        &url,
        "--file-id",
        &id_s,
        "--out",
        "-",
    ]));
    assert!(o.status.success());
    assert!(o.stdout == plain);

    // A wrong password: exit 1, nothing written.
    let out2 = path(&w, "wrong.pdf");
    let o = run(cli(&w, 1).env("DRACOON_CRYPTO_PASSWORD", "nope").args([
        "download",
        "--server",
        &url,
        "--file-id",
        &id_s,
        "--out",
        &out2,
    ]));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrong_password"));
    assert!(!Path::new(&out2).exists());
    assert!(
        w.server.violations().is_empty(),
        "{:?}",
        w.server.violations()
    );
}

#[test]
fn s3_upload_resolution_and_keypair_file() {
    let w = world();
    let url = w.server.base_url();
    let room = w.room.to_string();
    let input = path(&w, "big.bin");
    let plain = data(6 * 1024 * 1024);
    write(&input, &plain);
    let kp = path(&w, "kp.json");
    write(&kp, container(0).to_json().as_bytes());
    let o = run(cli(&w, 0).args([
        "upload",
        "--server",
        &url,
        "--parent-id",
        &room,
        "--in",
        &input,
        "--s3",
        "--name",
        "s3.bin",
        "--keypair",
        &kp,
    ]));
    let node = stdout_json(&o);
    assert_eq!(node["name"], "s3.bin");
    let id_s = node["id"].as_i64().unwrap().to_string();
    // Same name, --resolution fail: 409, exit 1.
    let o = run(cli(&w, 0).args([
        "upload",
        "--server",
        &url,
        "--parent-id",
        &room,
        "--in",
        &input,
        "--name",
        "s3.bin",
        "--resolution",
        "fail",
    ]));
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = path(&w, "back.bin");
    let o = run(cli(&w, 0).args([
        "download",
        "--server",
        &url,
        "--file-id",
        &id_s,
        "--out",
        &out,
        "--keypair",
        &kp,
    ]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&out).unwrap() == plain);
    assert!(
        w.server.violations().is_empty(),
        "{:?}",
        w.server.violations()
    );
}

#[test]
fn distribute_with_room_rescue_key_and_usage_errors() {
    let w = world();
    let url = w.server.base_url();
    let room = w.room.to_string();
    w.server
        .set_room_rescue_key_pair(w.room, container(3), &pairs()[3]);
    let (ct, key) = encrypt_bytes(b"minutes").unwrap();
    let mine = pairs()[3].public_key().wrap_file_key(&key).unwrap();
    // Only the room rescue key has the file key (user id -room for the server).
    let file = w
        .server
        .put_file(w.room, "m.txt", ct, &key, &[(-w.room, mine)]);
    let o = run(cli(&w, 1).env("DRACOON_CRYPTO_PASSWORD", "pw3").args([
        "distribute-keys",
        "--server",
        &url,
        "--room-id",
        &room,
        "--use-key",
        "room_rescue_key",
    ]));
    assert_eq!(stdout_json(&o), serde_json::json!({"distributed": 3}));
    for u in &w.users {
        assert!(w.server.file_key(file, u.id).is_some());
    }
    // Usage errors: exit 2.
    let o = run(cli(&w, 1).args([
        "distribute-keys",
        "--server",
        &url,
        "--use-key",
        "room_rescue_key",
    ]));
    assert_eq!(o.status.code(), Some(2));
    let o = run(Command::new(BIN)
        .env_clear()
        .env("DRACOON_CRYPTO_PASSWORD", "x")
        .args(["distribute-keys", "--server", &url]));
    assert_eq!(o.status.code(), Some(2), "no token");
    let o = run(cli(&w, 1).args(["upload", "--server", &url, "--in", "x"]));
    assert_eq!(o.status.code(), Some(2), "no --parent-id");
    // Nothing to do: 0.
    let o = run(cli(&w, 0).args(["distribute-keys", "--server", &url]));
    assert_eq!(stdout_json(&o), serde_json::json!({"distributed": 0}));
    assert!(
        w.server.violations().is_empty(),
        "{:?}",
        w.server.violations()
    );
}
