//! The one retry policy for transient port failures (throttling, 5xx, timeouts), applied once,
//! at the transport, never again in a handler:
//!
//! - the AWS SDK adapters retry through the SDK's standard retry mode, built from [`Backoff`]
//!   where the SDK configuration is loaded (`aws::sdk_config_loader`);
//! - an adapter whose client retries nothing (the local endpoint) is wrapped in [`Retrying`].
//!
//! What a handler loops on is not a transport retry: the deployer's and the reporter's
//! optimistic-concurrency loops re-read and rewrite after a lost conditional write.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;

use crate::ports::{Invocation, InvocationOutput, ModelEndpoint};
use crate::PortError;

/// How many times and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in total, the first included.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles for each attempt after.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
}

impl Default for Backoff {
    /// Four attempts, 50 ms doubling up to 1 s: a throttled call is given about a second and a
    /// half, short next to a Lambda timeout and a Function URL client's patience.
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

/// A [`ModelEndpoint`] whose throttled invocations are retried by [`Backoff`]: the transport
/// retry of an endpoint client that has none (the SDK adapter has the SDK's; do not wrap it).
#[derive(Debug, Clone)]
pub struct Retrying<E> {
    endpoint: E,
    backoff: Backoff,
}

impl<E: ModelEndpoint> Retrying<E> {
    /// `endpoint`, retried by `backoff`.
    pub fn new(endpoint: E, backoff: Backoff) -> Self {
        Retrying { endpoint, backoff }
    }
}

#[async_trait]
impl<E: ModelEndpoint> ModelEndpoint for Retrying<E> {
    async fn invoke(&self, invocation: &Invocation) -> Result<InvocationOutput, PortError> {
        retry_throttled(self.backoff, || self.endpoint.invoke(invocation)).await
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

    struct Throttled(AtomicU32);

    #[async_trait]
    impl ModelEndpoint for Throttled {
        async fn invoke(&self, _: &Invocation) -> Result<InvocationOutput, PortError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(PortError::Throttled("busy".into()))
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_retrying_endpoint_makes_the_configured_attempts() {
        let inner = Throttled(AtomicU32::new(0));
        let backoff = Backoff {
            attempts: 3,
            ..Backoff::default()
        };
        let endpoint = Retrying::new(&inner, backoff);
        let invocation = Invocation {
            target_model: "m".into(),
            content_type: "text/csv".into(),
            accept: None,
            body: Vec::new(),
        };
        assert!(endpoint.invoke(&invocation).await.is_err());
        assert_eq!(inner.0.load(Ordering::SeqCst), 3);
    }
}
