//! The offline subcommands: key pairs, file keys, file encryption.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use dracoon_crypto::{
    AtomicFile, EncryptedFileKey, Password, PlainFileKey, PublicKeyContainer, UserKeyPair,
    UserKeyPairContainer, UserKeyPairVersion, UserPublicKey, decrypt_seekable, decrypt_stream,
    decrypt_to_path, encrypt_stream,
};

use crate::cli::{
    CheckKeypairArgs, DecryptArgs, EncryptArgs, KeyPairVersionArg, KeygenArgs, PasswordArgs,
    UnwrapKeyArgs, WrapKeyArgs,
};
use crate::error::CliError;
use crate::progress::{Counted, Progress};

/// Largest JSON input read (key pairs and file keys are a few KiB).
const MAX_JSON_INPUT: u64 = 1024 * 1024;

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads the password: the first line of `--password-file` (without LF or CRLF, no other
/// trimming), else `DRACOON_CRYPTO_PASSWORD`.
pub(crate) fn read_password(args: &PasswordArgs) -> Result<Password, CliError> {
    if let Some(path) = &args.password_file {
        let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(CliError::io(path))?);
        let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = std::str::from_utf8(line).map_err(|_| CliError::Io {
            path: path.clone(),
            error: io::Error::new(io::ErrorKind::InvalidData, "the password is not UTF-8"),
        })?;
        return Ok(Password::new(text));
    }
    match std::env::var("DRACOON_CRYPTO_PASSWORD") {
        Ok(pw) => Ok(Password::new(pw)),
        Err(std::env::VarError::NotUnicode(_)) => Err(CliError::Usage(
            "DRACOON_CRYPTO_PASSWORD is not valid UTF-8".into(),
        )),
        Err(std::env::VarError::NotPresent) => Err(CliError::Usage(
            "a password is required: --password-file FILE or DRACOON_CRYPTO_PASSWORD".into(),
        )),
    }
}

/// Reads a (small) JSON file.
pub(crate) fn read_json(path: &Path) -> Result<String, CliError> {
    let mut text = String::new();
    File::open(path)
        .and_then(|f| f.take(MAX_JSON_INPUT + 1).read_to_string(&mut text))
        .map_err(CliError::io(path))?;
    if text.len() as u64 > MAX_JSON_INPUT {
        return Err(CliError::Io {
            path: path.to_path_buf(),
            error: io::Error::new(io::ErrorKind::InvalidData, "file too large for a key file"),
        });
    }
    Ok(text)
}

/// Reads a public key file: a PublicKeyContainer or a whole key pair file.
pub(crate) fn read_public_key(path: &Path) -> Result<UserPublicKey, CliError> {
    let container = PublicKeyContainer::from_json(&read_json(path)?)?;
    Ok(UserPublicKey::from_container(&container)?)
}

pub(crate) fn read_key_pair_container(path: &Path) -> Result<UserKeyPairContainer, CliError> {
    Ok(UserKeyPairContainer::from_json(&read_json(path)?)?)
}

fn open_input(path: &Path) -> Result<Box<dyn Read>, CliError> {
    if is_stdio(path) {
        Ok(Box::new(io::stdin().lock()))
    } else {
        Ok(Box::new(File::open(path).map_err(CliError::io(path))?))
    }
}

/// Starts an output file that appears only on commit.
fn atomic(path: &Path) -> Result<AtomicFile, CliError> {
    AtomicFile::new(path).map_err(|e| match e {
        dracoon_crypto::Error::Io(error) => CliError::Io {
            path: path.to_path_buf(),
            error,
        },
        other => CliError::Crypto(other),
    })
}

/// Writes a small text output atomically (or to stdout for `-`).
fn write_text(path: &Path, text: &str) -> Result<(), CliError> {
    if is_stdio(path) {
        let mut out = io::stdout().lock();
        return out
            .write_all(text.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush())
            .map_err(CliError::io(path));
    }
    let mut file = atomic(path)?;
    file.file()
        .write_all(text.as_bytes())
        .and_then(|()| file.file().write_all(b"\n"))
        .map_err(CliError::io(path))?;
    file.commit()?;
    Ok(())
}

pub(crate) fn keygen(args: &KeygenArgs) -> Result<(), CliError> {
    let password = read_password(&args.password)?;
    let version = match args.key_version {
        KeyPairVersionArg::A => UserKeyPairVersion::Rsa2048,
        KeyPairVersionArg::Rsa4096 => UserKeyPairVersion::Rsa4096,
    };
    let key_pair = UserKeyPair::generate(version)?;
    let container = key_pair.to_container(&password)?;
    write_text(&args.out, &container.to_json())
}

pub(crate) fn check_keypair(args: &CheckKeypairArgs) -> Result<(), CliError> {
    let password = read_password(&args.password)?;
    read_key_pair_container(&args.keypair)?.unlock(&password)?;
    Ok(())
}

pub(crate) fn encrypt(args: &EncryptArgs) -> Result<(), CliError> {
    let public = read_public_key(&args.public_key)?;
    let total = input_len(&args.input);
    let progress = Progress::bytes("encrypting", total);
    let input = Counted {
        inner: open_input(&args.input)?,
        progress: &progress,
    };
    let mut key_file = atomic(&args.file_key_out)?;
    let (file_key, ciphertext) = if is_stdio(&args.out) {
        (encrypt_stream(input, stdout_sink())?, None)
    } else {
        let mut out = atomic(&args.out)?;
        (encrypt_stream(input, out.file())?, Some(out))
    };
    let wrapped = public.wrap_file_key(&file_key)?;
    key_file
        .file()
        .write_all(format!("{}\n", wrapped.to_json()).as_bytes())
        .map_err(CliError::io(&args.file_key_out))?;
    if let Some(out) = ciphertext {
        out.commit()?;
    }
    key_file.commit()?;
    progress.finish();
    Ok(())
}

/// The size of a regular input file, for the progress bar (`None` for stdin and pipes).
fn input_len(path: &Path) -> Option<u64> {
    if is_stdio(path) {
        return None;
    }
    std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
}

/// Unwraps the file key in `file_key_path` with the key pair in `keypair_path`. The versions
/// are compared before the password is used.
fn unwrap(
    keypair_path: &Path,
    file_key_path: &Path,
    password: &PasswordArgs,
) -> Result<PlainFileKey, CliError> {
    let password = read_password(password)?;
    let container = read_key_pair_container(keypair_path)?;
    let file_key = EncryptedFileKey::from_json(&read_json(file_key_path)?)?;
    Ok(container
        .private_key_container
        .unwrap_file_key(&file_key, &password)?)
}

pub(crate) fn decrypt(args: &DecryptArgs) -> Result<(), CliError> {
    let file_key = unwrap(&args.keypair, &args.file_key, &args.password)?;
    if !is_stdio(&args.out) {
        // The file appears only after the tag verified (one pass into a temporary file).
        let progress = Progress::bytes("decrypting", input_len(&args.input));
        let input = Counted {
            inner: open_input(&args.input)?,
            progress: &progress,
        };
        decrypt_to_path(input, &args.out, &file_key)?;
        progress.finish();
        return Ok(());
    }
    // Not one plaintext byte reaches stdout before the tag verified: a regular file is read
    // twice (GHASH, then decryption), anything else is spooled first.
    let mut stdout = stdout_sink();
    let input = if is_stdio(&args.input) {
        stdin_source()
    } else {
        Source::from_file(File::open(&args.input).map_err(CliError::io(&args.input))?)
    };
    match input {
        Source::Seekable(file) => {
            // Both passes read the file: the bar counts twice its size.
            let total = file.metadata().ok().map(|m| 2 * m.len());
            let progress = Progress::bytes("verifying, then decrypting", total);
            let counted = Counted {
                inner: file,
                progress: &progress,
            };
            decrypt_seekable(counted, &mut stdout, &file_key)?;
            progress.finish();
        }
        Source::Stream(reader) => {
            let progress = Progress::bytes("spooling and verifying", None);
            let counted = Counted {
                inner: reader,
                progress: &progress,
            };
            decrypt_stream(counted, &mut stdout, &file_key)?;
            progress.finish();
        }
    }
    Ok(())
}

/// An input: a regular file (read twice) or a stream (spooled).
enum Source {
    Seekable(File),
    Stream(Box<dyn Read>),
}

impl Source {
    fn from_file(file: File) -> Source {
        match file.metadata() {
            Ok(m) if m.is_file() => Source::Seekable(file),
            _ => Source::Stream(Box::new(file)),
        }
    }
}

/// Standard input: a regular file when it was redirected from one (`< FILE`), else a stream.
fn stdin_source() -> Source {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() {
            return Source::from_file(File::from(fd));
        }
    }
    Source::Stream(Box::new(io::stdin().lock()))
}

/// Standard output for bulk data, unbuffered: straight to the file descriptor on Unix (no line
/// buffering to scan through), else the locked `Stdout`.
pub(crate) fn stdout_sink() -> Box<dyn Write> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let mut out = io::stdout().lock();
        if out.flush().is_ok()
            && let Ok(fd) = out.as_fd().try_clone_to_owned()
        {
            return Box::new(File::from(fd));
        }
    }
    Box::new(io::stdout().lock())
}

pub(crate) fn wrap_key(args: &WrapKeyArgs) -> Result<(), CliError> {
    let plain = PlainFileKey::from_json(&read_json(&args.plain_file_key)?)?;
    let public = read_public_key(&args.public_key)?;
    write_text(&args.out, &public.wrap_file_key(&plain)?.to_json())
}

pub(crate) fn unwrap_key(args: &UnwrapKeyArgs) -> Result<(), CliError> {
    let plain = unwrap(&args.keypair, &args.file_key, &args.password)?;
    write_text(&args.out, &plain.to_json())
}
