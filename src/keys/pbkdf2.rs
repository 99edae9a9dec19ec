//! PBKDF2 (RFC 8018 §5.2) with HMAC-SHA1 or HMAC-SHA256.
//!
//! A 32-byte key from HMAC-SHA1 takes two output blocks, which are independent: where more
//! than one core is available they are computed in parallel, halving the unlock time of a
//! 1,300,000-iteration private key.
//!
//! HMAC-SHA1, the PRF of every current private key, has a fast path: after the first
//! iteration every HMAC input is the previous 20-byte output, so each iteration is exactly two
//! SHA-1 compressions of one fixed-layout block, starting from the two states that the
//! password's inner and outer pads leave (computed once). That skips the per-iteration HMAC
//! object copies, buffering and padding of the generic path, which HMAC-SHA256 (only in
//! legacy keys with a few thousand iterations) still takes.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha1::block_api::compress as sha1_compress;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// The pseudo-random function of PBKDF2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prf {
    /// hmacWithSHA1, the PKCS#5 default (what every current DRACOON SDK uses).
    HmacSha1,
    /// hmacWithSHA256 (dco3-crypto before 0.8, OpenSSL defaults).
    HmacSha256,
}

/// Below this many iterations a thread costs more than it saves.
const PARALLEL_THRESHOLD: u32 = 20_000;

/// Derives `out.len()` bytes from `password` and `salt`.
pub(crate) fn derive(prf: Prf, password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    match prf {
        Prf::HmacSha1 => {
            let Some(keyed) = keyed::<Hmac<Sha1>>(password) else {
                return;
            };
            let pads = Sha1Pads::new(password);
            run_blocks(20, iterations, out, |index, chunk| {
                sha1_block(&keyed, &pads, salt, iterations, index, chunk);
            });
        }
        Prf::HmacSha256 => {
            let Some(keyed) = keyed::<Hmac<Sha256>>(password) else {
                return;
            };
            run_blocks(32, iterations, out, |index, chunk| {
                block(&keyed, salt, iterations, index, chunk);
            });
        }
    }
}

/// The PRF keyed with `password`. HMAC accepts keys of any length, so this is always `Some`.
fn keyed<M: Mac + KeyInit>(password: &[u8]) -> Option<M> {
    <M as KeyInit>::new_from_slice(password).ok()
}

/// Fills `out` block by block with `block_fn(zero-based index, chunk)`, on one thread per
/// block when there is more than one block, enough work and more than one core.
fn run_blocks<F>(block_len: usize, iterations: u32, out: &mut [u8], block_fn: F)
where
    F: Fn(usize, &mut [u8]) + Sync,
{
    let parallel = out.len() > block_len
        && iterations >= PARALLEL_THRESHOLD
        && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let mut blocks = out.chunks_mut(block_len).enumerate();
    if parallel {
        let block_fn = &block_fn;
        std::thread::scope(|scope| {
            let first = blocks.next();
            for (i, chunk) in blocks {
                scope.spawn(move || block_fn(i, chunk));
            }
            if let Some((i, chunk)) = first {
                block_fn(i, chunk);
            }
        });
    } else {
        for (i, chunk) in blocks {
            block_fn(i, chunk);
        }
    }
}

/// The big-endian block number `INT(i)` of the zero-based block `index`.
fn block_number(index: usize) -> [u8; 4] {
    u32::try_from(index + 1).unwrap_or(u32::MAX).to_be_bytes()
}

/// `T_i = U_1 ^ U_2 ^ ... ^ U_c` with `U_1 = PRF(P, S || INT(i))`, `U_j = PRF(P, U_{j-1})`,
/// truncated to `chunk.len()`; `index` is zero-based. The generic path, for any HMAC.
fn block<M: Mac + Clone>(keyed: &M, salt: &[u8], iterations: u32, index: usize, chunk: &mut [u8]) {
    let mut mac = keyed.clone();
    mac.update(salt);
    mac.update(&block_number(index));
    let mut u = Zeroizing::new(mac.finalize().into_bytes());
    let mut acc = Zeroizing::new(u.clone());
    for _ in 1..iterations {
        let mut mac = keyed.clone();
        mac.update(&u);
        let next = mac.finalize().into_bytes();
        u.copy_from_slice(&next);
        for (a, b) in acc.iter_mut().zip(u.iter()) {
            *a ^= b;
        }
    }
    for (o, a) in chunk.iter_mut().zip(acc.iter()) {
        *o = *a;
    }
    u.as_mut_slice().zeroize();
}

/// SHA-1's initial state (FIPS 180-4 §5.3.1).
const SHA1_IV: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// HMAC-SHA1 keyed with one password, as the two SHA-1 states after absorbing `K ^ ipad` and
/// `K ^ opad` (RFC 2104; `K` is the password, or its SHA-1 digest when longer than 64 bytes,
/// zero-padded to one 64-byte block). Knowing them is as good as knowing the password: wiped
/// on drop.
struct Sha1Pads {
    inner: [u32; 5],
    outer: [u32; 5],
}

impl Sha1Pads {
    fn new(password: &[u8]) -> Self {
        let mut key = Zeroizing::new([0u8; 64]);
        if password.len() > key.len() {
            let digest = Zeroizing::new(<Sha1 as sha1::Digest>::digest(password));
            key[..digest.len()].copy_from_slice(&digest);
        } else {
            key[..password.len()].copy_from_slice(password);
        }
        let mut padded = Zeroizing::new([0u8; 64]);
        let mut state_after = |pad: u8| {
            for (p, k) in padded.iter_mut().zip(key.iter()) {
                *p = k ^ pad;
            }
            let mut state = SHA1_IV;
            sha1_compress(&mut state, std::slice::from_ref(&*padded));
            state
        };
        Sha1Pads {
            inner: state_after(0x36),
            outer: state_after(0x5c),
        }
    }
}

impl Drop for Sha1Pads {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

/// Bit length of every HMAC-SHA1 hash input after the pad block: 64 + 20 bytes.
const SHA1_CHAINED_BITS: u64 = (64 + 20) * 8;

/// [`block`] for HMAC-SHA1: `U_1` through the generic HMAC (the salt has any length), then
/// every further `U_j` as two compressions of a single block that holds `U_{j-1}` (or the inner
/// hash) followed by SHA-1's fixed padding for an 84-byte message.
fn sha1_block(
    keyed: &Hmac<Sha1>,
    pads: &Sha1Pads,
    salt: &[u8],
    iterations: u32,
    index: usize,
    chunk: &mut [u8],
) {
    let mut mac = keyed.clone();
    mac.update(salt);
    mac.update(&block_number(index));
    let u1 = Zeroizing::new(mac.finalize().into_bytes());

    // msg = U (20 bytes) || 0x80 || zeros || 64-bit big-endian bit length
    let mut msg = Zeroizing::new([0u8; 64]);
    msg[..20].copy_from_slice(&u1);
    msg[20] = 0x80;
    msg[56..].copy_from_slice(&SHA1_CHAINED_BITS.to_be_bytes());

    let mut acc = Zeroizing::new([0u32; 5]);
    for (a, word) in acc.iter_mut().zip(u1.chunks_exact(4)) {
        *a = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
    }
    let mut state = Zeroizing::new([0u32; 5]);
    for _ in 1..iterations {
        // inner hash: H((K ^ ipad) || U_{j-1})
        *state = pads.inner;
        sha1_compress(&mut state, std::slice::from_ref(&*msg));
        put_words(&mut msg[..], &state);
        // U_j = H((K ^ opad) || inner hash)
        *state = pads.outer;
        sha1_compress(&mut state, std::slice::from_ref(&*msg));
        put_words(&mut msg[..], &state);
        for (a, s) in acc.iter_mut().zip(state.iter()) {
            *a ^= s;
        }
    }

    let mut t = Zeroizing::new([0u8; 20]);
    put_words(&mut t[..], &acc);
    for (o, b) in chunk.iter_mut().zip(t.iter()) {
        *o = *b;
    }
}

/// Writes the five state words big-endian into the first 20 bytes of `out`.
fn put_words(out: &mut [u8], words: &[u32; 5]) {
    for (dst, w) in out.chunks_exact_mut(4).zip(words) {
        dst.copy_from_slice(&w.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rfc6070_vectors() {
        let mut out = [0u8; 20];
        derive(Prf::HmacSha1, b"password", b"salt", 1, &mut out);
        assert_eq!(hex(&out), "0c60c80f961f0e71f3a9b524af6012062fe037a6");
        derive(Prf::HmacSha1, b"password", b"salt", 4096, &mut out);
        assert_eq!(hex(&out), "4b007901b765489abead49d926f721d065a429c1");
        let mut out = [0u8; 25];
        derive(
            Prf::HmacSha1,
            b"passwordPASSWORDpassword",
            b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
            4096,
            &mut out,
        );
        assert_eq!(
            hex(&out),
            "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"
        );
        let mut out = [0u8; 20];
        derive(Prf::HmacSha1, b"password", b"salt", 2, &mut out);
        assert_eq!(hex(&out), "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
        let mut out = [0u8; 16];
        derive(Prf::HmacSha1, b"pass\0word", b"sa\0lt", 4096, &mut out);
        assert_eq!(hex(&out), "56fa6aa75548099dcc37d7f03425e0c3");
    }

    #[test]
    #[ignore = "16,777,216 iterations: a few seconds"]
    fn rfc6070_long_vector() {
        let mut out = [0u8; 20];
        derive(Prf::HmacSha1, b"password", b"salt", 16_777_216, &mut out);
        assert_eq!(hex(&out), "eefe3d61cd4da4e4e9945b3d6ba2158c2634e984");
    }

    #[test]
    fn sha1_fast_path_equals_generic_hmac() {
        // Passwords around the 64-byte HMAC block (longer ones are hashed first), salts of
        // several lengths, the first few iteration counts and block numbers.
        let bytes: Vec<u8> = (0..130u8).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        for pw_len in [0, 1, 19, 20, 55, 63, 64, 65, 130] {
            let password = &bytes[..pw_len];
            let keyed = <Hmac<Sha1> as KeyInit>::new_from_slice(password).unwrap();
            let pads = Sha1Pads::new(password);
            for salt in [&b""[..], b"salt", &bytes[7..107]] {
                for iterations in [1, 2, 3, 17] {
                    for index in [0, 1, 7] {
                        let mut generic = [0u8; 20];
                        let mut fast = [0u8; 20];
                        block(&keyed, salt, iterations, index, &mut generic);
                        sha1_block(&keyed, &pads, salt, iterations, index, &mut fast);
                        assert_eq!(
                            fast,
                            generic,
                            "password {pw_len} bytes, salt {} bytes, {iterations} iterations, \
                             block {index}",
                            salt.len()
                        );
                    }
                }
            }
        }
        // A truncated last block takes the leading bytes.
        let keyed = <Hmac<Sha1> as KeyInit>::new_from_slice(b"pw").unwrap();
        let pads = Sha1Pads::new(b"pw");
        let mut generic = [0u8; 12];
        let mut fast = [0u8; 12];
        block(&keyed, b"salt", 5, 1, &mut generic);
        sha1_block(&keyed, &pads, b"salt", 5, 1, &mut fast);
        assert_eq!(fast, generic);
    }

    #[test]
    fn parallel_equals_serial() {
        // 32 bytes of HMAC-SHA1 = two blocks, above the threshold: runs on two threads where
        // possible (on the fast SHA-1 path); compare against block-by-block computation on the
        // generic HMAC path.
        let mut par = [0u8; 32];
        derive(
            Prf::HmacSha1,
            b"pw",
            b"0123456789abcdefghij",
            PARALLEL_THRESHOLD,
            &mut par,
        );
        let keyed = <Hmac<Sha1> as KeyInit>::new_from_slice(b"pw").unwrap();
        let mut serial = [0u8; 32];
        let (a, b) = serial.split_at_mut(20);
        block(&keyed, b"0123456789abcdefghij", PARALLEL_THRESHOLD, 0, a);
        block(&keyed, b"0123456789abcdefghij", PARALLEL_THRESHOLD, 1, b);
        assert_eq!(par, serial);
    }

    #[test]
    fn sha256_vector() {
        // RFC 7914 §11 (PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, dkLen=64)
        let mut out = [0u8; 64];
        derive(Prf::HmacSha256, b"passwd", b"salt", 1, &mut out);
        assert_eq!(
            hex(&out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        );
    }
}
