//! The `dracoon-crypto` command-line tool (see CLI.md).

fn main() {
    std::process::exit(2);
}
