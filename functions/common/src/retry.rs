//! Bounded retries with exponential backoff for retryable port errors (throttling).

use std::future::Future;
use std::time::Duration;

use crate::PortError;

/// How many times and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in total, the first included.
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 4,
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl Backoff {
    /// The delay before attempt `n` (1-based; attempt 1 has none), doubled each time and capped.
    pub fn delay_before(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(16);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// Runs `call` until it succeeds, fails with a non-retryable error, or runs out of attempts.
pub async fn retry_throttled<T, F, Fut>(backoff: Backoff, mut call: F) -> Result<T, PortError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PortError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(error) if error.is_retryable() && attempt < backoff.attempts => {
                attempt += 1;
                tracing::warn!(%error, attempt, "retrying a throttled call");
                tokio::time::sleep(backoff.delay_before(attempt)).await;
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn delays_double_and_cap() {
        let backoff = Backoff {
            attempts: 10,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        assert_eq!(backoff.delay_before(2), Duration::from_millis(100));
        assert_eq!(backoff.delay_before(3), Duration::from_millis(200));
        assert_eq!(backoff.delay_before(4), Duration::from_millis(350));
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn retries_only_throttling_and_stops() {
        let calls = AtomicU32::new(0);
        let outcome: Result<(), PortError> = retry_throttled(Backoff::default(), || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(PortError::Throttled("slow down".into())) }
        })
        .await;
        assert_eq!(outcome, Err(PortError::Throttled("slow down".into())));
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        calls.store(0, Ordering::SeqCst);
        let outcome: Result<(), PortError> = retry_throttled(Backoff::default(), || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(PortError::NotFound("x".into())) }
        })
        .await;
        assert!(outcome.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
