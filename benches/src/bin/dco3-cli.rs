//! The peer's CLI equivalent: `encrypt` and `decrypt` of CLI.md written on `dco3_crypto`'s
//! public API (OpenSSL), reading and writing the same key pair and file key JSON files as our
//! `dracoon-crypto` binary, so `cli-race` can time both on the same files, whole process.
//!
//! ```text
//! dco3-cli encrypt --public-key KP --in IN --out OUT|- --file-key-out EFK
//! dco3-cli decrypt --keypair KP --file-key EFK --in IN --out OUT|-   (DRACOON_CRYPTO_PASSWORD)
//! ```
//!
//! It streams 1 MiB at a time, like our CLI, and checks the tag at the end (`dco3_crypto`
//! streams unverified plaintext: it makes one pass; ours makes two when writing to stdout).

use std::fs::File;
use std::io::{self, Read, Write};
use std::process::ExitCode;

use dco3_crypto::{
    DracoonCrypto, DracoonRSACrypto, FileKey, PublicKeyContainer, UserKeyPairContainer,
};

const BUF: usize = 1 << 20;

fn arg(args: &[String], name: &str) -> Result<String, String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .ok_or_else(|| format!("missing {name}"))
}

fn open_in(path: &str) -> Result<Box<dyn Read>, String> {
    if path == "-" {
        Ok(Box::new(io::stdin().lock()))
    } else {
        Ok(Box::new(File::open(path).map_err(|e| e.to_string())?))
    }
}

fn open_out(path: &str) -> Result<Box<dyn Write>, String> {
    if path == "-" {
        Ok(Box::new(io::stdout().lock()))
    } else {
        Ok(Box::new(File::create(path).map_err(|e| e.to_string())?))
    }
}

fn read_fill(input: &mut dyn Read, buf: &mut [u8]) -> Result<usize, String> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(n)
}

fn encrypt(args: &[String]) -> Result<(), String> {
    let json = std::fs::read_to_string(arg(args, "--public-key")?).map_err(|e| e.to_string())?;
    let public: PublicKeyContainer = match serde_json::from_str::<UserKeyPairContainer>(&json) {
        Ok(kp) => kp.public_key_container,
        Err(_) => serde_json::from_str(&json).map_err(|e| e.to_string())?,
    };
    let mut input = open_in(&arg(args, "--in")?)?;
    let mut out = open_out(&arg(args, "--out")?)?;
    let mut enc = DracoonCrypto::file_encryptor().map_err(|e| format!("{e:?}"))?;
    let mut buf = vec![0u8; BUF];
    loop {
        let n = read_fill(&mut input, &mut buf)?;
        if n == 0 {
            break;
        }
        let ct = enc.update(&buf[..n]).map_err(|e| format!("{e:?}"))?;
        out.write_all(&ct).map_err(|e| e.to_string())?;
    }
    let last = enc.finalize().map_err(|e| format!("{e:?}"))?;
    out.write_all(&last.final_chunk)
        .map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    let file_key = DracoonCrypto::encrypt_file_key(last.plain_file_key, public)
        .map_err(|e| format!("{e:?}"))?;
    let text = serde_json::to_string(&file_key).map_err(|e| e.to_string())?;
    std::fs::write(arg(args, "--file-key-out")?, text).map_err(|e| e.to_string())
}

fn decrypt(args: &[String]) -> Result<(), String> {
    let password = std::env::var("DRACOON_CRYPTO_PASSWORD").map_err(|e| e.to_string())?;
    let kp_json = std::fs::read_to_string(arg(args, "--keypair")?).map_err(|e| e.to_string())?;
    let kp: UserKeyPairContainer = serde_json::from_str(&kp_json).map_err(|e| e.to_string())?;
    let fk_json = std::fs::read_to_string(arg(args, "--file-key")?).map_err(|e| e.to_string())?;
    let file_key: FileKey = serde_json::from_str(&fk_json).map_err(|e| e.to_string())?;
    let plain = DracoonCrypto::decrypt_keypair(&password, kp).map_err(|e| format!("{e:?}"))?;
    let mut dec = DracoonCrypto::file_decryptor(file_key, plain).map_err(|e| format!("{e:?}"))?;
    let mut input = open_in(&arg(args, "--in")?)?;
    let mut out = open_out(&arg(args, "--out")?)?;
    let mut buf = vec![0u8; BUF];
    loop {
        let n = read_fill(&mut input, &mut buf)?;
        if n == 0 {
            break;
        }
        let pt = dec.update(&buf[..n]).map_err(|e| format!("{e:?}"))?;
        out.write_all(&pt).map_err(|e| e.to_string())?;
    }
    let last = dec.finalize().map_err(|e| format!("bad_file: {e:?}"))?;
    out.write_all(&last).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("encrypt") => encrypt(&args),
        Some("decrypt") => decrypt(&args),
        _ => Err("usage: dco3-cli encrypt|decrypt ...".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dco3-cli: {e}");
            ExitCode::FAILURE
        }
    }
}
