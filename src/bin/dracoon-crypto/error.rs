//! How the CLI fails: one line on stderr naming the failure class, and an exit status
//! (1: cryptographic or data failure, unreadable input, unwritable output; 2: usage).

use std::fmt;
use std::path::{Path, PathBuf};

pub(crate) enum CliError {
    /// Bad or missing flags (exit status 2).
    Usage(String),
    /// A failure reported by the library.
    Crypto(dracoon_crypto::Error),
    /// A file could not be read or written.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl CliError {
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Crypto(_) | CliError::Io { .. } => 1,
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
        move |error| CliError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

impl From<dracoon_crypto::Error> for CliError {
    fn from(e: dracoon_crypto::Error) -> Self {
        CliError::Crypto(e)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(msg) => write!(f, "usage: {msg}"),
            CliError::Crypto(dracoon_crypto::Error::Io(e)) => write!(f, "io: {e}"),
            CliError::Crypto(e) => write!(f, "{}: {e}", e.class()),
            CliError::Io { path, error } => write!(f, "io: {}: {error}", path.display()),
        }
    }
}
