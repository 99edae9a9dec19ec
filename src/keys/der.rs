//! A small DER reader and writer for the handful of structures this crate handles.
//!
//! The reader is deliberately lenient in one way only: INTEGERs may carry redundant leading
//! zero octets (FORMAT.md §2.5: the Java SDK's `private_key_bad_asn1.json` must open, and Bouncy
//! Castle, .NET and OpenSSL accept it). Everything else is checked: definite lengths only, no
//! trailing bytes, negative integers rejected.

/// Malformed DER (deliberately without detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DerError;

pub(crate) type DerResult<T> = Result<T, DerError>;

pub(crate) const TAG_INTEGER: u8 = 0x02;
pub(crate) const TAG_BIT_STRING: u8 = 0x03;
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
pub(crate) const TAG_NULL: u8 = 0x05;
pub(crate) const TAG_OID: u8 = 0x06;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;

/// Object identifiers, as the content octets of their DER encoding.
pub(crate) mod oid {
    /// rsaEncryption 1.2.840.113549.1.1.1
    pub(crate) const RSA_ENCRYPTION: &[u8] =
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    /// id-PBES2 1.2.840.113549.1.5.13
    pub(crate) const PBES2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D];
    /// id-PBKDF2 1.2.840.113549.1.5.12
    pub(crate) const PBKDF2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C];
    /// hmacWithSHA1 1.2.840.113549.2.7
    pub(crate) const HMAC_SHA1: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x07];
    /// hmacWithSHA256 1.2.840.113549.2.9
    pub(crate) const HMAC_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x09];
    /// aes128-CBC 2.16.840.1.101.3.4.1.2
    pub(crate) const AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
    /// aes192-CBC 2.16.840.1.101.3.4.1.22
    pub(crate) const AES192_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16];
    /// aes256-CBC 2.16.840.1.101.3.4.1.42
    pub(crate) const AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2A];
}

/// Reads DER elements one after another from a byte slice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// Reads one element: its tag and content.
    pub(crate) fn any(&mut self) -> DerResult<(u8, &'a [u8])> {
        let (&tag, rest) = self.data.split_first().ok_or(DerError)?;
        if tag & 0x1F == 0x1F {
            return Err(DerError); // high tag numbers never occur here
        }
        let (&first, mut rest) = rest.split_first().ok_or(DerError)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 {
                return Err(DerError); // indefinite or absurd
            }
            let (len_bytes, after) = rest.split_at_checked(n).ok_or(DerError)?;
            rest = after;
            len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let (content, after) = rest.split_at_checked(len).ok_or(DerError)?;
        self.data = after;
        Ok((tag, content))
    }

    /// Reads one element that must have `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> DerResult<&'a [u8]> {
        match self.any()? {
            (t, content) if t == tag => Ok(content),
            _ => Err(DerError),
        }
    }

    pub(crate) fn sequence(&mut self) -> DerResult<Reader<'a>> {
        self.expect(TAG_SEQUENCE).map(Reader::new)
    }

    pub(crate) fn oid(&mut self) -> DerResult<&'a [u8]> {
        self.expect(TAG_OID)
    }

    pub(crate) fn octet_string(&mut self) -> DerResult<&'a [u8]> {
        self.expect(TAG_OCTET_STRING)
    }

    pub(crate) fn null(&mut self) -> DerResult<()> {
        if self.expect(TAG_NULL)?.is_empty() {
            Ok(())
        } else {
            Err(DerError)
        }
    }

    /// Reads a NULL if one comes next (optional algorithm parameters).
    pub(crate) fn optional_null(&mut self) -> DerResult<()> {
        if self.peek_tag() == Some(TAG_NULL) {
            self.null()?;
        }
        Ok(())
    }

    /// A non-negative INTEGER as big-endian magnitude without leading zeros (may be empty for 0).
    pub(crate) fn unsigned_integer(&mut self) -> DerResult<&'a [u8]> {
        let content = self.expect(TAG_INTEGER)?;
        match content.first() {
            None => Err(DerError),
            Some(&b) if b & 0x80 != 0 => Err(DerError), // negative
            Some(_) => {
                let start = content
                    .iter()
                    .position(|&b| b != 0)
                    .unwrap_or(content.len());
                content.get(start..).ok_or(DerError)
            }
        }
    }

    /// A small non-negative INTEGER.
    pub(crate) fn small_uint(&mut self) -> DerResult<u64> {
        let bytes = self.unsigned_integer()?;
        if bytes.len() > 8 {
            return Err(DerError);
        }
        Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Ends the reader: nothing may be left.
    pub(crate) fn finish(self) -> DerResult<()> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(DerError)
        }
    }
}

/// Encodes one element.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let used = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | used.len() as u8);
        out.extend_from_slice(used);
    }
    out.extend_from_slice(content);
    out
}

/// Encodes a SEQUENCE of already encoded elements.
pub(crate) fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, &parts.concat())
}

/// Encodes a non-negative INTEGER from its big-endian magnitude.
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    let trimmed = magnitude.get(start..).unwrap_or_default();
    match trimmed.first() {
        None => tlv(TAG_INTEGER, &[0]),
        Some(&b) if b & 0x80 != 0 => tlv(TAG_INTEGER, &[&[0], trimmed].concat()),
        Some(_) => tlv(TAG_INTEGER, trimmed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 65_536] {
            let content = vec![0xAB; len];
            let enc = tlv(TAG_OCTET_STRING, &content);
            let mut r = Reader::new(&enc);
            assert_eq!(r.octet_string().unwrap(), content.as_slice());
            r.finish().unwrap();
        }
    }

    #[test]
    fn integers() {
        assert_eq!(
            unsigned_integer(&[0x13, 0xD6, 0x20]),
            vec![0x02, 0x03, 0x13, 0xD6, 0x20]
        );
        assert_eq!(unsigned_integer(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(unsigned_integer(&[0, 0]), vec![0x02, 0x01, 0x00]);
        // Redundant leading zeros are accepted on input.
        let mut r = Reader::new(&[0x02, 0x03, 0x00, 0x00, 0x05]);
        assert_eq!(r.small_uint().unwrap(), 5);
        // Negative numbers are not.
        assert!(Reader::new(&[0x02, 0x01, 0x80]).unsigned_integer().is_err());
        assert!(Reader::new(&[0x02, 0x00]).unsigned_integer().is_err());
    }

    #[test]
    fn truncated_and_indefinite_are_errors() {
        assert!(Reader::new(&[0x30]).any().is_err());
        assert!(Reader::new(&[0x30, 0x05, 0x00]).any().is_err());
        assert!(Reader::new(&[0x30, 0x80, 0x00, 0x00]).any().is_err());
        assert!(Reader::new(&[0x30, 0x85, 1, 1, 1, 1, 1]).any().is_err());
        assert!(Reader::new(&[0x1F, 0x01, 0x00]).any().is_err());
        assert!(Reader::new(&[0x05, 0x00, 0x00]).finish().is_err());
    }
}
