//! Input formats of the fuzz targets, each with an encoder for the seeder.
//!
//! The parser targets use a tiny framing of their own (a mode byte, a password, then the
//! document as is) so that a corpus entry is mostly the real document and libFuzzer's mutations
//! act on it directly. The cipher targets use `arbitrary` derives; their bulk data (the
//! plaintext) is the last field, taken raw with `arbitrary_take_rest`.

use arbitrary::{Arbitrary, Unstructured};

/// What the private-key target does with its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateKeyMode {
    /// `PrivateKeyContainer::from_json`, then `unlock`.
    ContainerJson,
    /// The document is the PEM string of a container; `UserPrivateKey::unlock`.
    Pem,
    /// The document is DER, armoured as `ENCRYPTED PRIVATE KEY`; `unlock`.
    EncryptedDer,
    /// The document is a PEM string; `UserPrivateKey::from_plain_container`.
    PlainPem,
    /// DER armoured as `PRIVATE KEY` (PKCS#8); `from_plain_container`.
    PlainPkcs8Der,
    /// DER armoured as `RSA PRIVATE KEY` (PKCS#1); `from_plain_container`.
    PlainPkcs1Der,
    /// `UserKeyPairContainer::from_json`, then `unlock`.
    KeyPairJson,
    /// `PrivateKeyContainer::from_json`, then `from_plain_container`.
    PlainContainerJson,
}

impl PrivateKeyMode {
    /// Every mode, in the order of their mode-byte values.
    pub const ALL: [PrivateKeyMode; 8] = [
        PrivateKeyMode::ContainerJson,
        PrivateKeyMode::Pem,
        PrivateKeyMode::EncryptedDer,
        PrivateKeyMode::PlainPem,
        PrivateKeyMode::PlainPkcs8Der,
        PrivateKeyMode::PlainPkcs1Der,
        PrivateKeyMode::KeyPairJson,
        PrivateKeyMode::PlainContainerJson,
    ];

    fn index(self) -> u8 {
        Self::ALL.iter().position(|&m| m == self).unwrap_or(0) as u8
    }
}

/// Input of the `private_key` target.
///
/// Layout: `flags`, `password length`, password bytes (UTF-8, lossily decoded), document.
/// `flags`: bits 0-2 mode, bit 3 version (`RSA-4096` when set, `A` otherwise; used where the
/// document carries no version), bit 4 also wrap and unwrap a file key with a key that opened,
/// bits 5-6 PBKDF2 iterations minus one for re-encrypting (1..=4: fuzz builds clamp
/// unlocking to 4 iterations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateKeyInput<'a> {
    /// What to do with the document.
    pub mode: PrivateKeyMode,
    /// Version for documents without one.
    pub rsa4096: bool,
    /// Whether to run the (slower) RSA wrap/unwrap check after a successful open.
    pub unwrap_check: bool,
    /// Iterations for re-encrypting, 1..=4.
    pub iterations: u32,
    /// The password.
    pub password: String,
    /// The document.
    pub document: &'a [u8],
}

impl<'a> PrivateKeyInput<'a> {
    /// Reads an input; `None` when it is too short.
    #[must_use]
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&flags, rest) = data.split_first()?;
        let (&pw_len, rest) = rest.split_first()?;
        let (pw, document) = rest.split_at_checked(usize::from(pw_len))?;
        Some(PrivateKeyInput {
            mode: PrivateKeyMode::ALL[usize::from(flags & 7)],
            rsa4096: flags & 8 != 0,
            unwrap_check: flags & 16 != 0,
            iterations: u32::from((flags >> 5) & 3) + 1,
            password: String::from_utf8_lossy(pw).into_owned(),
            document,
        })
    }

    /// Encodes an input (the password is cut to 255 bytes at a character boundary).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut pw = self.password.as_str();
        while pw.len() > 255 {
            let mut end = 255;
            while !pw.is_char_boundary(end) {
                end -= 1;
            }
            pw = &pw[..end];
        }
        let it = (self.iterations.clamp(1, 4) - 1) as u8;
        let flags = self.mode.index()
            | (u8::from(self.rsa4096) << 3)
            | (u8::from(self.unwrap_check) << 4)
            | (it << 5);
        let mut out = vec![flags, pw.len() as u8];
        out.extend_from_slice(pw.as_bytes());
        out.extend_from_slice(self.document);
        out
    }
}

/// What the public-key target does with its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyMode {
    /// `PublicKeyContainer::from_json`, then `UserPublicKey::from_container`.
    Json,
    /// The document is the PEM string of a container.
    Pem,
    /// The document is DER, armoured as `PUBLIC KEY`.
    Der,
}

/// Input of the `public_key` target: a flags byte (bits 0-1 mode modulo 3, bit 2 version
/// `RSA-4096`), then the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInput<'a> {
    /// What to do with the document.
    pub mode: PublicKeyMode,
    /// Version for documents without one.
    pub rsa4096: bool,
    /// The document.
    pub document: &'a [u8],
}

impl<'a> PublicKeyInput<'a> {
    /// Reads an input; `None` when it is empty.
    #[must_use]
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&flags, document) = data.split_first()?;
        let mode = match (flags & 3) % 3 {
            0 => PublicKeyMode::Json,
            1 => PublicKeyMode::Pem,
            _ => PublicKeyMode::Der,
        };
        Some(PublicKeyInput {
            mode,
            rsa4096: flags & 4 != 0,
            document,
        })
    }

    /// Encodes an input.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mode = match self.mode {
            PublicKeyMode::Json => 0,
            PublicKeyMode::Pem => 1,
            PublicKeyMode::Der => 2,
        };
        let mut out = vec![mode | (u8::from(self.rsa4096) << 2)];
        out.extend_from_slice(self.document);
        out
    }
}

/// Input of the `stream` target (split-stream differential).
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct StreamInput<'a> {
    /// AES-256 key.
    pub key: [u8; 32],
    /// GCM IV.
    pub iv: [u8; 12],
    /// Chunk lengths for encrypting (see [`crate::chunk_lengths`]).
    pub enc_chunks: [u16; 6],
    /// Chunk lengths for decrypting.
    pub dec_chunks: [u16; 6],
    /// Bit i set: chunk i (mod 8) goes through `update` (copying) instead of `update_in_place`.
    pub copy_mask: u8,
    /// The plaintext.
    pub plaintext: &'a [u8],
}

impl<'a> StreamInput<'a> {
    /// Reads an input the way the target does.
    #[must_use]
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        Self::arbitrary_take_rest(Unstructured::new(data)).ok()
    }

    /// Encodes an input in `arbitrary`'s format (integers little-endian, arrays element by
    /// element, the last field raw).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.iv);
        for v in self.enc_chunks.iter().chain(&self.dec_chunks) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(self.copy_mask);
        out.extend_from_slice(self.plaintext);
        out
    }
}

/// One way to damage an encrypted file or its key.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// XOR one ciphertext byte (position modulo the length) with a non-zero mask.
    FlipCiphertext {
        /// Position.
        pos: u32,
        /// Mask (0 is replaced by 0x01).
        mask: u8,
    },
    /// XOR one tag byte.
    FlipTag {
        /// Position modulo 16.
        pos: u8,
        /// Mask (0 is replaced by 0x01).
        mask: u8,
    },
    /// XOR one IV byte.
    FlipIv {
        /// Position modulo 12.
        pos: u8,
        /// Mask (0 is replaced by 0x01).
        mask: u8,
    },
    /// XOR one key byte.
    FlipKey {
        /// Position modulo 32.
        pos: u8,
        /// Mask (0 is replaced by 0x01).
        mask: u8,
    },
    /// Drop 1..=len bytes from the end.
    Truncate {
        /// How many, modulo the length, plus one.
        by: u32,
    },
    /// Append 1..=4 bytes.
    Extend {
        /// The bytes.
        bytes: [u8; 4],
        /// How many, modulo 4, plus one.
        len: u8,
    },
    /// Exchange two ciphertext bytes (flips the first when they are equal).
    Swap {
        /// First position.
        a: u32,
        /// Second position.
        b: u32,
    },
    /// Several flips, anywhere in ciphertext, tag, IV and key.
    Many(Vec<(u16, u8)>),
}

/// Input of the `tamper` target.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct TamperInput<'a> {
    /// AES-256 key.
    pub key: [u8; 32],
    /// GCM IV.
    pub iv: [u8; 12],
    /// Chunk lengths for the streaming decryptor.
    pub chunks: [u16; 3],
    /// The damage.
    pub mutation: Mutation,
    /// The plaintext.
    pub plaintext: &'a [u8],
}

/// The `u32` that makes a derived `Arbitrary` enum pick variant `index` of `count`.
fn variant_selector(index: u64, count: u64) -> [u8; 4] {
    let v = (index << 32).div_ceil(count);
    (v as u32).to_le_bytes()
}

impl<'a> TamperInput<'a> {
    /// Reads an input the way the target does.
    #[must_use]
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        Self::arbitrary_take_rest(Unstructured::new(data)).ok()
    }

    /// Encodes an input whose mutation is a single-field variant (not `Many`).
    ///
    /// # Panics
    /// For `Mutation::Many`, which the seeder does not need.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.iv);
        for v in &self.chunks {
            out.extend_from_slice(&v.to_le_bytes());
        }
        const COUNT: u64 = 8;
        match &self.mutation {
            Mutation::FlipCiphertext { pos, mask } => {
                out.extend_from_slice(&variant_selector(0, COUNT));
                out.extend_from_slice(&pos.to_le_bytes());
                out.push(*mask);
            }
            Mutation::FlipTag { pos, mask } => {
                out.extend_from_slice(&variant_selector(1, COUNT));
                out.extend_from_slice(&[*pos, *mask]);
            }
            Mutation::FlipIv { pos, mask } => {
                out.extend_from_slice(&variant_selector(2, COUNT));
                out.extend_from_slice(&[*pos, *mask]);
            }
            Mutation::FlipKey { pos, mask } => {
                out.extend_from_slice(&variant_selector(3, COUNT));
                out.extend_from_slice(&[*pos, *mask]);
            }
            Mutation::Truncate { by } => {
                out.extend_from_slice(&variant_selector(4, COUNT));
                out.extend_from_slice(&by.to_le_bytes());
            }
            Mutation::Extend { bytes, len } => {
                out.extend_from_slice(&variant_selector(5, COUNT));
                out.extend_from_slice(bytes);
                out.push(*len);
            }
            Mutation::Swap { a, b } => {
                out.extend_from_slice(&variant_selector(6, COUNT));
                out.extend_from_slice(&a.to_le_bytes());
                out.extend_from_slice(&b.to_le_bytes());
            }
            Mutation::Many(_) => panic!("Mutation::Many is not encodable here"),
        }
        out.extend_from_slice(self.plaintext);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_key_input_round_trips() {
        for (i, mode) in PrivateKeyMode::ALL.into_iter().enumerate() {
            let input = PrivateKeyInput {
                mode,
                rsa4096: i % 2 == 0,
                unwrap_check: i % 3 == 0,
                iterations: (i as u32 % 4) + 1,
                password: "Qwer1234!ä🐛".into(),
                document: b"{\"version\":\"A\"}",
            };
            let bytes = input.encode();
            assert_eq!(PrivateKeyInput::parse(&bytes), Some(input));
        }
    }

    #[test]
    fn public_key_input_round_trips() {
        for mode in [PublicKeyMode::Json, PublicKeyMode::Pem, PublicKeyMode::Der] {
            let input = PublicKeyInput {
                mode,
                rsa4096: true,
                document: b"x",
            };
            assert_eq!(PublicKeyInput::parse(&input.encode()), Some(input));
        }
    }

    #[test]
    fn stream_input_round_trips() {
        let input = StreamInput {
            key: [7; 32],
            iv: [9; 12],
            enc_chunks: [1, 2, 300, 4, 5, 65535],
            dec_chunks: [0, 16, 17, 15, 4096, 1],
            copy_mask: 0xA5,
            plaintext: b"hello world",
        };
        assert_eq!(StreamInput::parse(&input.encode()), Some(input));
    }

    #[test]
    fn tamper_input_round_trips() {
        let mutations = [
            Mutation::FlipCiphertext {
                pos: 70000,
                mask: 3,
            },
            Mutation::FlipTag {
                pos: 15,
                mask: 0x80,
            },
            Mutation::FlipIv { pos: 1, mask: 1 },
            Mutation::FlipKey {
                pos: 31,
                mask: 0xFF,
            },
            Mutation::Truncate { by: 5 },
            Mutation::Extend {
                bytes: [1, 2, 3, 4],
                len: 2,
            },
            Mutation::Swap { a: 1, b: 2 },
        ];
        for mutation in mutations {
            let input = TamperInput {
                key: [1; 32],
                iv: [2; 12],
                chunks: [3, 4, 5],
                mutation,
                plaintext: b"plaintext",
            };
            assert_eq!(TamperInput::parse(&input.encode()), Some(input));
        }
    }
}
