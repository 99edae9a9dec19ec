//! Command-line definitions (CLI.md is the contract).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// DRACOON client-side encryption: key pairs, file keys and file encryption, byte-compatible
/// with the official DRACOON crypto SDKs.
#[derive(Debug, Parser)]
#[command(name = "dracoon-crypto", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    /// No progress bars (they go to stderr, and only when stderr is a terminal).
    #[arg(long, short = 'q', global = true)]
    pub(crate) quiet: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate a key pair; the private key is encrypted with the password.
    Keygen(KeygenArgs),
    /// Exit 0 when the password unlocks the private key and it matches the public key.
    CheckKeypair(CheckKeypairArgs),
    /// Encrypt a file under a fresh file key and wrap that key for a public key.
    Encrypt(EncryptArgs),
    /// Unwrap the file key and decrypt a file; the output appears only after the tag verified.
    Decrypt(DecryptArgs),
    /// Wrap a plain file key for a public key.
    WrapKey(WrapKeyArgs),
    /// Unwrap an encrypted file key with a key pair.
    UnwrapKey(UnwrapKeyArgs),
    /// Encrypt a file and upload it in chunks (or through S3); prints the new node's JSON.
    Upload(crate::net::UploadArgs),
    /// Download and decrypt a file; the output appears only after the tag verified.
    Download(crate::net::DownloadArgs),
    /// Give every user who misses a file key theirs; prints {"distributed": N}.
    DistributeKeys(crate::net::DistributeArgs),
}

/// Where the password comes from: `--password-file`, else `DRACOON_CRYPTO_PASSWORD`.
#[derive(Debug, Args)]
pub(crate) struct PasswordArgs {
    /// File whose first line (without its line ending) is the password. Without it, the
    /// password is read from the environment variable DRACOON_CRYPTO_PASSWORD.
    #[arg(long, value_name = "FILE")]
    pub(crate) password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum KeyPairVersionArg {
    /// RSA-2048 (legacy)
    #[value(name = "A")]
    A,
    /// RSA-4096
    #[value(name = "RSA-4096")]
    Rsa4096,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Key pair version.
    #[arg(long = "version", value_enum, value_name = "A|RSA-4096")]
    pub(crate) key_version: KeyPairVersionArg,
    /// Key pair file to write (UserKeyPairContainer JSON).
    #[arg(long, value_name = "KP.json")]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) password: PasswordArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CheckKeypairArgs {
    /// Key pair file (UserKeyPairContainer JSON).
    #[arg(long, value_name = "KP.json")]
    pub(crate) keypair: PathBuf,
    #[command(flatten)]
    pub(crate) password: PasswordArgs,
}

#[derive(Debug, Args)]
pub(crate) struct EncryptArgs {
    /// Public key file: a PublicKeyContainer or a whole key pair file.
    #[arg(long, value_name = "PUB.json")]
    pub(crate) public_key: PathBuf,
    /// Plaintext to encrypt (`-`: standard input).
    #[arg(long = "in", value_name = "PLAIN")]
    pub(crate) input: PathBuf,
    /// Ciphertext to write (`-`: standard output).
    #[arg(long, value_name = "CIPHER")]
    pub(crate) out: PathBuf,
    /// Where to write the file key wrapped for the public key (FileKey JSON).
    #[arg(long, value_name = "EFK.json")]
    pub(crate) file_key_out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct DecryptArgs {
    /// Key pair file (UserKeyPairContainer JSON).
    #[arg(long, value_name = "KP.json")]
    pub(crate) keypair: PathBuf,
    /// Encrypted file key (FileKey JSON).
    #[arg(long, value_name = "EFK.json")]
    pub(crate) file_key: PathBuf,
    /// Ciphertext to decrypt (`-`: standard input).
    #[arg(long = "in", value_name = "CIPHER")]
    pub(crate) input: PathBuf,
    /// Plaintext to write (`-`: standard output, streamed; a bad tag then gives exit status 1).
    #[arg(long, value_name = "PLAIN")]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) password: PasswordArgs,
}

#[derive(Debug, Args)]
pub(crate) struct WrapKeyArgs {
    /// Plain file key (FileKey JSON, version A or AES-256-GCM).
    #[arg(long, value_name = "PFK.json")]
    pub(crate) plain_file_key: PathBuf,
    /// Public key file: a PublicKeyContainer or a whole key pair file.
    #[arg(long, value_name = "PUB.json")]
    pub(crate) public_key: PathBuf,
    /// Encrypted file key to write (FileKey JSON).
    #[arg(long, value_name = "EFK.json")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct UnwrapKeyArgs {
    /// Encrypted file key (FileKey JSON).
    #[arg(long, value_name = "EFK.json")]
    pub(crate) file_key: PathBuf,
    /// Key pair file (UserKeyPairContainer JSON).
    #[arg(long, value_name = "KP.json")]
    pub(crate) keypair: PathBuf,
    /// Plain file key to write (FileKey JSON, version A).
    #[arg(long, value_name = "PFK.json")]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) password: PasswordArgs,
}
