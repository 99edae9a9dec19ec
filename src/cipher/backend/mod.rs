//! AES-256-GCM block engines.
//!
//! A backend owns one message's AES key schedule, GHASH key, counter and GHASH accumulator, and
//! works on whole 16-byte blocks; [`super::gcm::GcmStream`] adds the partial-block bookkeeping
//! that lets callers split a message anywhere. The portable backend composes the RustCrypto
//! `aes`, `ctr` and `ghash` crates exactly as `aes-gcm` does; faster backends must produce the
//! same bytes (the differential tests in `gcm.rs` and `tests/props.rs` hold them to it).

mod soft;
#[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
#[allow(unsafe_code)]
mod x86_64;

pub(crate) use soft::Soft;

/// The operations a GCM backend provides. All lengths are multiples of 16 where stated.
pub(crate) trait GcmBackend {
    /// Prepares a message: `J0 = iv || 0x00000001`, the tag mask `E(K, J0)`, GHASH key
    /// `H = E(K, 0^128)`, and the first counter block `inc32(J0)`.
    fn new(key: &[u8; 32], iv: &[u8; 12]) -> Self;

    /// Encrypts `data` (a multiple of 16 bytes) in place with the next counter blocks and
    /// absorbs the resulting ciphertext into GHASH.
    fn encrypt_blocks(&mut self, data: &mut [u8]);

    /// Absorbs `data` (ciphertext, a multiple of 16 bytes) into GHASH and decrypts it in place.
    fn decrypt_blocks(&mut self, data: &mut [u8]);

    /// [`GcmBackend::encrypt_blocks`] from `input` into `output` (of the same length).
    fn encrypt_blocks_to(&mut self, input: &[u8], output: &mut [u8]);

    /// [`GcmBackend::decrypt_blocks`] from `input` into `output` (of the same length).
    fn decrypt_blocks_to(&mut self, input: &[u8], output: &mut [u8]);

    /// Absorbs `data` (ciphertext, a multiple of 16 bytes) into GHASH only, leaving it and the
    /// counter alone: the tag check of a verify-then-decrypt pass.
    fn ghash_blocks(&mut self, data: &[u8]);

    /// Returns the keystream of the next counter block (for a final partial block).
    fn keystream_block(&mut self) -> [u8; 16];

    /// Absorbs one block of ciphertext into GHASH.
    fn ghash_block(&mut self, block: &[u8; 16]);

    /// Absorbs the length block (no AAD; `message_len` bytes of ciphertext) and returns the
    /// tag `GHASH ^ E(K, J0)`.
    fn tag(self, message_len: u64) -> [u8; 16];
}

/// The backend chosen for this machine, once per message: VAES/VPCLMULQDQ (with AVX-512, or
/// else AVX2) on x86_64 CPUs that have them (unless built with
/// `--cfg dracoon_crypto_force_soft`), otherwise the portable one. CPU detection is `std`'s,
/// cached after the first call.
pub(crate) enum Backend {
    /// Portable RustCrypto composition.
    Soft(Soft),
    /// VAES + VPCLMULQDQ on 512- or 256-bit vectors.
    #[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
    Vaes(x86_64::VaesGcm),
}

impl Backend {
    /// Which engine runs this message (for tests).
    #[cfg(test)]
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Soft(_) => "soft",
            #[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
            Backend::Vaes(b) => b.name(),
        }
    }
}

impl GcmBackend for Backend {
    fn new(key: &[u8; 32], iv: &[u8; 12]) -> Self {
        #[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
        if let Some(fast) = x86_64::VaesGcm::try_new(key, iv) {
            return Backend::Vaes(fast);
        }
        Backend::Soft(Soft::new(key, iv))
    }

    #[inline]
    fn encrypt_blocks(&mut self, data: &mut [u8]) {
        match self {
            Backend::Soft(b) => b.encrypt_blocks(data),
            #[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
            Backend::Vaes(b) => b.encrypt_blocks(data),
        }
    }

    #[inline]
    fn decrypt_blocks(&mut self, data: &mut [u8]) {
        match self {
            Backend::Soft(b) => b.decrypt_blocks(data),
            #[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
            Backend::Vaes(b) => b.decrypt_blocks(data),
        }
    }

    #[inline]
    fn encrypt_blocks_to(&mut self, input: &[u8], output: &mut [u8]) {
        match self {
            Backend::Soft(b) => b.encrypt_blocks_to(input, output),
            #[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
            Backend::Vaes(b) => b.encrypt_blocks_to(input, output),
        }
    }

    #[inline]
    fn decrypt_blocks_to(&mut self, input: &[u8], output: &mut [u8]) {
        match self {
            Backend::Soft(b) => b.decrypt_blocks_to(input, output),
            #[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
            Backend::Vaes(b) => b.decrypt_blocks_to(input, output),
        }
    }

    #[inline]
    fn ghash_blocks(&mut self, data: &[u8]) {
        match self {
            Backend::Soft(b) => b.ghash_blocks(data),
            #[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
            Backend::Vaes(b) => b.ghash_blocks(data),
        }
    }

    #[inline]
    fn keystream_block(&mut self) -> [u8; 16] {
        match self {
            Backend::Soft(b) => b.keystream_block(),
            #[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
            Backend::Vaes(b) => b.keystream_block(),
        }
    }

    #[inline]
    fn ghash_block(&mut self, block: &[u8; 16]) {
        match self {
            Backend::Soft(b) => b.ghash_block(block),
            #[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
            Backend::Vaes(b) => b.ghash_block(block),
        }
    }

    fn tag(self, message_len: u64) -> [u8; 16] {
        match self {
            Backend::Soft(b) => b.tag(message_len),
            #[cfg(all(target_arch = "x86_64", not(dracoon_crypto_force_soft)))]
            Backend::Vaes(b) => b.tag(message_len),
        }
    }
}

/// With `--cfg dracoon_crypto_force_soft`, or off x86_64, every message runs on `Soft`. (On
/// x86_64 the dispatch itself is tested in `x86_64::tests`.)
#[cfg(all(test, any(dracoon_crypto_force_soft, not(target_arch = "x86_64"))))]
mod tests {
    use super::{Backend, GcmBackend};

    #[test]
    fn the_portable_backend_runs_when_forced_or_off_x86_64() {
        assert_eq!(Backend::new(&[1; 32], &[2; 12]).name(), "soft");
    }
}
