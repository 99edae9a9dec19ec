//! A stored file's bytes, kept as the pieces they were uploaded in.
//!
//! A completed chunked upload used to be copied into one new buffer of the file's size. On the
//! benchmark machine that copy into fresh memory took 120-750 ms for 256 MiB, more than all
//! the chunk requests together, and it was the same for raw and encrypted uploads: the server,
//! not the client, set the pace. The chunks are now kept as received (`Bytes` share them), and
//! a ranged download that falls inside one chunk is served without a copy, which is what a
//! client downloading in the upload's chunk size asks for.

use std::fmt;
use std::io::{self, Read};

use bytes::Bytes;

/// The bytes of a file: non-empty pieces in order, each shared, never copied on `clone`.
#[derive(Clone, Default)]
pub(crate) struct Content {
    parts: Vec<Bytes>,
    /// `ends[i]`: the offset just after `parts[i]`.
    ends: Vec<usize>,
}

impl Content {
    /// The pieces in order (empty ones are dropped).
    pub(crate) fn from_parts(parts: impl IntoIterator<Item = Bytes>) -> Self {
        let mut content = Content::default();
        let mut end = 0usize;
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            end += part.len();
            content.parts.push(part);
            content.ends.push(end);
        }
        content
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Bytes `start..end` (clamped to the content): shared if they lie in one piece, else copied.
    pub(crate) fn slice(&self, start: usize, end: usize) -> Bytes {
        let end = end.min(self.len());
        if start >= end {
            return Bytes::new();
        }
        // The first piece that ends after `start`.
        let first = self.ends.partition_point(|&e| e <= start);
        let begin_of = |i: usize| if i == 0 { 0 } else { self.ends[i - 1] };
        if end <= self.ends[first] {
            let base = begin_of(first);
            return self.parts[first].slice(start - base..end - base);
        }
        let mut out = Vec::with_capacity(end - start);
        for (i, part) in self.parts.iter().enumerate().skip(first) {
            let base = begin_of(i);
            if base >= end {
                break;
            }
            let from = start.saturating_sub(base);
            let to = (end - base).min(part.len());
            out.extend_from_slice(&part[from..to]);
        }
        Bytes::from(out)
    }

    /// All bytes as one buffer (shared for a single piece).
    pub(crate) fn to_bytes(&self) -> Bytes {
        self.slice(0, self.len())
    }

    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for part in &self.parts {
            out.extend_from_slice(part);
        }
        out
    }

    /// A reader over all bytes, without putting them together.
    pub(crate) fn reader(&self) -> ContentReader<'_> {
        ContentReader {
            parts: &self.parts,
            at: 0,
        }
    }
}

impl From<Bytes> for Content {
    fn from(bytes: Bytes) -> Self {
        Content::from_parts([bytes])
    }
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Content({} bytes in {} pieces)",
            self.len(),
            self.parts.len()
        )
    }
}

/// Reads a [`Content`] piece by piece.
pub(crate) struct ContentReader<'c> {
    parts: &'c [Bytes],
    /// Offset into `parts[0]`.
    at: usize,
}

impl Read for ContentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some((part, rest)) = self.parts.split_first() {
            let left = &part[self.at.min(part.len())..];
            if left.is_empty() {
                self.parts = rest;
                self.at = 0;
                continue;
            }
            let n = left.len().min(buf.len());
            buf[..n].copy_from_slice(&left[..n]);
            self.at += n;
            return Ok(n);
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces() -> (Content, Vec<u8>) {
        let all: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let content = Content::from_parts([
            Bytes::copy_from_slice(&all[..300]),
            Bytes::new(),
            Bytes::copy_from_slice(&all[300..301]),
            Bytes::copy_from_slice(&all[301..1000]),
        ]);
        (content, all)
    }

    #[test]
    fn every_slice_is_the_same_as_of_one_buffer() {
        let (content, all) = pieces();
        assert_eq!(content.len(), 1000);
        for start in [0, 1, 299, 300, 301, 302, 999, 1000, 1200] {
            for end in [0, 1, 300, 301, 302, 700, 999, 1000, 5000] {
                let want = all.get(start..end.min(1000)).unwrap_or_default();
                assert_eq!(&content.slice(start, end)[..], want, "{start}..{end}");
            }
        }
        assert_eq!(content.to_vec(), all);
        assert_eq!(&content.to_bytes()[..], &all[..]);
    }

    #[test]
    fn a_slice_inside_one_piece_shares_it() {
        let (content, _) = pieces();
        let piece = content.slice(301, 1000);
        assert_eq!(piece.as_ptr(), content.parts[2].as_ptr());
        static ABC: &[u8] = b"abc";
        let single = Content::from(Bytes::from_static(ABC));
        assert_eq!(single.to_bytes().as_ptr(), ABC.as_ptr());
    }

    #[test]
    fn the_reader_yields_every_byte_in_order() {
        let (content, all) = pieces();
        for size in [1, 7, 300, 4096] {
            let mut reader = content.reader();
            let mut buf = vec![0u8; size];
            let mut got = Vec::new();
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, all, "buffer of {size}");
        }
        assert_eq!(Content::default().reader().read(&mut [0u8; 4]).unwrap(), 0);
        assert_eq!(Content::default().len(), 0);
    }
}
