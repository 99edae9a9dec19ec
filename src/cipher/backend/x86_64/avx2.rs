//! The bulk kernels on 256-bit vectors, for CPUs with VAES and VPCLMULQDQ but no AVX-512
//! (AMD Zen 3, Intel Alder Lake and later client cores): two blocks per `ymm` register, eight
//! registers per stride. The structure is that of [`super::avx512`]; the last partial stride
//! goes through a stack buffer, as AVX2 has no byte-masked loads and stores.

use core::arch::x86_64::*;

use zeroize::Zeroize;

use super::common::{POLY, ghash_one, load128, rev128, store128};
use super::{Io, LAG, STRIDE, State};

/// Registers per stride.
const VECS: usize = STRIDE / 2;
// The stitched loop spreads the GHASH registers over AES rounds 2..=13.
const _: () = assert!(VECS >= 1 && VECS < 12 && STRIDE.is_multiple_of(2));

/// The `vpshufb` mask that byte-reverses each 128-bit lane.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn rev_mask() -> __m256i {
    _mm256_broadcastsi128_si256(_mm_set_epi8(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ))
}

/// `a ^ b ^ c`.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn xor3(a: __m256i, b: __m256i, c: __m256i) -> __m256i {
    _mm256_xor_si256(_mm256_xor_si256(a, b), c)
}

/// [`super::common::reduce128`] in each 128-bit lane.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn reduce(lo: __m256i, mi: __m256i, hi: __m256i) -> __m256i {
    let poly = _mm256_set1_epi64x(POLY as i64);
    let t = _mm256_clmulepi64_epi128::<0x00>(lo, poly);
    let m = xor3(mi, _mm256_shuffle_epi32::<0x4e>(lo), t);
    let u = _mm256_clmulepi64_epi128::<0x00>(m, poly);
    xor3(hi, _mm256_shuffle_epi32::<0x4e>(m), u)
}

/// The XOR of a register's two 128-bit lanes.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn fold_lanes(v: __m256i) -> __m128i {
    _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v))
}

/// Round keys broadcast to both lanes.
struct Regs {
    rk: [__m256i; 15],
    rev: __m256i,
}

/// Karatsuba products not yet reduced, as in [`super::avx512`].
#[derive(Clone, Copy)]
struct Product {
    lo: __m256i,
    mid: __m256i,
    hi: __m256i,
}

/// `v.lo ^ v.hi` in the low 64 bits of each lane.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn halves(v: __m256i) -> __m256i {
    _mm256_xor_si256(v, _mm256_shuffle_epi32::<0x4e>(v))
}

impl Product {
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn zero() -> Product {
        Product {
            lo: _mm256_setzero_si256(),
            mid: _mm256_setzero_si256(),
            hi: _mm256_setzero_si256(),
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn new(a: __m256i, b: __m256i) -> Product {
        Product {
            lo: _mm256_clmulepi64_epi128::<0x00>(a, b),
            mid: _mm256_clmulepi64_epi128::<0x00>(halves(a), halves(b)),
            hi: _mm256_clmulepi64_epi128::<0x11>(a, b),
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn add(&mut self, a: __m256i, b: __m256i) {
        self.lo = _mm256_xor_si256(self.lo, _mm256_clmulepi64_epi128::<0x00>(a, b));
        self.mid = _mm256_xor_si256(
            self.mid,
            _mm256_clmulepi64_epi128::<0x00>(halves(a), halves(b)),
        );
        self.hi = _mm256_xor_si256(self.hi, _mm256_clmulepi64_epi128::<0x11>(a, b));
    }

    /// Reduces and sums the lanes: the new accumulator.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn finish(self) -> __m128i {
        let mi = xor3(self.mid, self.lo, self.hi);
        fold_lanes(reduce(self.lo, mi, self.hi))
    }
}

/// `acc` in lane 0 of a register, zero in lane 1.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn lane0(acc: __m128i) -> __m256i {
    _mm256_zextsi128_si256(acc)
}

/// One stride of blocks in registers.
type Vecs = [__m256i; VECS];

/// The GHASH of one stride `c` (as it is in memory) into `acc`.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn ghash_stride<const ENCRYPT: bool>(r: &Regs, h: &Vecs, acc: __m128i, c: &Vecs) -> __m128i {
    let mut p = Product::new(
        _mm256_xor_si256(_mm256_shuffle_epi8(c[0], r.rev), lane0(acc)),
        h[0],
    );
    for k in 1..VECS {
        p.add(_mm256_shuffle_epi8(c[k], r.rev), h[k]);
    }
    p.finish()
}

/// The counter blocks of the next stride.
struct Ctr {
    /// Lane i: counter block `iv || BE32(next + i)`, byte-reversed (so `vpaddd` is `inc32`).
    rev: __m256i,
    /// The counter of lane 0.
    next: u32,
}

/// The counter registers of one stride, whitened with round key 0; `ctr` advances by
/// `STRIDE`. As in [`super::avx512`], big-endian blocks are made directly when the counter's
/// last byte cannot wrap within the stride.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn counters(r: &Regs, ctr: &mut Ctr) -> Vecs {
    let mut x = [_mm256_setzero_si256(); VECS];
    if (ctr.next & 0xff) as usize + STRIDE <= 0x100 {
        let step = _mm256_set_epi32(2 << 24, 0, 0, 0, 2 << 24, 0, 0, 0);
        let mut c = _mm256_shuffle_epi8(ctr.rev, r.rev);
        for v in &mut x {
            *v = _mm256_xor_si256(c, r.rk[0]);
            c = _mm256_add_epi32(c, step);
        }
    } else {
        let inc2 = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
        let mut c = ctr.rev;
        for v in &mut x {
            *v = _mm256_xor_si256(_mm256_shuffle_epi8(c, r.rev), r.rk[0]);
            c = _mm256_add_epi32(c, inc2);
        }
    }
    let inc = STRIDE as i32;
    ctr.rev = _mm256_add_epi32(ctr.rev, _mm256_set_epi32(0, 0, 0, inc, 0, 0, 0, inc));
    ctr.next = ctr.next.wrapping_add(STRIDE as u32);
    x
}

/// One AES round on every register of a stride.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn aes_round(x: &mut Vecs, k: __m256i) {
    for v in x {
        *v = _mm256_aesenc_epi128(*v, k);
    }
}

/// The last AES round fused with the XOR of the data.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn aes_last(r: &Regs, x: &mut Vecs, d: &Vecs) {
    for (v, d) in x.iter_mut().zip(d) {
        *v = _mm256_aesenclast_epi128(*v, _mm256_xor_si256(r.rk[14], *d));
    }
}

/// CTR over one stride `d`, without GHASH.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn ctr_stride<const ENCRYPT: bool>(r: &Regs, ctr: &mut Ctr, d: &Vecs) -> Vecs {
    let mut x = counters(r, ctr);
    for k in &r.rk[1..14] {
        aes_round(&mut x, *k);
    }
    aes_last(r, &mut x, d);
    x
}

/// CTR over one stride `d`, interleaved with the GHASH of another stride `g` into `acc`.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn ctr_ghash_stride(
    r: &Regs,
    h: &Vecs,
    ctr: &mut Ctr,
    d: &Vecs,
    g: &Vecs,
    acc: &mut __m128i,
) -> Vecs {
    let mut x = counters(r, ctr);
    aes_round(&mut x, r.rk[1]);
    let mut p = Product::new(
        _mm256_xor_si256(_mm256_shuffle_epi8(g[0], r.rev), lane0(*acc)),
        h[0],
    );
    for round in 2..14 {
        aes_round(&mut x, r.rk[round]);
        let k = round - 1;
        if k < VECS {
            p.add(_mm256_shuffle_epi8(g[k], r.rev), h[k]);
        }
        if k == VECS {
            *acc = p.finish();
        }
    }
    aes_last(r, &mut x, d);
    x
}

/// Loads 32 bytes at `block * 16` of `data`.
///
/// # Safety
///
/// `(block + 2) * 16 <= data.len()`.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn load2(data: &[u8], block: usize) -> __m256i {
    debug_assert!((block + 2) * 16 <= data.len());
    // SAFETY: the caller guarantees the 32 bytes are within `data`.
    unsafe { _mm256_loadu_si256(data.as_ptr().add(block * 16).cast()) }
}

/// Stores 32 bytes at `block * 16` of `data`.
///
/// # Safety
///
/// `(block + 2) * 16 <= data.len()`.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn store2(data: &mut [u8], block: usize, v: __m256i) {
    debug_assert!((block + 2) * 16 <= data.len());
    // SAFETY: the caller guarantees the 32 bytes are within `data`.
    unsafe { _mm256_storeu_si256(data.as_mut_ptr().add(block * 16).cast(), v) }
}

/// Loads the stride at `block * 16` of `data`.
///
/// # Safety
///
/// `(block + STRIDE) * 16 <= data.len()`.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn load_stride(data: &[u8], block: usize) -> Vecs {
    let mut x = [_mm256_setzero_si256(); VECS];
    for (k, v) in x.iter_mut().enumerate() {
        // SAFETY: the caller guarantees blocks `block..block + STRIDE` are within `data`.
        *v = unsafe { load2(data, block + 2 * k) };
    }
    x
}

/// Loads the input stride at `block * 16` of `io`.
///
/// # Safety
///
/// `(block + STRIDE) * 16 <= io.len()`.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn load_in(io: &Io<'_>, block: usize) -> Vecs {
    debug_assert!((block + STRIDE) * 16 <= io.len());
    let mut x = [_mm256_setzero_si256(); VECS];
    for (k, v) in x.iter_mut().enumerate() {
        // SAFETY: the caller guarantees blocks `block..block + STRIDE` are within the input.
        *v = unsafe { _mm256_loadu_si256(io.src_at((block + 2 * k) * 16).cast()) };
    }
    x
}

/// Loads the output stride at `block * 16` of `io` (written earlier in this call).
///
/// # Safety
///
/// `(block + STRIDE) * 16 <= io.len()`.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn load_out(io: &Io<'_>, block: usize) -> Vecs {
    debug_assert!((block + STRIDE) * 16 <= io.len());
    let mut x = [_mm256_setzero_si256(); VECS];
    for (k, v) in x.iter_mut().enumerate() {
        // SAFETY: the caller guarantees blocks `block..block + STRIDE` are within the output.
        *v = unsafe { _mm256_loadu_si256(io.out_at((block + 2 * k) * 16).cast()) };
    }
    x
}

/// Stores a stride at `block * 16` of the output of `io`.
///
/// # Safety
///
/// `(block + STRIDE) * 16 <= io.len()`.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn store_out(io: &mut Io<'_>, block: usize, v: &Vecs) {
    debug_assert!((block + STRIDE) * 16 <= io.len());
    for (k, v) in v.iter().enumerate() {
        // SAFETY: the caller guarantees blocks `block..block + STRIDE` are within the output.
        unsafe { _mm256_storeu_si256(io.dst_at((block + 2 * k) * 16).cast(), *v) };
    }
}

/// Encrypts (`ENCRYPT`) or decrypts the whole blocks of `io`'s input into its output (in place
/// or not), updating the counter and the GHASH accumulator. The same schedule as
/// [`super::avx512`]'s.
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
pub(super) fn bulk<const ENCRYPT: bool>(st: &mut State, mut io: Io<'_>) {
    let blocks = io.len() / 16;
    if blocks == 0 {
        return;
    }
    let mut rk = [_mm256_setzero_si256(); 15];
    for (v, k) in rk.iter_mut().zip(&st.rk) {
        *v = _mm256_broadcastsi128_si256(load128(k));
    }
    let r = Regs {
        rk,
        rev: rev_mask(),
    };
    // SAFETY: `hpow` has STRIDE + 4 blocks, so blocks 0..STRIDE are in bounds.
    let h = unsafe { load_stride(st.hpow.as_flattened(), 0) };

    let mut first = [0u8; 16];
    first[..12].copy_from_slice(&st.iv);
    first[12..].copy_from_slice(&st.ctr.to_be_bytes());
    let mut ctr = Ctr {
        rev: _mm256_add_epi32(
            _mm256_broadcastsi128_si256(rev128(load128(&first))),
            _mm256_set_epi32(0, 0, 0, 1, 0, 0, 0, 0),
        ),
        next: st.ctr,
    };
    // Counters wrap modulo 2^32 by definition, so truncating the block count is exact.
    st.ctr = st.ctr.wrapping_add(blocks as u32);
    let mut acc = load128(&st.acc);

    let mut done = 0;
    if blocks >= STRIDE {
        if ENCRYPT {
            while done + STRIDE <= blocks && done < LAG * STRIDE {
                // SAFETY: blocks done..done + STRIDE are within `io` (loop condition).
                let c = ctr_stride::<ENCRYPT>(&r, &mut ctr, &unsafe { load_in(&io, done) });
                // SAFETY: as above.
                unsafe { store_out(&mut io, done, &c) };
                done += STRIDE;
            }
            while done + STRIDE <= blocks {
                // SAFETY: blocks done - LAG * STRIDE..done + STRIDE are within `io` (loop
                // condition, and done >= LAG * STRIDE).
                let (d, g) = unsafe { (load_in(&io, done), load_out(&io, done - LAG * STRIDE)) };
                let c = ctr_ghash_stride(&r, &h, &mut ctr, &d, &g, &mut acc);
                // SAFETY: as above.
                unsafe { store_out(&mut io, done, &c) };
                done += STRIDE;
            }
            let mut behind = done.saturating_sub(LAG * STRIDE);
            while behind < done {
                // SAFETY: behind + STRIDE <= done <= blocks.
                acc = ghash_stride::<ENCRYPT>(&r, &h, acc, &unsafe { load_out(&io, behind) });
                behind += STRIDE;
            }
        } else {
            // SAFETY: blocks 0..STRIDE are within `io` (blocks >= STRIDE).
            acc = ghash_stride::<ENCRYPT>(&r, &h, acc, &unsafe { load_in(&io, 0) });
            while done + 2 * STRIDE <= blocks {
                // SAFETY: blocks done..done + 2 * STRIDE are within `io` (loop condition).
                let (d, g) = unsafe { (load_in(&io, done), load_in(&io, done + STRIDE)) };
                let p = ctr_ghash_stride(&r, &h, &mut ctr, &d, &g, &mut acc);
                // SAFETY: as above.
                unsafe { store_out(&mut io, done, &p) };
                done += STRIDE;
            }
            // SAFETY: blocks done..done + STRIDE are within `io` (done + STRIDE <= blocks
            // here).
            let p = ctr_stride::<ENCRYPT>(&r, &mut ctr, &unsafe { load_in(&io, done) });
            // SAFETY: as above.
            unsafe { store_out(&mut io, done, &p) };
            done += STRIDE;
        }
    }

    if done < blocks {
        acc = tail::<ENCRYPT>(&r, &st.hpow, ctr.rev, acc, io.range(done * 16, blocks * 16));
    }
    store128(&mut st.acc, acc);
}

/// Absorbs the whole blocks of `data` (ciphertext) into the GHASH accumulator, without
/// decrypting anything: the first pass of a verify-then-decrypt. Whole strides go through the
/// aggregated multiply of [`ghash_stride`]; the last few blocks one at a time.
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
pub(super) fn ghash_only(st: &mut State, data: &[u8]) {
    let blocks = data.len() / 16;
    // No round keys are needed (nor loaded): GHASH only.
    let r = Regs {
        rk: [_mm256_setzero_si256(); 15],
        rev: rev_mask(),
    };
    // SAFETY: `hpow` has STRIDE + 4 blocks, so blocks 0..STRIDE are in bounds.
    let h = unsafe { load_stride(st.hpow.as_flattened(), 0) };
    let mut acc = load128(&st.acc);
    let mut done = 0;
    while done + STRIDE <= blocks {
        // SAFETY: blocks done..done + STRIDE are within `data` (loop condition).
        acc = ghash_stride::<false>(&r, &h, acc, &unsafe { load_stride(data, done) });
        done += STRIDE;
    }
    store128(&mut st.acc, acc);
    let h1 = st.hpow[STRIDE - 1];
    for block in data[done * 16..blocks * 16].chunks_exact(16) {
        if let Ok(block) = <&[u8; 16]>::try_from(block) {
            ghash_one(&h1, &mut st.acc, block);
        }
    }
}

/// The last 1..STRIDE blocks (`io.len()` = 16 * n), two blocks at a time through a
/// zero-padded stack buffer.
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn tail<const ENCRYPT: bool>(
    r: &Regs,
    hp: &[[u8; 16]; STRIDE + 4],
    mut ctr: __m256i,
    acc: __m128i,
    mut io: Io<'_>,
) -> __m128i {
    let n = (io.len() / 16).min(STRIDE - 1);
    debug_assert!((1..STRIDE).contains(&n));
    let len = n * 16;
    let mut buf = [0u8; STRIDE * 16];
    io.read_into(&mut buf[..len]);
    let inc2 = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
    let flat_h = hp.as_flattened();
    let mut p = Product::zero();
    let mut i = 0;
    while i < n {
        // SAFETY: i + 2 <= n + 1 <= STRIDE blocks of `buf`.
        let d = unsafe { load2(&buf, i) };
        let mut x = _mm256_xor_si256(_mm256_shuffle_epi8(ctr, r.rev), r.rk[0]);
        ctr = _mm256_add_epi32(ctr, inc2);
        for k in &r.rk[1..14] {
            x = _mm256_aesenc_epi128(x, *k);
        }
        let mut out = _mm256_aesenclast_epi128(x, _mm256_xor_si256(r.rk[14], d));
        if i + 1 == n {
            // Only lane 0 is a block of the message.
            out = _mm256_zextsi128_si256(_mm256_castsi256_si128(out));
        }
        // SAFETY: as for the load.
        unsafe { store2(&mut buf, i, out) };
        let c = if ENCRYPT { out } else { d };
        let mut c = _mm256_shuffle_epi8(c, r.rev);
        if i == 0 {
            c = _mm256_xor_si256(c, lane0(acc));
        }
        // Block j of the tail is multiplied by H^(n - j).
        // SAFETY: STRIDE - n + i + 2 <= STRIDE - n + (n - 1) + 2 < STRIDE + 4 blocks of `hp`.
        let h = unsafe { load2(flat_h, STRIDE - n + i) };
        p.add(c, h);
        i += 2;
    }
    io.write_from(&buf[..len]);
    buf.zeroize();
    p.finish()
}
