//! The portable backend: RustCrypto `aes` (AES-NI/VAES when the CPU has them) in 32-bit
//! big-endian counter mode, and `ghash` (CLMUL when available).

use aes::Aes256;
use aes::cipher::{Array, BlockCipherEncrypt, InnerIvInit, KeyInit, StreamCipherCore, consts::U16};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;

use super::GcmBackend;

type Block = Array<u8, U16>;
type Ctr = ctr::CtrCore<Aes256, ctr::flavors::Ctr32BE>;

/// Blocks per CTR/GHASH round: small enough that the ciphertext is still in L1 when GHASH
/// reads it.
const CHUNK_BLOCKS: usize = 256;

pub(crate) struct Soft {
    ctr: Ctr,
    ghash: GHash,
    tag_mask: Block,
}

impl GcmBackend for Soft {
    fn new(key: &[u8; 32], iv: &[u8; 12]) -> Self {
        let cipher = Aes256::new(&(*key).into());
        let mut h = Block::default();
        cipher.encrypt_block(&mut h);
        let ghash = GHash::new(&h);
        let mut j0 = Block::default();
        j0[..12].copy_from_slice(iv);
        j0[15] = 1;
        let mut ctr = Ctr::inner_iv_init(cipher, &j0);
        let mut tag_mask = Block::default();
        ctr.write_keystream_block(&mut tag_mask);
        Soft {
            ctr,
            ghash,
            tag_mask,
        }
    }

    fn encrypt_blocks(&mut self, data: &mut [u8]) {
        let (blocks, _) = Block::slice_as_chunks_mut(data);
        for chunk in blocks.chunks_mut(CHUNK_BLOCKS) {
            self.ctr.apply_keystream_blocks(chunk);
            self.ghash.update(chunk);
        }
    }

    fn decrypt_blocks(&mut self, data: &mut [u8]) {
        let (blocks, _) = Block::slice_as_chunks_mut(data);
        for chunk in blocks.chunks_mut(CHUNK_BLOCKS) {
            self.ghash.update(chunk);
            self.ctr.apply_keystream_blocks(chunk);
        }
    }

    fn encrypt_blocks_to(&mut self, input: &[u8], output: &mut [u8]) {
        output.copy_from_slice(input);
        self.encrypt_blocks(output);
    }

    fn decrypt_blocks_to(&mut self, input: &[u8], output: &mut [u8]) {
        output.copy_from_slice(input);
        self.decrypt_blocks(output);
    }

    fn ghash_blocks(&mut self, data: &[u8]) {
        let (blocks, _) = Block::slice_as_chunks(data);
        self.ghash.update(blocks);
    }

    fn keystream_block(&mut self) -> [u8; 16] {
        let mut block = Block::default();
        self.ctr.write_keystream_block(&mut block);
        block.into()
    }

    fn ghash_block(&mut self, block: &[u8; 16]) {
        self.ghash.update(&[Block::from(*block)]);
    }

    fn tag(mut self, message_len: u64) -> [u8; 16] {
        let mut lengths = Block::default();
        // No AAD: the first 64 bits stay zero.
        lengths[8..].copy_from_slice(&(message_len * 8).to_be_bytes());
        self.ghash.update(&[lengths]);
        let mut tag: [u8; 16] = self.ghash.clone().finalize().into();
        for (t, m) in tag.iter_mut().zip(self.tag_mask.iter()) {
            *t ^= m;
        }
        tag
    }
}

impl Drop for Soft {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.tag_mask.as_mut_slice().zeroize();
    }
}
