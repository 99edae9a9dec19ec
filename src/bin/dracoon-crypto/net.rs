//! The network subcommands (CLI.md "Talking to a DRACOON server"): `upload`, `download`,
//! `distribute-keys`, through the crate's transport workflows and its blocking reqwest adapter.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use dracoon_crypto::transport::models::ResolutionStrategy;
use dracoon_crypto::transport::{
    Blocking, BlockingReqwestTransport, Client, DownloadOptions, Event, KeyRing, MissingKeysFilter,
    UploadOptions, UseKey, block_on, rfc3339,
};
use dracoon_crypto::{Password, UserKeyPair, UserPublicKey};

use crate::cli::PasswordArgs;
use crate::error::CliError;
use crate::offline::{read_key_pair_container, read_password, stdout_sink};
use crate::progress::Progress;

type Net = Client<Blocking<BlockingReqwestTransport>>;

/// Where the server is and who we are.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Base URL of the DRACOON server; the API lives under URL/api/v4.
    #[arg(long, value_name = "URL")]
    pub(crate) server: String,
    /// Auth token, sent as `Authorization: Bearer T` (default: DRACOON_AUTH_TOKEN).
    #[arg(long, value_name = "T")]
    pub(crate) auth_token: Option<String>,
    /// Use this key pair file instead of the key pair stored on the server.
    #[arg(long, value_name = "KP.json")]
    pub(crate) keypair: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ResolutionArg {
    Autorename,
    Overwrite,
    Fail,
}

#[derive(Debug, Args)]
pub(crate) struct UploadArgs {
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// Parent room or folder id.
    #[arg(long, value_name = "ID")]
    pub(crate) parent_id: i64,
    /// File to upload.
    #[arg(long = "in", value_name = "FILE")]
    pub(crate) input: PathBuf,
    /// Name of the new file (default: the input's file name).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,
    /// Plaintext bytes per chunk (default 8 MiB; at least 5 MiB with --s3).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..=(1u64 << 32)))]
    pub(crate) chunk_size: Option<u64>,
    /// Upload directly to S3 through presigned URLs.
    #[arg(long)]
    pub(crate) s3: bool,
    /// What to do when the name is taken.
    #[arg(long, value_enum, default_value = "autorename")]
    pub(crate) resolution: ResolutionArg,
}

#[derive(Debug, Args)]
pub(crate) struct DownloadArgs {
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// File id.
    #[arg(long, value_name = "ID")]
    pub(crate) file_id: i64,
    /// Where to write the plaintext; it appears only after the tag verified (`-`: standard
    /// output, streamed; a bad tag then gives exit status 1).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) password: PasswordArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum UseKeyArg {
    #[value(name = "room_rescue_key")]
    RoomRescue,
    #[value(name = "system_rescue_key")]
    SystemRescue,
    #[value(name = "previous_user_key")]
    PreviousUser,
    #[value(name = "previous_room_rescue_key")]
    PreviousRoomRescue,
    #[value(name = "previous_system_rescue_key")]
    PreviousSystemRescue,
}

#[derive(Debug, Args)]
pub(crate) struct DistributeArgs {
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// Only files in this room.
    #[arg(long, value_name = "ID")]
    pub(crate) room_id: Option<i64>,
    /// Only this file.
    #[arg(long, value_name = "ID")]
    pub(crate) file_id: Option<i64>,
    /// Only this target user.
    #[arg(long, value_name = "ID")]
    pub(crate) user_id: Option<i64>,
    /// Which key the listed file keys are wrapped for (the password is then that key pair's).
    #[arg(long, value_enum, value_name = "KIND")]
    pub(crate) use_key: Option<UseKeyArg>,
    #[command(flatten)]
    pub(crate) password: PasswordArgs,
}

/// Replaces control characters (a server's text could hold terminal escapes) by spaces: one
/// line, nothing a terminal interprets.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn client(args: &ServerArgs) -> Result<Net, CliError> {
    client_with(args, None)
}

/// The client; `pairs` (for `distribute-keys`) counts served pairs from the workflow's events.
fn client_with(args: &ServerArgs, pairs: Option<Progress>) -> Result<Net, CliError> {
    let token = match &args.auth_token {
        Some(t) => t.clone(),
        None => std::env::var("DRACOON_AUTH_TOKEN").map_err(|_| {
            CliError::Usage(
                "an auth token is required: --auth-token T or DRACOON_AUTH_TOKEN".into(),
            )
        })?,
    };
    let transport = BlockingReqwestTransport::new().map_err(dracoon_crypto::Error::from)?;
    let client = Client::new(Blocking(transport), &args.server)
        .map_err(|_| {
            CliError::Usage(
                "--server must be an https:// URL (http:// only to a loopback address)".into(),
            )
        })?
        .with_auth_token(&token)
        .with_event_handler(move |e| match e {
            // Warnings only; they never contain URLs, tokens or keys.
            Event::Skipped(s) => {
                let file = s.file_id.map_or("-".into(), |f| f.to_string());
                let user = s.user_id.map_or("-".into(), |u| u.to_string());
                eprintln!(
                    "dracoon-crypto: warning: skipped file {file} user {user}: {}",
                    printable(&s.reason.to_string())
                );
            }
            Event::Distributed { pairs: n } => {
                if let Some(p) = &pairs {
                    p.set(*n);
                }
            }
            _ => {}
        });
    Ok(client)
}

fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    writeln!(out, "{value}")
        .and_then(|()| out.flush())
        .map_err(CliError::io(Path::new("-")))
}

pub(crate) fn upload(args: &UploadArgs) -> Result<(), CliError> {
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| CliError::Usage("--name is needed for this --in".into()))?,
    };
    let file = File::open(&args.input).map_err(CliError::io(&args.input))?;
    let meta = file.metadata().map_err(CliError::io(&args.input))?;
    let net = client(&args.server)?;
    let public = match &args.server.keypair {
        Some(path) => {
            UserPublicKey::from_container(&read_key_pair_container(path)?.public_key_container)?
        }
        None => {
            let kp = block_on(net.preferred_user_key_pair())?;
            UserPublicKey::from_container(&kp.public_key_container)?
        }
    };
    let resolution = match args.resolution {
        ResolutionArg::Autorename => ResolutionStrategy::Autorename,
        ResolutionArg::Overwrite => ResolutionStrategy::Overwrite,
        ResolutionArg::Fail => ResolutionStrategy::Fail,
    };
    let mut options = UploadOptions::new(args.parent_id, &name)
        .size(meta.len())
        .s3(args.s3)
        .resolution(resolution)
        .timestamps(None, meta.modified().ok().map(rfc3339));
    if let Some(c) = args.chunk_size {
        options = options.chunk_size(usize::try_from(c).unwrap_or(usize::MAX));
    }
    let reader = io::BufReader::new(file);
    let progress = Progress::bytes("uploading", Some(meta.len()));
    let uploaded = block_on(net.upload(reader, &public, &options, &mut |p| {
        progress.set(p.bytes);
    }))?;
    progress.finish();
    let node = serde_json::to_value(&uploaded.node).unwrap_or_default();
    print_json(&node)
}

/// Unlocks the key pair from `--keypair`, or the user's key pair of `version` from the server
/// (with the server's lower PBKDF2 iteration cap).
fn own_key_pair(
    net: &Net,
    args: &ServerArgs,
    password: &Password,
    version: Option<dracoon_crypto::UserKeyPairVersion>,
) -> Result<UserKeyPair, CliError> {
    match &args.keypair {
        Some(path) => Ok(read_key_pair_container(path)?.unlock(password)?),
        None => Ok(block_on(net.unlock_user_key_pair(version, password))?),
    }
}

pub(crate) fn download(args: &DownloadArgs) -> Result<(), CliError> {
    let password = read_password(&args.password)?;
    let net = client(&args.server)?;
    let file_key = block_on(net.user_file_key(args.file_id))?;
    let pair = own_key_pair(
        &net,
        &args.server,
        &password,
        Some(file_key.version().key_pair_version()),
    )?;
    let keys = KeyRing::new(vec![pair]);
    let options = DownloadOptions::default();
    let progress = Progress::bytes("downloading", None);
    let mut report = |p: dracoon_crypto::transport::Progress| {
        if let Some(t) = p.total {
            progress.set_total(t);
        }
        progress.set(p.bytes);
    };
    if args.out.as_os_str() == "-" {
        // Verified before the first byte reaches stdout (the ciphertext is spooled meanwhile).
        let mut out = stdout_sink();
        block_on(net.download_to_writer(args.file_id, &keys, &mut out, &options, &mut report))?;
    } else {
        block_on(net.download_to_path(args.file_id, &keys, &args.out, &options, &mut report))?;
    }
    progress.finish();
    Ok(())
}

pub(crate) fn distribute_keys(args: &DistributeArgs) -> Result<(), CliError> {
    let use_key = args.use_key.map(|k| match k {
        UseKeyArg::RoomRescue => UseKey::RoomRescueKey,
        UseKeyArg::SystemRescue => UseKey::SystemRescueKey,
        UseKeyArg::PreviousUser => UseKey::PreviousUserKey,
        UseKeyArg::PreviousRoomRescue => UseKey::PreviousRoomRescueKey,
        UseKeyArg::PreviousSystemRescue => UseKey::PreviousSystemRescueKey,
    });
    if matches!(
        use_key,
        Some(UseKey::RoomRescueKey | UseKey::PreviousRoomRescueKey)
    ) && args.room_id.is_none()
    {
        return Err(CliError::Usage(
            "--use-key room_rescue_key needs --room-id".into(),
        ));
    }
    let password = read_password(&args.password)?;
    let progress = Progress::items("distributing file keys (pairs)", None);
    let net = client_with(&args.server, Some(progress.clone()))?;
    let keys = match (&args.server.keypair, use_key) {
        (Some(path), _) => KeyRing::new(vec![read_key_pair_container(path)?.unlock(&password)?]),
        (None, _) => block_on(net.key_ring(&password, use_key, args.room_id))?,
    };
    let mut filter = MissingKeysFilter::new();
    filter.room_id = args.room_id;
    filter.file_id = args.file_id;
    filter.user_id = args.user_id;
    filter.use_key = use_key;
    let report = block_on(net.distribute_missing_keys(&keys, &filter))?;
    progress.finish();
    print_json(&serde_json::json!({ "distributed": report.distributed }))
}
