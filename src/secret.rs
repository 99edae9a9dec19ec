//! Secret values: zeroized when dropped, redacted in `Debug`.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A password that protects a private key (a key pair password, a share password or a rescue
/// key password).
///
/// The text is wiped from memory when the value is dropped and never printed:
///
/// ```
/// use dracoon_crypto::Password;
/// let pw = Password::new("Qwer1234!");
/// assert_eq!(format!("{pw:?}"), "Password(<redacted>)");
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

impl Password {
    /// Wraps a password. The string's buffer is taken over and wiped on drop.
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }

    /// The password text.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the password is empty (empty passwords are refused when encrypting).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The byte strings the DRACOON SDKs have derived keys from, in the order to try them
    /// (FORMAT.md §2.6): UTF-8; then ISO-8859-1 when every character is at most U+00FF and
    /// that differs from UTF-8; then the Java SDK 2.x form (the low byte of each UTF-16 code
    /// unit) when it differs from both.
    pub(crate) fn candidates(&self) -> Vec<Zeroizing<Vec<u8>>> {
        let utf8 = Zeroizing::new(self.0.as_bytes().to_vec());
        let mut out = vec![utf8];
        if self.0.is_ascii() {
            return out;
        }
        if self.0.chars().all(|c| u32::from(c) <= 0xFF) {
            // Every char fits one byte: ISO-8859-1 and the low-byte form coincide.
            let latin1: Zeroizing<Vec<u8>> = Zeroizing::new(
                self.0
                    .chars()
                    .map(|c| (u32::from(c) & 0xFF) as u8)
                    .collect(),
            );
            out.push(latin1);
        } else {
            let low_bytes: Zeroizing<Vec<u8>> = Zeroizing::new(
                self.0
                    .encode_utf16()
                    .map(|unit| (unit & 0xFF) as u8)
                    .collect(),
            );
            out.push(low_bytes);
        }
        out
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Self {
        Password::new(s)
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Password::new(s)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A fixed-size secret byte array, wiped on drop and redacted in `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct SecretArray<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> fmt::Debug for SecretArray<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{N} secret bytes>")
    }
}

impl<const N: usize> PartialEq for SecretArray<N> {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&other.0).into()
    }
}

impl<const N: usize> Eq for SecretArray<N> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(s: &str) -> Vec<Vec<u8>> {
        Password::new(s)
            .candidates()
            .iter()
            .map(|c| c.to_vec())
            .collect()
    }

    #[test]
    fn ascii_has_one_candidate() {
        assert_eq!(cands("Qwer1234!"), vec![b"Qwer1234!".to_vec()]);
    }

    #[test]
    fn latin1_candidates() {
        // FORMAT.md §2.6 table
        assert_eq!(
            cands("Qwer1234!ä"),
            vec![b"Qwer1234!\xC3\xA4".to_vec(), b"Qwer1234!\xE4".to_vec()]
        );
    }

    #[test]
    fn emoji_gets_the_java_low_byte_form() {
        assert_eq!(
            cands("Qwer1234!ä🐛"),
            vec![
                b"Qwer1234!\xC3\xA4\xF0\x9F\x90\x9B".to_vec(),
                b"Qwer1234!\xE4\x3D\x1B".to_vec()
            ]
        );
    }

    #[test]
    fn debug_is_redacted() {
        let s = format!("{:?}", Password::new("hunter2"));
        assert!(!s.contains("hunter2"));
        let a = SecretArray([7u8; 4]);
        assert_eq!(format!("{a:?}"), "<4 secret bytes>");
    }
}
