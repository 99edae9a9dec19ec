//! AES-256-GCM on x86_64 with VAES and VPCLMULQDQ over 512-bit vectors (AVX-512).
//!
//! Counter mode runs four 16-byte counter blocks per `zmm` register; GHASH multiplies four
//! blocks per register by precomputed powers of H (Karatsuba, three carry-less multiplies per
//! block) and reduces once per stride of 16 blocks. In the bulk loop the AES rounds of one
//! stride are interleaved with the GHASH of another: the ciphertext two strides back when
//! encrypting (re-read from L1, so GHASH never waits on AES results in flight), the next
//! stride when decrypting (before decryption overwrites it). The AES and carry-less multiply
//! units thus work side by side on independent data.
//!
//! Measured on a Zen 4 (1 MiB updates): about 11 GB/s both ways, against about 10.5 GB/s for
//! OpenSSL 3's EVP and 2.8 GB/s for the portable backend. Wider strides (8 registers) were
//! faster on cache-resident data but slower streaming from memory.
//!
//! # GHASH in the POLYVAL domain
//!
//! GHASH treats a block's first bit as the coefficient of x^0. Byte-reversing a block turns it
//! into a 128-bit little-endian integer whose bit order is exactly reversed, and RFC 8452
//! (appendix A) shows that GHASH then equals POLYVAL, whose field (modulo
//! `x^128 + x^127 + x^126 + x^121 + 1`) uses the natural bit order that `pclmulqdq` computes in:
//!
//! `GHASH(H, X_1..X_n) = rev(POLYVAL(mulX(rev(H)), rev(X_1), .., rev(X_n)))`
//!
//! POLYVAL's product is `a * b * x^-128`, which needs no bit shift after the carry-less multiply
//! and reduces with two multiplications by the constant `0xc2 << 56` (see [`reduce`]). The
//! accumulator and the powers of H below are all in this domain; blocks are byte-reversed with
//! one `vpshufb` as they enter GHASH, and the tag is reversed back at the end.
//!
//! # Counters
//!
//! Counter blocks are kept byte-reversed as well: the big-endian 32-bit counter at the end of
//! the block becomes the first little-endian dword of the lane, so `vpaddd` performs GCM's
//! `inc32` (wrapping modulo 2^32, never carrying into the IV), and the same `vpshufb` restores
//! the block before it enters AES.
//!
//! # Safety
//!
//! This module is the only place in the crate with `unsafe`. Every kernel is a
//! `#[target_feature]` function; the only values that call them are [`Avx512Gcm`]s, and the only
//! way to make one, [`Avx512Gcm::try_new`], checks the CPU first (the zero-sized [`Cpu`] token is
//! the proof, and it has no other constructor). Memory is touched only through in-bounds
//! pointers derived from slices and arrays, or through masked loads/stores whose enabled bytes are
//! in bounds.

use core::arch::x86_64::*;

use zeroize::Zeroize;

/// Registers of four blocks per bulk iteration.
const VECS: usize = 4;
/// Blocks per bulk iteration.
const STRIDE: usize = 4 * VECS;
/// How many strides the GHASH of the ciphertext trails its encryption.
const LAG: usize = 2;
// The stitched loop spreads the GHASH registers over AES rounds 2..=13.
const _: () = assert!(VECS >= 1 && VECS < 12);

/// Proof that the running CPU has every feature the kernels enable. Only [`Cpu::detect`]
/// creates one.
#[derive(Clone, Copy)]
struct Cpu(());

impl Cpu {
    fn detect() -> Option<Cpu> {
        let ok = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("vaes")
            && std::is_x86_feature_detected!("vpclmulqdq")
            && std::is_x86_feature_detected!("aes")
            && std::is_x86_feature_detected!("pclmulqdq");
        ok.then_some(Cpu(()))
    }
}

/// Per-key tables.
struct Keys {
    /// AES-256 round keys.
    rk: [[u8; 16]; 15],
    /// `hpow[i]` = H^(STRIDE - i) for `i < STRIDE` (POLYVAL domain), then four zero blocks, so
    /// a four-block window starting at `STRIDE - n` holds H^n, H^(n-1), .. and zeros past H^1.
    hpow: [[u8; 16]; STRIDE + 4],
}

/// One GCM message on the VAES/VPCLMULQDQ/AVX-512 path.
pub(crate) struct Avx512Gcm {
    keys: Keys,
    /// GHASH accumulator (POLYVAL domain).
    acc: [u8; 16],
    /// The first 12 bytes of every counter block.
    iv: [u8; 12],
    /// The 32-bit counter of the next block.
    ctr: u32,
    /// `E(K, J0)`.
    tag_mask: [u8; 16],
    cpu: Cpu,
}

impl Avx512Gcm {
    /// Prepares a message, or `None` when this CPU lacks a required feature.
    pub(crate) fn try_new(key: &[u8; 32], iv: &[u8; 12]) -> Option<Self> {
        let cpu = Cpu::detect()?;
        Some(Self::with_counter(cpu, key, iv, 2))
    }

    /// A message whose first data block uses counter `ctr` (2 for real messages; tests pick
    /// others to cross the 2^32 wrap).
    fn with_counter(cpu: Cpu, key: &[u8; 32], iv: &[u8; 12], ctr: u32) -> Self {
        let mut gcm = Avx512Gcm {
            keys: Keys {
                rk: [[0; 16]; 15],
                hpow: [[0; 16]; STRIDE + 4],
            },
            acc: [0; 16],
            iv: *iv,
            ctr,
            tag_mask: [0; 16],
            cpu,
        };
        // SAFETY: `cpu` proves the features `setup` enables are present.
        unsafe { setup(&mut gcm, key) };
        gcm
    }

    /// Encrypts the whole blocks of `data` in place and absorbs the ciphertext into GHASH.
    pub(crate) fn encrypt_blocks(&mut self, data: &mut [u8]) {
        let Cpu(()) = self.cpu;
        // SAFETY: `self.cpu` proves the features `bulk` enables are present.
        unsafe { bulk::<true>(self, data) }
    }

    /// Absorbs the whole blocks of `data` into GHASH and decrypts them in place.
    pub(crate) fn decrypt_blocks(&mut self, data: &mut [u8]) {
        let Cpu(()) = self.cpu;
        // SAFETY: `self.cpu` proves the features `bulk` enables are present.
        unsafe { bulk::<false>(self, data) }
    }

    /// The keystream of the next counter block.
    pub(crate) fn keystream_block(&mut self) -> [u8; 16] {
        let mut block = [0u8; 16];
        block[..12].copy_from_slice(&self.iv);
        block[12..].copy_from_slice(&self.ctr.to_be_bytes());
        self.ctr = self.ctr.wrapping_add(1);
        // SAFETY: `self.cpu` proves the features `encrypt_block` enables are present.
        unsafe { encrypt_block(&self.keys.rk, &mut block) };
        block
    }

    /// Absorbs one ciphertext block into GHASH.
    pub(crate) fn ghash_block(&mut self, block: &[u8; 16]) {
        // SAFETY: `self.cpu` proves the features `ghash_one` enables are present.
        unsafe { ghash_one(&self.keys.hpow[STRIDE - 1], &mut self.acc, block) };
    }

    /// Absorbs the length block and returns the tag.
    pub(crate) fn tag(mut self, message_len: u64) -> [u8; 16] {
        let mut lengths = [0u8; 16];
        lengths[8..].copy_from_slice(&message_len.wrapping_mul(8).to_be_bytes());
        self.ghash_block(&lengths);
        let mut tag = self.acc;
        tag.reverse();
        for (t, m) in tag.iter_mut().zip(self.tag_mask.iter()) {
            *t ^= m;
        }
        tag
    }
}

impl Drop for Avx512Gcm {
    fn drop(&mut self) {
        self.keys.rk.zeroize();
        self.keys.hpow.zeroize();
        self.acc.zeroize();
        self.iv.zeroize();
        self.ctr.zeroize();
        self.tag_mask.zeroize();
    }
}

// ---------------------------------------------------------------------------------------------
// Kernels. Every function below enables the same feature set, so they inline into each other.
// ---------------------------------------------------------------------------------------------

/// `x^128 mod (x^128 + x^127 + x^126 + x^121 + 1)` without its constant term, shifted down by
/// 64: the multiplier that folds 64 bits of a POLYVAL product (see [`reduce`]).
const POLY: u64 = 0xc200_0000_0000_0000;

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn load128(b: &[u8; 16]) -> __m128i {
    // SAFETY: `b` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn store128(b: &mut [u8; 16], v: __m128i) {
    // SAFETY: `b` is 16 writable bytes; `storeu` has no alignment requirement.
    unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), v) }
}

/// Byte-reverses a 128-bit value.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn rev128(v: __m128i) -> __m128i {
    _mm_shuffle_epi8(
        v,
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    )
}

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

/// One step of the AES-256 key schedule for the even round keys: `prev` is round key `i - 2`,
/// `assist` the `aeskeygenassist` of round key `i - 1` with this step's round constant.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
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
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn expand_key(key: &[u8; 32], rk: &mut [[u8; 16]; 15]) {
    let mut lo = [0u8; 16];
    let mut hi = [0u8; 16];
    lo.copy_from_slice(&key[..16]);
    hi.copy_from_slice(&key[16..]);
    let mut a = load128(&lo);
    let mut b = load128(&hi);
    lo.zeroize();
    hi.zeroize();
    rk[0] = [0; 16];
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
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn encrypt_block(rk: &[[u8; 16]; 15], block: &mut [u8; 16]) {
    let mut x = _mm_xor_si128(load128(block), load128(&rk[0]));
    for k in &rk[1..14] {
        x = _mm_aesenc_si128(x, load128(k));
    }
    x = _mm_aesenclast_si128(x, load128(&rk[14]));
    store128(block, x);
}

/// Reduces the 256-bit carry-less product `hi * x^128 + mi * x^64 + lo` to
/// `product * x^-128 mod P` (POLYVAL's product), in each 128-bit lane.
///
/// With `P = x^128 + q`, `q = x^127 + x^126 + x^121 + 1`, the low 64 bits `t` of a value `v`
/// are cancelled by adding `t * P`; since `q`'s low 64 bits are just `1`, that gives
/// `v * x^-64 = swap64(v) + t * (x^63 + x^62 + x^57)` where `swap64` exchanges the 64-bit halves
/// and `x^63 + x^62 + x^57` is [`POLY`]. Folding `lo` this way lands it on `mi`'s weight; one
/// more fold of the sum lands it on `hi`'s.
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

/// `a * b * x^-128` in POLYVAL's field, one 128-bit value.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn polyval_mul(a: __m128i, b: __m128i) -> __m128i {
    let lo = _mm_clmulepi64_si128::<0x00>(a, b);
    let hi = _mm_clmulepi64_si128::<0x11>(a, b);
    let mi = _mm_xor_si128(
        _mm_clmulepi64_si128::<0x01>(a, b),
        _mm_clmulepi64_si128::<0x10>(a, b),
    );
    let r = reduce(
        _mm512_zextsi128_si512(lo),
        _mm512_zextsi128_si512(mi),
        _mm512_zextsi128_si512(hi),
    );
    _mm512_castsi512_si128(r)
}

/// Computes the round keys, the powers of H and the tag mask.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn setup(gcm: &mut Avx512Gcm, key: &[u8; 32]) {
    expand_key(key, &mut gcm.keys.rk);

    let mut h = [0u8; 16];
    encrypt_block(&gcm.keys.rk, &mut h);
    // rev(H) as an integer is H read big-endian; multiply it by x modulo POLYVAL's polynomial.
    let v = u128::from_be_bytes(h);
    let carry = v >> 127;
    let h1 = (v << 1) ^ (carry * 0xc200_0000_0000_0000_0000_0000_0000_0001);
    h = h1.to_le_bytes();
    let h1 = load128(&h);
    h.zeroize();

    let mut power = h1;
    store128(&mut gcm.keys.hpow[STRIDE - 1], power);
    for i in (0..STRIDE - 1).rev() {
        power = polyval_mul(power, h1);
        store128(&mut gcm.keys.hpow[i], power);
    }

    let mut j0 = [0u8; 16];
    j0[..12].copy_from_slice(&gcm.iv);
    j0[15] = 1;
    encrypt_block(&gcm.keys.rk, &mut j0);
    gcm.tag_mask = j0;
}

/// Absorbs one block into the accumulator.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn ghash_one(h1: &[u8; 16], acc: &mut [u8; 16], block: &[u8; 16]) {
    let x = _mm_xor_si128(load128(acc), rev128(load128(block)));
    store128(acc, polyval_mul(x, load128(h1)));
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

/// Stores a stride at `block * 16` of `data`.
///
/// # Safety
///
/// `(block + STRIDE) * 16 <= data.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
unsafe fn store_stride(data: &mut [u8], block: usize, v: &Vecs) {
    debug_assert!((block + STRIDE) * 16 <= data.len());
    let p = data.as_mut_ptr();
    for (k, v) in v.iter().enumerate() {
        // SAFETY: the caller guarantees blocks `block..block + STRIDE` are within `data`.
        unsafe { _mm512_storeu_si512(p.add((block + 4 * k) * 16).cast(), *v) };
    }
}

/// Encrypts (`ENCRYPT`) or decrypts the whole blocks of `data` in place, updating the counter
/// and the GHASH accumulator.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn bulk<const ENCRYPT: bool>(gcm: &mut Avx512Gcm, data: &mut [u8]) {
    let blocks = data.len() / 16;
    if blocks == 0 {
        return;
    }
    let mut rk = [_mm512_setzero_si512(); 15];
    for (v, k) in rk.iter_mut().zip(&gcm.keys.rk) {
        *v = _mm512_broadcast_i32x4(load128(k));
    }
    let r = Regs {
        rk,
        rev: rev_mask(),
    };
    // SAFETY: `hpow` has STRIDE + 4 blocks, so blocks 0..STRIDE are in bounds.
    let h = unsafe { load_stride(gcm.keys.hpow.as_flattened(), 0) };

    // Lane i holds counter `ctr + i`, byte-reversed.
    let mut first = [0u8; 16];
    first[..12].copy_from_slice(&gcm.iv);
    first[12..].copy_from_slice(&gcm.ctr.to_be_bytes());
    let mut ctr = Ctr {
        rev: _mm512_add_epi32(
            _mm512_broadcast_i32x4(rev128(load128(&first))),
            _mm512_set_epi32(0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0),
        ),
        next: gcm.ctr,
    };
    // Counters wrap modulo 2^32 by definition, so truncating the block count is exact.
    gcm.ctr = gcm.ctr.wrapping_add(blocks as u32);
    let mut acc = load128(&gcm.acc);

    let mut done = 0;
    if blocks >= STRIDE {
        if ENCRYPT {
            // GHASH runs `LAG` strides behind encryption and re-reads the ciphertext (still in
            // L1), so it never waits for AES results in flight.
            while done + STRIDE <= blocks && done < LAG * STRIDE {
                // SAFETY: blocks done..done + STRIDE are within `data` (loop condition).
                let c = ctr_stride::<ENCRYPT>(&r, &mut ctr, &unsafe { load_stride(data, done) });
                // SAFETY: as above.
                unsafe { store_stride(data, done, &c) };
                done += STRIDE;
            }
            while done + STRIDE <= blocks {
                // SAFETY: blocks done - LAG * STRIDE..done + STRIDE are within `data` (loop
                // condition, and done >= LAG * STRIDE).
                let (d, g) = unsafe {
                    (
                        load_stride(data, done),
                        load_stride(data, done - LAG * STRIDE),
                    )
                };
                let c = ctr_ghash_stride(&r, &h, &mut ctr, &d, &g, &mut acc);
                // SAFETY: as above.
                unsafe { store_stride(data, done, &c) };
                done += STRIDE;
            }
            let mut behind = done.saturating_sub(LAG * STRIDE);
            while behind < done {
                // SAFETY: behind + STRIDE <= done <= blocks.
                acc = ghash_stride::<ENCRYPT>(&r, &h, acc, &unsafe { load_stride(data, behind) });
                behind += STRIDE;
            }
        } else {
            // GHASH runs one stride ahead of decryption (whose output overwrites the
            // ciphertext), so each stride's ciphertext is read once for GHASH and once, as a
            // memory operand, for the final XOR, and neither pins a register across the rounds.
            // SAFETY: blocks 0..STRIDE are within `data` (blocks >= STRIDE).
            acc = ghash_stride::<ENCRYPT>(&r, &h, acc, &unsafe { load_stride(data, 0) });
            while done + 2 * STRIDE <= blocks {
                // SAFETY: blocks done..done + 2 * STRIDE are within `data` (loop condition).
                let (d, g) = unsafe { (load_stride(data, done), load_stride(data, done + STRIDE)) };
                let p = ctr_ghash_stride(&r, &h, &mut ctr, &d, &g, &mut acc);
                // SAFETY: as above.
                unsafe { store_stride(data, done, &p) };
                done += STRIDE;
            }
            // SAFETY: blocks done..done + STRIDE are within `data` (done + STRIDE <= blocks
            // here).
            let p = ctr_stride::<ENCRYPT>(&r, &mut ctr, &unsafe { load_stride(data, done) });
            // SAFETY: as above.
            unsafe { store_stride(data, done, &p) };
            done += STRIDE;
        }
    }

    if done < blocks {
        acc = tail::<ENCRYPT>(
            &r,
            &gcm.keys.hpow,
            ctr.rev,
            acc,
            &mut data[done * 16..blocks * 16],
        );
    }
    store128(&mut gcm.acc, acc);
}

/// The last 1..STRIDE blocks (`data.len()` = 16 * n): CTR and GHASH four blocks at a time,
/// the last register loaded and stored under a byte mask.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq")]
fn tail<const ENCRYPT: bool>(
    r: &Regs,
    hp: &[[u8; 16]; STRIDE + 4],
    mut ctr: __m512i,
    acc: __m128i,
    data: &mut [u8],
) -> __m128i {
    let n = data.len() / 16;
    debug_assert!((1..STRIDE).contains(&n));
    let n = n.min(STRIDE - 1);
    let inc4 = _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4);
    let flat_h = hp.as_flattened();
    let mut p = Product::zero();
    let mut i = 0;
    while i < n {
        let here = (n - i).min(4);
        // Bytes of this register that belong to `data` (at most 64 set bits).
        let mask: __mmask64 = if here == 4 {
            u64::MAX
        } else {
            (1u64 << (16 * here)) - 1
        };
        // SAFETY: the enabled bytes, `16 * here` from `i * 16`, are within `data`; masked-off
        // bytes are not accessed.
        let d = unsafe { _mm512_maskz_loadu_epi8(mask, data.as_ptr().add(i * 16).cast()) };
        let mut x = _mm512_xor_si512(_mm512_shuffle_epi8(ctr, r.rev), r.rk[0]);
        ctr = _mm512_add_epi32(ctr, inc4);
        for k in &r.rk[1..14] {
            x = _mm512_aesenc_epi128(x, *k);
        }
        let out = _mm512_aesenclast_epi128(x, _mm512_xor_si512(r.rk[14], d));
        // SAFETY: as for the load.
        unsafe { _mm512_mask_storeu_epi8(data.as_mut_ptr().add(i * 16).cast(), mask, out) };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::backend::{GcmBackend, Soft};
    use crate::cipher::gcm::{Direction, GcmStream};
    use aes::Aes256;
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    use aes_gcm::aead::AeadInOut;
    use proptest::prelude::*;

    /// The fast backend, or `None` (and a note on stderr) when this CPU cannot run it.
    fn fast(key: &[u8; 32], iv: &[u8; 12]) -> Option<Avx512Gcm> {
        let gcm = Avx512Gcm::try_new(key, iv);
        if gcm.is_none() {
            eprintln!(
                "skipped: this CPU lacks AVX-512/VAES/VPCLMULQDQ, the fast GCM path is untested"
            );
        }
        gcm
    }

    fn one_shot(key: &[u8; 32], iv: &[u8; 12], pt: &[u8]) -> (Vec<u8>, [u8; 16]) {
        let cipher = aes_gcm::Aes256Gcm::new(&(*key).into());
        let mut buf = pt.to_vec();
        let tag = cipher
            .encrypt_inout_detached(&(*iv).into(), &[], buf.as_mut_slice().into())
            .map(Into::into)
            .unwrap_or_default();
        (buf, tag)
    }

    /// Encrypts or decrypts `data` through a backend in whole-block calls of `calls` blocks
    /// (cycled), then the final partial block the way `GcmStream` does it.
    fn through<B: Ops>(
        mut b: B,
        dir: Direction,
        data: &[u8],
        calls: &[usize],
    ) -> (Vec<u8>, [u8; 16]) {
        let mut buf = data.to_vec();
        let whole = buf.len() / 16 * 16;
        let mut pos = 0;
        let mut sizes = calls.iter().cycle();
        while pos < whole {
            let n = sizes.next().map_or(usize::MAX, |&n| n.max(1));
            let end = whole.min(pos.saturating_add(n.saturating_mul(16)));
            match dir {
                Direction::Encrypt => b.enc(&mut buf[pos..end]),
                Direction::Decrypt => b.dec(&mut buf[pos..end]),
            }
            pos = end;
        }
        if whole < buf.len() {
            let ks = b.ks();
            let mut last = [0u8; 16];
            for ((x, k), c) in buf[whole..].iter_mut().zip(ks).zip(last.iter_mut()) {
                if dir == Direction::Decrypt {
                    *c = *x;
                }
                *x ^= k;
                if dir == Direction::Encrypt {
                    *c = *x;
                }
            }
            b.gh(&last);
        }
        let len = buf.len() as u64;
        (buf, b.fin(len))
    }

    /// The backend operations, so one driver serves `Soft` and the fast path.
    trait Ops {
        fn enc(&mut self, d: &mut [u8]);
        fn dec(&mut self, d: &mut [u8]);
        fn ks(&mut self) -> [u8; 16];
        fn gh(&mut self, b: &[u8; 16]);
        fn fin(self, len: u64) -> [u8; 16];
    }
    impl Ops for Avx512Gcm {
        fn enc(&mut self, d: &mut [u8]) {
            self.encrypt_blocks(d);
        }
        fn dec(&mut self, d: &mut [u8]) {
            self.decrypt_blocks(d);
        }
        fn ks(&mut self) -> [u8; 16] {
            self.keystream_block()
        }
        fn gh(&mut self, b: &[u8; 16]) {
            self.ghash_block(b);
        }
        fn fin(self, len: u64) -> [u8; 16] {
            self.tag(len)
        }
    }
    impl Ops for Soft {
        fn enc(&mut self, d: &mut [u8]) {
            self.encrypt_blocks(d);
        }
        fn dec(&mut self, d: &mut [u8]) {
            self.decrypt_blocks(d);
        }
        fn ks(&mut self) -> [u8; 16] {
            self.keystream_block()
        }
        fn gh(&mut self, b: &[u8; 16]) {
            self.ghash_block(b);
        }
        fn fin(self, len: u64) -> [u8; 16] {
            self.tag(len)
        }
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
            .collect()
    }

    /// Checks one length both ways against `aes-gcm` and `Soft`, with the given call sizes.
    fn check(key: &[u8; 32], iv: &[u8; 12], len: usize, calls: &[usize]) -> bool {
        let pt = pattern(len, key[0]);
        let expect = one_shot(key, iv, &pt);
        let Some(b) = fast(key, iv) else { return false };
        let got = through(b, Direction::Encrypt, &pt, calls);
        assert_eq!(got, expect, "encrypt len {len} calls {calls:?}");
        let soft = through(Soft::new(key, iv), Direction::Encrypt, &pt, calls);
        assert_eq!(soft, expect, "soft encrypt len {len}");
        let Some(b) = fast(key, iv) else { return false };
        let (back, tag) = through(b, Direction::Decrypt, &expect.0, calls);
        assert_eq!(
            (back, tag),
            (pt, expect.1),
            "decrypt len {len} calls {calls:?}"
        );
        true
    }

    #[test]
    fn aes256_key_schedule_matches_fips_197() {
        // FIPS 197 appendix C.3.
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let Some(gcm) = fast(&key, &[0; 12]) else {
            return;
        };
        let mut block: [u8; 16] = core::array::from_fn(|i| (i as u8) * 0x11);
        // SAFETY: `fast` returned a value, so the CPU has the features.
        unsafe { encrypt_block(&gcm.keys.rk, &mut block) };
        assert_eq!(
            block,
            [
                0x8e, 0xa2, 0xb7, 0xca, 0x51, 0x67, 0x45, 0xbf, 0xea, 0xfc, 0x49, 0x90, 0x4b, 0x49,
                0x60, 0x89
            ]
        );
    }

    #[test]
    fn gcm_spec_test_cases_15_and_16() {
        // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 15 (no AAD).
        let key: [u8; 32] = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
        let iv: [u8; 12] = hex("cafebabefacedbaddecaf888");
        let pt: [u8; 64] = hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        );
        let ct: [u8; 64] = hex(
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        );
        let tag: [u8; 16] = hex("b094dac5d93471bdec1a502270e3cc6c");
        let Some(mut b) = fast(&key, &iv) else { return };
        let mut buf = pt;
        b.encrypt_blocks(&mut buf);
        assert_eq!(buf, ct);
        assert_eq!(b.tag(64), tag);
        // Test case 16's plaintext is test case 15's without its last 4 bytes; with no AAD its
        // ciphertext is test case 15's truncated the same way.
        let (c, _) = through(
            fast(&key, &iv).expect("detected above"),
            Direction::Encrypt,
            &pt[..60],
            &[1],
        );
        assert_eq!(c, ct[..60]);
    }

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
            let d = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            *o = d(pair[0]) << 4 | d(pair[1]);
        }
        out
    }

    #[test]
    fn every_length_up_to_4k_in_one_call() {
        let key = [0x42; 32];
        let iv = [0x24; 12];
        for len in 0..=4096 + 17 {
            if !check(&key, &iv, len, &[]) {
                return;
            }
        }
    }

    #[test]
    fn large_lengths_across_the_stride() {
        let key: [u8; 32] = core::array::from_fn(|i| (i * 3) as u8);
        let iv: [u8; 12] = core::array::from_fn(|i| (i * 5 + 1) as u8);
        for len in [
            (STRIDE - 1) * 16,
            STRIDE * 16 + 15,
            (2 * STRIDE + 1) * 16,
            (3 * STRIDE - 1) * 16 + 1,
            255 * 16,
            256 * 16 + 15,
            (1 << 16) - 1,
            (1 << 20) + 17,
            (1 << 20) + 16 * 15,
            3 * (1 << 20) / 2 + 16 * 7 + 3,
        ] {
            if !check(&key, &iv, len, &[]) {
                return;
            }
        }
    }

    #[test]
    fn odd_call_sizes() {
        let key = [7; 32];
        let iv = [9; 12];
        for calls in [
            &[1][..],
            &[3, 16, 17, 1],
            &[15, 31, 32, 33],
            &[16],
            &[64, 5, 100],
        ] {
            if !check(&key, &iv, 5000, calls) {
                return;
            }
        }
    }

    /// Independent reference: AES-256 of `iv || BE32(ctr)` with the counter wrapping, and GHASH
    /// from the `ghash` crate.
    fn reference_ctr_ghash(
        key: &[u8; 32],
        iv: &[u8; 12],
        ctr: u32,
        pt: &[u8],
    ) -> (Vec<u8>, [u8; 16]) {
        use ghash::GHash;
        use ghash::universal_hash::UniversalHash;
        let aes = Aes256::new(&(*key).into());
        let mut h = [0u8; 16].into();
        aes.encrypt_block(&mut h);
        let mut gh = GHash::new(&h);
        let mut out = pt.to_vec();
        for (i, chunk) in out.chunks_mut(16).enumerate() {
            let mut block = [0u8; 16];
            block[..12].copy_from_slice(iv);
            block[12..].copy_from_slice(&ctr.wrapping_add(i as u32).to_be_bytes());
            let mut ks = block.into();
            aes.encrypt_block(&mut ks);
            for (x, k) in chunk.iter_mut().zip(ks.iter()) {
                *x ^= k;
            }
            gh.update(&[(<[u8; 16]>::try_from(&*chunk).unwrap_or_default()).into()]);
        }
        let acc: [u8; 16] = gh.finalize().into();
        (out, acc)
    }

    #[test]
    fn counter_wraps_modulo_2_pow_32() {
        let key = [0x5c; 32];
        let iv = [0xa7; 12];
        let Some(cpu) = fast(&key, &iv).map(|g| g.cpu) else {
            return;
        };
        // Wraps of the whole 32-bit counter, and starts around the carries out of its last
        // byte (the bulk path makes big-endian counters directly when that byte cannot wrap).
        for start in [
            u32::MAX - 40,
            u32::MAX - 16,
            u32::MAX - 3,
            u32::MAX,
            0,
            2,
            0xdf,
            0xe0,
            0xe1,
            0x1ff,
            0xffff_ff00 - STRIDE as u32,
        ] {
            for blocks in [1, 4, 15, 16, 17, 40, 77, 3 * STRIDE + 5, 9 * STRIDE - 1] {
                let pt = pattern(blocks * 16, 3);
                let (expect, expect_ghash) = reference_ctr_ghash(&key, &iv, start, &pt);
                for split in [blocks, 1, 5] {
                    let mut b = Avx512Gcm::with_counter(cpu, &key, &iv, start);
                    let mut buf = pt.clone();
                    for c in buf.chunks_mut(split * 16) {
                        b.encrypt_blocks(c);
                    }
                    assert_eq!(
                        buf, expect,
                        "start {start:#x} blocks {blocks} split {split}"
                    );
                    let mut g = b.acc;
                    g.reverse();
                    assert_eq!(g, expect_ghash, "GHASH, start {start:#x} blocks {blocks}");
                    assert_eq!(b.ctr, start.wrapping_add(blocks as u32));
                    let mut b = Avx512Gcm::with_counter(cpu, &key, &iv, start);
                    for c in buf.chunks_mut(split * 16) {
                        b.decrypt_blocks(c);
                    }
                    assert_eq!(buf, pt, "decrypt start {start:#x} blocks {blocks}");
                    let mut g = b.acc;
                    g.reverse();
                    assert_eq!(g, expect_ghash);
                }
                // The single-block path wraps too.
                let mut b = Avx512Gcm::with_counter(cpu, &key, &iv, start);
                let ks: Vec<u8> = (0..blocks).flat_map(|_| b.keystream_block()).collect();
                let (zeros_ct, _) = reference_ctr_ghash(&key, &iv, start, &vec![0; blocks * 16]);
                assert_eq!(ks, zeros_ct);
            }
        }
    }

    #[test]
    fn drop_wipes_the_tables() {
        let Some(mut b) = fast(&[1; 32], &[2; 12]) else {
            return;
        };
        let mut buf = [0u8; 48];
        b.encrypt_blocks(&mut buf);
        let mut b = core::mem::ManuallyDrop::new(b);
        // SAFETY: `b` is dropped exactly once and its memory stays allocated; afterwards only its
        // plain byte-array fields are read, which `Drop` leaves initialised (zeroed).
        unsafe { core::mem::ManuallyDrop::drop(&mut b) };
        assert!(b.keys.rk.iter().all(|k| *k == [0; 16]));
        assert!(b.keys.hpow.iter().all(|k| *k == [0; 16]));
        assert_eq!(b.tag_mask, [0; 16]);
        assert_eq!(b.acc, [0; 16]);
        assert_eq!(b.iv, [0; 12]);
    }

    fn stream(
        dir: Direction,
        key: &[u8; 32],
        iv: &[u8; 12],
        data: &[u8],
        splits: &[usize],
    ) -> (Vec<u8>, [u8; 16]) {
        let mut s = GcmStream::new(key, iv);
        let mut buf = data.to_vec();
        let mut pos = 0;
        let mut sizes = splits.iter().cycle();
        while pos < buf.len() {
            let n = sizes.next().copied().unwrap_or(usize::MAX);
            let end = buf.len().min(pos.saturating_add(n));
            assert!(s.apply(dir, &mut buf[pos..end]).is_ok());
            pos = end;
        }
        (buf, s.finish())
    }

    #[test]
    fn dispatch_picks_the_fast_path_when_available() {
        let b = crate::cipher::backend::Backend::new(&[3; 32], &[4; 12]);
        let expect = if Cpu::detect().is_some() {
            "avx512"
        } else {
            "soft"
        };
        assert_eq!(b.name(), expect);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn fast_equals_soft_and_aes_gcm_at_any_split(
            key in any::<[u8; 32]>(),
            iv in any::<[u8; 12]>(),
            len in 0usize..6000,
            splits in proptest::collection::vec(0usize..1200, 1..8),
        ) {
            let pt = pattern(len, iv[0]);
            let expect = one_shot(&key, &iv, &pt);
            prop_assert_eq!(&stream(Direction::Encrypt, &key, &iv, &pt, &splits), &expect);
            let (back, tag) = stream(Direction::Decrypt, &key, &iv, &expect.0, &splits);
            prop_assert_eq!(back, pt.clone());
            prop_assert_eq!(tag, expect.1);
            if fast(&key, &iv).is_some() {
                let calls: Vec<usize> = splits.iter().map(|s| s / 16 + 1).collect();
                let soft = through(Soft::new(&key, &iv), Direction::Encrypt, &pt, &calls);
                let ours = through(fast(&key, &iv).expect("detected"), Direction::Encrypt, &pt, &calls);
                prop_assert_eq!(&ours, &soft);
                prop_assert_eq!(&ours, &expect);
                let ours = through(fast(&key, &iv).expect("detected"), Direction::Decrypt, &expect.0, &calls);
                prop_assert_eq!(ours, (pt, expect.1));
            }
        }
    }
}
