//! The bulk kernels on 512-bit vectors: VAES, VPCLMULQDQ and AVX-512 (F, BW, VL), four
//! blocks per `zmm` register, four registers per stride.

use core::arch::x86_64::*;

use super::common::{POLY, ghash_one, load128, rev128, store128};
use super::{Io, LAG, STRIDE, State};

/// Registers per stride.
const VECS: usize = STRIDE / 4;
// The stitched loop spreads the GHASH registers over AES rounds 2..=13.
const _: () = assert!(VECS >= 1 && VECS < 12 && STRIDE.is_multiple_of(4));

/// The `vpshufb` mask that byte-reverses each 128-bit lane.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn rev_mask() -> __m512i {
    _mm512_broadcast_i32x4(_mm_set_epi8(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ))
}

/// `a ^ b ^ c`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn xor3(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
    _mm512_ternarylogic_epi64::<0x96>(a, b, c)
}

/// [`super::common::reduce128`] in each 128-bit lane.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn reduce(lo: __m512i, mi: __m512i, hi: __m512i) -> __m512i {
    let poly = _mm512_set1_epi64(POLY as i64);
    let t = _mm512_clmulepi64_epi128::<0x00>(lo, poly);
    let m = xor3(mi, _mm512_shuffle_epi32::<0x4e>(lo), t);
    let u = _mm512_clmulepi64_epi128::<0x00>(m, poly);
    xor3(hi, _mm512_shuffle_epi32::<0x4e>(m), u)
}

/// The XOR of a register's four 128-bit lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn fold_lanes(v: __m512i) -> __m128i {
    let y = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v));
    _mm_xor_si128(_mm256_castsi256_si128(y), _mm256_extracti128_si256::<1>(y))
}

/// Round keys broadcast to all four lanes, in registers.
struct Regs {
    rk: [__m512i; 15],
    rev: __m512i,
}

/// Carry-less products not yet reduced, summed over several blocks, by Karatsuba: `lo` and
/// `hi` are the products of the low and high halves, `mid` that of the halves' sums, so the
/// product of each block costs three multiplications; [`Product::finish`] recovers the middle
/// term `mid + lo + hi` (weighing x^64) once for the whole sum.
#[derive(Clone, Copy)]
struct Product {
    lo: __m512i,
    mid: __m512i,
    hi: __m512i,
}

/// `v.lo ^ v.hi` in the low 64 bits of each lane.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn halves(v: __m512i) -> __m512i {
    _mm512_xor_si512(v, _mm512_shuffle_epi32::<0x4e>(v))
}

impl Product {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn zero() -> Product {
        Product {
            lo: _mm512_setzero_si512(),
            mid: _mm512_setzero_si512(),
            hi: _mm512_setzero_si512(),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn new(a: __m512i, b: __m512i) -> Product {
        Product {
            lo: _mm512_clmulepi64_epi128::<0x00>(a, b),
            mid: _mm512_clmulepi64_epi128::<0x00>(halves(a), halves(b)),
            hi: _mm512_clmulepi64_epi128::<0x11>(a, b),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn add(&mut self, a: __m512i, b: __m512i) {
        self.lo = _mm512_xor_si512(self.lo, _mm512_clmulepi64_epi128::<0x00>(a, b));
        self.mid = _mm512_xor_si512(
            self.mid,
            _mm512_clmulepi64_epi128::<0x00>(halves(a), halves(b)),
        );
        self.hi = _mm512_xor_si512(self.hi, _mm512_clmulepi64_epi128::<0x11>(a, b));
    }

    /// Reduces and sums the lanes: the new accumulator.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn finish(self) -> __m128i {
        let mi = xor3(self.mid, self.lo, self.hi);
        fold_lanes(reduce(self.lo, mi, self.hi))
    }
}

/// `acc` in lane 0 of a register, zeros elsewhere.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn lane0(acc: __m128i) -> __m512i {
    _mm512_zextsi128_si512(acc)
}

/// One stride of blocks in registers.
type Vecs = [__m512i; VECS];

/// The GHASH of one stride `c` (as it is in memory) into `acc`: block `j` is multiplied by
/// H^(STRIDE - j), the accumulator joins block 0.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn ghash_stride<const ENCRYPT: bool>(r: &Regs, h: &Vecs, acc: __m128i, c: &Vecs) -> __m128i {
    let mut p = Product::new(
        _mm512_xor_si512(_mm512_shuffle_epi8(c[0], r.rev), lane0(acc)),
        h[0],
    );
    for k in 1..VECS {
        p.add(_mm512_shuffle_epi8(c[k], r.rev), h[k]);
    }
    p.finish()
}

/// The counter blocks of the next stride.
struct Ctr {
    /// Lane i: counter block `iv || BE32(next + i)`, byte-reversed (so `vpaddd` is `inc32`).
    rev: __m512i,
    /// The counter of lane 0.
    next: u32,
}

/// The counter registers of one stride, whitened with round key 0; `ctr` advances by
/// `STRIDE`.
///
/// When the counter's last byte does not wrap within the stride (all but one stride in
/// 256 / `STRIDE`), the blocks are made in their big-endian form by adding to that byte
/// directly, which saves a byte shuffle per register.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn counters(r: &Regs, ctr: &mut Ctr) -> Vecs {
    let x = if (ctr.next & 0xff) as usize + STRIDE <= 0x100 {
        // The last byte is the top byte of the little-endian dword 3 of each lane.
        let mut x = [_mm512_setzero_si512(); VECS];
        let step = _mm512_set_epi32(
            4 << 24,
            0,
            0,
            0,
            4 << 24,
            0,
            0,
            0,
            4 << 24,
            0,
            0,
            0,
            4 << 24,
            0,
            0,
            0,
        );
        let mut c = _mm512_shuffle_epi8(ctr.rev, r.rev);
        for v in &mut x {
            *v = _mm512_xor_si512(c, r.rk[0]);
            c = _mm512_add_epi32(c, step);
        }
        x
    } else {
        let inc4 = _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4);
        let mut x = [_mm512_setzero_si512(); VECS];
        let mut c = ctr.rev;
        for v in &mut x {
            *v = _mm512_xor_si512(_mm512_shuffle_epi8(c, r.rev), r.rk[0]);
            c = _mm512_add_epi32(c, inc4);
        }
        x
    };
    let inc = STRIDE as i32;
    ctr.rev = _mm512_add_epi32(
        ctr.rev,
        _mm512_set_epi32(0, 0, 0, inc, 0, 0, 0, inc, 0, 0, 0, inc, 0, 0, 0, inc),
    );
    ctr.next = ctr.next.wrapping_add(STRIDE as u32);
    x
}

/// One AES round on every register of a stride.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn aes_round(x: &mut Vecs, k: __m512i) {
    for v in x {
        *v = _mm512_aesenc_epi128(*v, k);
    }
}

/// The last AES round fused with the XOR of the data: `aesenclast(x, k ^ d)` equals
/// `aesenclast(x, k) ^ d`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn aes_last(r: &Regs, x: &mut Vecs, d: &Vecs) {
    for (v, d) in x.iter_mut().zip(d) {
        *v = _mm512_aesenclast_epi128(*v, _mm512_xor_si512(r.rk[14], *d));
    }
}

/// CTR over one stride `d`, without GHASH.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
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
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
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
        _mm512_xor_si512(_mm512_shuffle_epi8(g[0], r.rev), lane0(*acc)),
        h[0],
    );
    // One GHASH register after each of rounds 2..; the reduction after the last of them.
    for round in 2..14 {
        aes_round(&mut x, r.rk[round]);
        let k = round - 1;
        if k < VECS {
            p.add(_mm512_shuffle_epi8(g[k], r.rev), h[k]);
        }
        if k == VECS {
            *acc = p.finish();
        }
    }
    aes_last(r, &mut x, d);
    x
}

/// Loads 64 bytes at `block * 16` of `data`.
///
/// # Safety
///
/// `(block + 4) * 16 <= data.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn load4(data: &[u8], block: usize) -> __m512i {
    debug_assert!((block + 4) * 16 <= data.len());
    // SAFETY: the caller guarantees the 64 bytes are within `data`.
    unsafe { _mm512_loadu_si512(data.as_ptr().add(block * 16).cast()) }
}

/// Loads the stride at `block * 16` of `data`.
///
/// # Safety
///
/// `(block + STRIDE) * 16 <= data.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn load_stride(data: &[u8], block: usize) -> Vecs {
    let mut x = [_mm512_setzero_si512(); VECS];
    for (k, v) in x.iter_mut().enumerate() {
        // SAFETY: the caller guarantees blocks `block..block + STRIDE` are within `data`.
        *v = unsafe { load4(data, block + 4 * k) };
    }
    x
}

/// Loads the input stride at `block * 16` of `io`.
///
/// # Safety
///
/// `(block + STRIDE) * 16 <= io.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn load_in(io: &Io<'_>, block: usize) -> Vecs {
    debug_assert!((block + STRIDE) * 16 <= io.len());
    let mut x = [_mm512_setzero_si512(); VECS];
    for (k, v) in x.iter_mut().enumerate() {
        // SAFETY: the caller guarantees blocks `block..block + STRIDE` are within the input.
        *v = unsafe { _mm512_loadu_si512(io.src_at((block + 4 * k) * 16).cast()) };
    }
    x
}

/// Loads the output stride at `block * 16` of `io` (written earlier in this call).
///
/// # Safety
///
/// `(block + STRIDE) * 16 <= io.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn load_out(io: &Io<'_>, block: usize) -> Vecs {
    debug_assert!((block + STRIDE) * 16 <= io.len());
    let mut x = [_mm512_setzero_si512(); VECS];
    for (k, v) in x.iter_mut().enumerate() {
        // SAFETY: the caller guarantees blocks `block..block + STRIDE` are within the output.
        *v = unsafe { _mm512_loadu_si512(io.out_at((block + 4 * k) * 16).cast()) };
    }
    x
}

/// Stores a stride at `block * 16` of the output of `io`.
///
/// # Safety
///
/// `(block + STRIDE) * 16 <= io.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn store_out(io: &mut Io<'_>, block: usize, v: &Vecs) {
    debug_assert!((block + STRIDE) * 16 <= io.len());
    for (k, v) in v.iter().enumerate() {
        // SAFETY: the caller guarantees blocks `block..block + STRIDE` are within the output.
        unsafe { _mm512_storeu_si512(io.dst_at((block + 4 * k) * 16).cast(), *v) };
    }
}

/// Encrypts (`ENCRYPT`) or decrypts the whole blocks of `io`'s input into its output (in place
/// or not), updating the counter and the GHASH accumulator.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
pub(super) fn bulk<const ENCRYPT: bool>(st: &mut State, mut io: Io<'_>) {
    let blocks = io.len() / 16;
    if blocks == 0 {
        return;
    }
    let mut rk = [_mm512_setzero_si512(); 15];
    for (v, k) in rk.iter_mut().zip(&st.rk) {
        *v = _mm512_broadcast_i32x4(load128(k));
    }
    let r = Regs {
        rk,
        rev: rev_mask(),
    };
    // SAFETY: `hpow` has STRIDE + 4 blocks, so blocks 0..STRIDE are in bounds.
    let h = unsafe { load_stride(st.hpow.as_flattened(), 0) };

    // Lane i holds counter `ctr + i`, byte-reversed.
    let mut first = [0u8; 16];
    first[..12].copy_from_slice(&st.iv);
    first[12..].copy_from_slice(&st.ctr.to_be_bytes());
    let mut ctr = Ctr {
        rev: _mm512_add_epi32(
            _mm512_broadcast_i32x4(rev128(load128(&first))),
            _mm512_set_epi32(0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0),
        ),
        next: st.ctr,
    };
    // Counters wrap modulo 2^32 by definition, so truncating the block count is exact.
    st.ctr = st.ctr.wrapping_add(blocks as u32);
    let mut acc = load128(&st.acc);

    let mut done = 0;
    if blocks >= STRIDE {
        if ENCRYPT {
            // GHASH runs `LAG` strides behind encryption and re-reads the ciphertext from
            // the output (still in L1), so it never waits for AES results in flight.
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
            // GHASH runs one stride ahead of decryption (whose output overwrites the
            // ciphertext when in place), so each stride's ciphertext is read once for GHASH and
            // once, as a memory operand, for the final XOR, and neither pins a register across
            // the rounds.
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
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
pub(super) fn ghash_only(st: &mut State, data: &[u8]) {
    let blocks = data.len() / 16;
    // No round keys are needed (nor loaded): GHASH only.
    let r = Regs {
        rk: [_mm512_setzero_si512(); 15],
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

/// The last 1..STRIDE blocks (`io.len()` = 16 * n): CTR and GHASH four blocks at a time,
/// the last register loaded and stored under a byte mask.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn tail<const ENCRYPT: bool>(
    r: &Regs,
    hp: &[[u8; 16]; STRIDE + 4],
    mut ctr: __m512i,
    acc: __m128i,
    mut io: Io<'_>,
) -> __m128i {
    let n = io.len() / 16;
    debug_assert!((1..STRIDE).contains(&n));
    let n = n.min(STRIDE - 1);
    let inc4 = _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4);
    let flat_h = hp.as_flattened();
    let mut p = Product::zero();
    let mut i = 0;
    while i < n {
        let here = (n - i).min(4);
        // Bytes of this register that belong to the tail (at most 64 set bits).
        let mask: __mmask64 = if here == 4 {
            u64::MAX
        } else {
            (1u64 << (16 * here)) - 1
        };
        // SAFETY: the enabled bytes, `16 * here` from `i * 16`, are within the input; masked-off
        // bytes are not accessed.
        let d = unsafe { _mm512_maskz_loadu_epi8(mask, io.src_at(i * 16).cast()) };
        let mut x = _mm512_xor_si512(_mm512_shuffle_epi8(ctr, r.rev), r.rk[0]);
        ctr = _mm512_add_epi32(ctr, inc4);
        for k in &r.rk[1..14] {
            x = _mm512_aesenc_epi128(x, *k);
        }
        let out = _mm512_aesenclast_epi128(x, _mm512_xor_si512(r.rk[14], d));
        // SAFETY: as for the load, in the output.
        unsafe { _mm512_mask_storeu_epi8(io.dst_at(i * 16).cast(), mask, out) };
        let c = if ENCRYPT {
            _mm512_maskz_mov_epi8(mask, out)
        } else {
            d
        };
        let mut c = _mm512_shuffle_epi8(c, r.rev);
        if i == 0 {
            c = _mm512_xor_si512(c, lane0(acc));
        }
        // Block j of the tail is multiplied by H^(n - j); blocks past the end meet zeros.
        // SAFETY: STRIDE - n + i + 4 <= STRIDE - n + (n - 1) + 4 < STRIDE + 4 blocks of `hp`.
        let h = unsafe { load4(flat_h, STRIDE - n + i) };
        p.add(c, h);
        i += 4;
    }
    p.finish()
}
