//! The `dracoon-crypto` command-line tool. CLI.md (in the shared docs) is its contract:
//! subcommands, flags, JSON shapes, passwords, exit statuses.

mod cli;
mod error;
mod net;
mod offline;
mod progress;

use clap::Parser;

use cli::{Cli, Command};
use error::CliError;

fn run(cli: &Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Keygen(args) => offline::keygen(args),
        Command::CheckKeypair(args) => offline::check_keypair(args),
        Command::Encrypt(args) => offline::encrypt(args),
        Command::Decrypt(args) => offline::decrypt(args),
        Command::WrapKey(args) => offline::wrap_key(args),
        Command::UnwrapKey(args) => offline::unwrap_key(args),
        Command::Upload(args) => net::upload(args),
        Command::Download(args) => net::download(args),
        Command::DistributeKeys(args) => net::distribute_keys(args),
    }
}

fn main() {
    // Usage errors exit with status 2 (clap's convention, as CLI.md requires).
    let cli = Cli::parse();
    progress::set_quiet(cli.quiet);
    if let Err(e) = run(&cli) {
        // One line, and nothing a terminal would interpret (server messages end up here).
        eprintln!("dracoon-crypto: error: {}", net::printable(&e.to_string()));
        std::process::exit(e.exit_code());
    }
}
