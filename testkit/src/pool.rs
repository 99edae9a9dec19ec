//! Request body buffers that go back to the server when the bytes in them are dropped.
//!
//! Every chunk of an upload is read into a buffer of its size and kept as the stored file (see
//! [`crate::content`]). Fresh memory is expensive on a virtual machine: the transfer benchmark
//! spent about 40 % of all its CPU time in the kernel zeroing new pages, most of it for the
//! server's chunk buffers. A buffer freed by a replaced or deleted file now goes to this pool,
//! and the next large body is read into it, so a server that keeps replacing its files no
//! longer touches new memory, and a benchmark measures the client rather than page faults.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use bytes::Bytes;

/// Bodies smaller than this are not worth pooling.
const MIN_POOLED: usize = 1 << 20;
/// At most this many bytes of capacity wait in the pool; more are freed.
const MAX_POOLED: usize = 1 << 30;

#[derive(Default)]
struct Free {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

/// A pool of body buffers, shared by a server's connections.
#[derive(Clone, Default)]
pub(crate) struct BodyPool(Arc<Mutex<Free>>);

impl BodyPool {
    /// An empty buffer with room for at least `capacity` bytes: the smallest pooled one that
    /// fits, or a new one.
    pub(crate) fn take(&self, capacity: usize) -> Vec<u8> {
        if capacity >= MIN_POOLED {
            let mut free = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            let best = free
                .buffers
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= capacity)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i);
            if let Some(i) = best {
                let mut buf = free.buffers.swap_remove(i);
                free.bytes -= buf.capacity();
                buf.clear();
                return buf;
            }
        }
        Vec::with_capacity(capacity)
    }

    /// `buf` as [`Bytes`] that hand the buffer back to the pool when the last of them is dropped
    /// (if the pool still exists and has room).
    pub(crate) fn bytes(&self, buf: Vec<u8>) -> Bytes {
        if buf.capacity() < MIN_POOLED {
            return Bytes::from(buf);
        }
        Bytes::from_owner(Pooled {
            buf,
            pool: Arc::downgrade(&self.0),
        })
    }

    #[cfg(test)]
    fn pooled(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .buffers
            .len()
    }
}

struct Pooled {
    buf: Vec<u8>,
    pool: Weak<Mutex<Free>>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(pool) = self.pool.upgrade() else {
            return;
        };
        let mut free = pool.lock().unwrap_or_else(PoisonError::into_inner);
        let cap = self.buf.capacity();
        if free.bytes + cap <= MAX_POOLED {
            free.bytes += cap;
            free.buffers.push(std::mem::take(&mut self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_body_is_reused_for_the_next_one_that_fits() {
        let pool = BodyPool::default();
        let mut buf = pool.take(2 * MIN_POOLED);
        buf.extend_from_slice(&vec![7u8; 2 * MIN_POOLED]);
        let at = buf.as_ptr();
        let bytes = pool.bytes(buf);
        let shared = bytes.slice(10..20);
        drop(bytes);
        assert_eq!(pool.pooled(), 0, "a slice still holds it");
        assert_eq!(&shared[..], &[7u8; 10]);
        drop(shared);
        assert_eq!(pool.pooled(), 1);
        // Too big for it: a new buffer; one that fits: the pooled one, empty.
        let bigger = pool.take(3 * MIN_POOLED);
        assert_ne!(bigger.as_ptr(), at);
        let again = pool.take(MIN_POOLED);
        assert_eq!((again.as_ptr(), again.len()), (at, 0));
        assert_eq!(pool.pooled(), 0);
    }

    #[test]
    fn small_bodies_and_bodies_outliving_the_pool_are_simply_freed() {
        let pool = BodyPool::default();
        drop(pool.bytes(b"small".to_vec()));
        assert_eq!(pool.pooled(), 0);
        let big = pool.bytes(vec![1u8; MIN_POOLED]);
        drop(pool);
        assert_eq!(big.len(), MIN_POOLED);
        drop(big);
    }
}
