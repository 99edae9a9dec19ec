//! The one-block kernels both vector widths share: the AES-256 key schedule and single-block
//! encryption with AES-NI, and one-block POLYVAL multiplication with PCLMULQDQ. They enable
//! only `avx` (for VEX encodings next to the vector code), `aes` and `pclmulqdq`, which every
//! [`super::Isa`] implies, so they inline into either width's kernels.

use core::arch::x86_64::*;

use zeroize::Zeroize;

use super::{STRIDE, State};

/// `x^128 mod (x^128 + x^127 + x^126 + x^121 + 1)` without its constant term, shifted down by
/// 64: the multiplier that folds 64 bits of a POLYVAL product (see [`reduce128`]).
pub(super) const POLY: u64 = 0xc200_0000_0000_0000;

#[inline]
#[target_feature(enable = "avx,aes,pclmulqdq")]
pub(super) fn load128(b: &[u8; 16]) -> __m128i {
    // SAFETY: `b` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx,aes,pclmulqdq")]
pub(super) fn store128(b: &mut [u8; 16], v: __m128i) {
    // SAFETY: `b` is 16 writable bytes; `storeu` has no alignment requirement.
    unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), v) }
}

/// Byte-reverses a 128-bit value.
#[inline]
#[target_feature(enable = "avx,aes,pclmulqdq")]
pub(super) fn rev128(v: __m128i) -> __m128i {
    _mm_shuffle_epi8(
        v,
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    )
}

/// One step of the AES-256 key schedule: round key `i` from round key `i - 2` (`prev`) and the
/// word derived from round key `i - 1` by `aeskeygenassist`, broadcast (`assist`): each word
/// is the XOR of `assist` and all of `prev`'s words up to its own.
#[inline]
#[target_feature(enable = "avx,aes,pclmulqdq")]
fn key_step(prev: __m128i, assist: __m128i) -> __m128i {
    let mut k = prev;
    let mut t = _mm_slli_si128::<4>(prev);
    k = _mm_xor_si128(k, t);
    t = _mm_slli_si128::<4>(t);
    k = _mm_xor_si128(k, t);
    t = _mm_slli_si128::<4>(t);
    k = _mm_xor_si128(k, t);
    _mm_xor_si128(k, assist)
}

/// The AES-256 key schedule (FIPS 197 §5.2) with AES-NI.
#[target_feature(enable = "avx,aes,pclmulqdq")]
fn expand_key(key: &[u8; 32], rk: &mut [[u8; 16]; 15]) {
    let mut lo = [0u8; 16];
    let mut hi = [0u8; 16];
    lo.copy_from_slice(&key[..16]);
    hi.copy_from_slice(&key[16..]);
    let mut a = load128(&lo);
    let mut b = load128(&hi);
    lo.zeroize();
    hi.zeroize();
    store128(&mut rk[0], a);
    store128(&mut rk[1], b);
    macro_rules! even {
        ($i:expr, $rcon:expr) => {
            // RotWord(SubWord(last word of b)) ^ rcon, broadcast to all words.
            a = key_step(
                a,
                _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>(b)),
            );
            store128(&mut rk[$i], a);
        };
    }
    macro_rules! odd {
        ($i:expr) => {
            // SubWord(last word of a), no rotation, no round constant.
            b = key_step(
                b,
                _mm_shuffle_epi32::<0xaa>(_mm_aeskeygenassist_si128::<0>(a)),
            );
            store128(&mut rk[$i], b);
        };
    }
    even!(2, 0x01);
    odd!(3);
    even!(4, 0x02);
    odd!(5);
    even!(6, 0x04);
    odd!(7);
    even!(8, 0x08);
    odd!(9);
    even!(10, 0x10);
    odd!(11);
    even!(12, 0x20);
    odd!(13);
    even!(14, 0x40);
}

/// Encrypts one block with AES-NI.
#[target_feature(enable = "avx,aes,pclmulqdq")]
pub(super) fn encrypt_block(rk: &[[u8; 16]; 15], block: &mut [u8; 16]) {
    let mut x = _mm_xor_si128(load128(block), load128(&rk[0]));
    for k in &rk[1..14] {
        x = _mm_aesenc_si128(x, load128(k));
    }
    x = _mm_aesenclast_si128(x, load128(&rk[14]));
    store128(block, x);
}

/// Reduces the 256-bit carry-less product `hi * x^128 + mi * x^64 + lo` to
/// `product * x^-128 mod P` (POLYVAL's product).
///
/// With `P = x^128 + q`, `q = x^127 + x^126 + x^121 + 1`, the low 64 bits `t` of a value `v`
/// are cancelled by adding `t * P`; since `q`'s low 64 bits are just `1`, that gives
/// `v * x^-64 = swap64(v) + t * (x^63 + x^62 + x^57)` where `swap64` exchanges the 64-bit halves
/// and `x^63 + x^62 + x^57` is [`POLY`]. Folding `lo` this way lands it on `mi`'s weight; one
/// more fold of the sum lands it on `hi`'s. The vector kernels do the same in every lane.
#[inline]
#[target_feature(enable = "avx,aes,pclmulqdq")]
pub(super) fn reduce128(lo: __m128i, mi: __m128i, hi: __m128i) -> __m128i {
    let poly = _mm_set_epi64x(0, POLY as i64);
    let t = _mm_clmulepi64_si128::<0x00>(lo, poly);
    let m = _mm_xor_si128(_mm_xor_si128(mi, _mm_shuffle_epi32::<0x4e>(lo)), t);
    let u = _mm_clmulepi64_si128::<0x00>(m, poly);
    _mm_xor_si128(_mm_xor_si128(hi, _mm_shuffle_epi32::<0x4e>(m)), u)
}

/// `a * b * x^-128` in POLYVAL's field, one 128-bit value.
#[inline]
#[target_feature(enable = "avx,aes,pclmulqdq")]
fn polyval_mul(a: __m128i, b: __m128i) -> __m128i {
    let lo = _mm_clmulepi64_si128::<0x00>(a, b);
    let hi = _mm_clmulepi64_si128::<0x11>(a, b);
    let mi = _mm_xor_si128(
        _mm_clmulepi64_si128::<0x01>(a, b),
        _mm_clmulepi64_si128::<0x10>(a, b),
    );
    reduce128(lo, mi, hi)
}

/// Computes the round keys, the powers of H and the tag mask.
#[target_feature(enable = "avx,aes,pclmulqdq")]
pub(super) fn setup(st: &mut State, key: &[u8; 32]) {
    expand_key(key, &mut st.rk);

    let mut h = [0u8; 16];
    encrypt_block(&st.rk, &mut h);
    // rev(H) as an integer is H read big-endian; multiply it by x modulo POLYVAL's polynomial.
    let v = u128::from_be_bytes(h);
    let carry = v >> 127;
    let h1 = (v << 1) ^ (carry * 0xc200_0000_0000_0000_0000_0000_0000_0001);
    h = h1.to_le_bytes();
    let h1 = load128(&h);
    h.zeroize();

    let mut power = h1;
    store128(&mut st.hpow[STRIDE - 1], power);
    for i in (0..STRIDE - 1).rev() {
        power = polyval_mul(power, h1);
        store128(&mut st.hpow[i], power);
    }

    let mut j0 = [0u8; 16];
    j0[..12].copy_from_slice(&st.iv);
    j0[15] = 1;
    encrypt_block(&st.rk, &mut j0);
    st.tag_mask = j0;
    j0.zeroize();
}

/// Absorbs one block into the accumulator.
#[target_feature(enable = "avx,aes,pclmulqdq")]
pub(super) fn ghash_one(h1: &[u8; 16], acc: &mut [u8; 16], block: &[u8; 16]) {
    let x = _mm_xor_si128(load128(acc), rev128(load128(block)));
    store128(acc, polyval_mul(x, load128(h1)));
}
