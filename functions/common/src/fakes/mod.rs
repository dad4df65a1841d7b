//! In-memory fakes of the ports (feature `contract-tests`), for unit-testing the handlers
//! without moto. They pass the same [`crate::contract`] suite as the AWS and local adapters,
//! and each can be told to fail its next call of a kind ([`Call`]) to drive error paths.

mod endpoint;
mod faults;
mod pipelines;
mod registry;
mod store;

pub use endpoint::MemoryEndpoint;
pub use faults::Call;
pub use pipelines::{FakeExecution, MemoryPipelines};
pub use registry::MemoryRegistry;
pub use store::MemoryStore;

/// Milliseconds since the Unix epoch, for the fakes' timestamps.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Locks `mutex`, taking the data of a poisoned one (a test that panicked holding it).
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
