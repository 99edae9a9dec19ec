//! The Rust API's streaming AES-256-GCM throughput at a given update size, as a reference for
//! the Python binding's benchmark (bindings/python/bench.py runs it):
//!
//! ```text
//! cargo run --release --example gcm_throughput -- [UPDATE_BYTES] [TOTAL_MIB]
//! ```
//!
//! Prints `encrypt GB/s` and `decrypt GB/s` (10^9 bytes/s), best of five runs, each a fresh
//! encryptor over TOTAL_MIB MiB fed through one reused buffer.

use std::time::Instant;

use dracoon_crypto::{FileDecryptor, FileEncryptor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let update: usize = args.next().map_or(Ok(1 << 20), |a| a.parse())?;
    let total_mib: usize = args.next().map_or(Ok(512), |a| a.parse())?;
    let rounds = (total_mib << 20) / update.max(1);
    let mut buf = vec![0x5Au8; update.max(1)];
    let key = FileEncryptor::new()?.finalize();
    let (mut enc_best, mut dec_best) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let t = Instant::now();
        let mut enc = FileEncryptor::new()?;
        for _ in 0..rounds {
            enc.update_in_place(&mut buf)?;
        }
        std::hint::black_box(enc.finalize());
        enc_best = enc_best.min(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let mut dec = FileDecryptor::new(&key);
        for _ in 0..rounds {
            dec.update_in_place(&mut buf)?;
        }
        // The tag of a loop over one buffer does not verify; checking costs the same.
        std::hint::black_box(dec.finalize().is_ok());
        dec_best = dec_best.min(t.elapsed().as_secs_f64());
    }
    let bytes = (rounds * buf.len()) as f64;
    println!("encrypt {:.2} GB/s", bytes / enc_best / 1e9);
    println!("decrypt {:.2} GB/s", bytes / dec_best / 1e9);
    Ok(())
}
