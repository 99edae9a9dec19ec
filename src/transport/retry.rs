//! Retry policy: bounded exponential back-off with jitter.

use std::time::Duration;

/// When and how often a failed idempotent step is retried.
///
/// Retried: connection errors, timeouts, dropped connections, `429 Too Many Requests` (waiting
/// at least `Retry-After`, capped at [`RetryPolicy::max_retry_after`]) and `5xx`. Never retried:
/// other `4xx`. A step that is not idempotent (creating an upload channel or a share,
/// completing an upload) is retried only when the server certainly did not act on it: the
/// connection could not be opened, or the answer was `429`.
///
/// ```
/// use std::time::Duration;
/// use dracoon_crypto::transport::RetryPolicy;
/// let policy = RetryPolicy::default().with_max_retries(3).with_base_delay(Duration::from_millis(50));
/// assert_eq!(policy.max_retries, 3);
/// assert!(RetryPolicy::none().max_retries == 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: no retries).
    pub max_retries: u32,
    /// Delay before the first retry; doubled for each further one.
    pub base_delay: Duration,
    /// Upper bound of one back-off delay.
    pub max_delay: Duration,
    /// Upper bound of a server's `Retry-After`.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(15),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    #[must_use]
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// With another number of retries.
    #[must_use]
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// With another first delay.
    #[must_use]
    pub fn with_base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// With another delay cap.
    #[must_use]
    pub fn with_max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// With another `Retry-After` cap.
    #[must_use]
    pub fn with_max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// The back-off before retry number `retry` (0-based): `base * 2^retry`, capped, with
    /// "equal jitter" (a random value between half and all of it). `retry_after` (from a 429)
    /// raises it to at least that, capped at `max_retry_after`.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry.min(30)).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let half = exp / 2;
        let jitter = jitter_fraction();
        let backoff = half + half.mul_f64(jitter);
        match retry_after {
            Some(ra) => backoff.max(ra.min(self.max_retry_after)),
            None => backoff,
        }
    }
}

/// A number in [0, 1) from the OS RNG (0.5 if it fails; jitter is not security relevant).
fn jitter_fraction() -> f64 {
    use rand::TryRng as _;
    let mut b = [0u8; 4];
    match rand::rngs::SysRng.try_fill_bytes(&mut b) {
        Ok(()) => f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_honour_retry_after() {
        let p = RetryPolicy::default()
            .with_base_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(1));
        for retry in 0..40 {
            let d = p.delay(retry, None);
            assert!(d <= Duration::from_secs(1), "{d:?}");
        }
        let d0 = p.delay(0, None);
        assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
        let d = p.delay(0, Some(Duration::from_secs(3)));
        assert!(d >= Duration::from_secs(3));
        let d = p.delay(0, Some(Duration::from_secs(3600)));
        assert_eq!(d, Duration::from_secs(60));
    }
}
