//! The one pool of worker threads every execution of an executor shares.
//!
//! Steps and tuning trials are tasks on it, and each container job holds the worker that runs
//! it while it waits for the process, so its size — `ExecutorConfig::max_parallel_jobs`, or
//! the number of cores — bounds the jobs running at once over all executions. A step that
//! waits for its trials lends its worker to them (rayon's scopes run queued tasks while they
//! wait), so nested work cannot starve the pool.

use crate::error::ExecutorError;

/// A pool of `size` workers named `mmp-executor-<n>`.
pub(crate) fn workers(size: usize) -> Result<rayon::ThreadPool, ExecutorError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(size.max(1))
        .thread_name(|n| format!("mmp-executor-{n}"))
        .build()
        .map_err(ExecutorError::Workers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn the_pool_bounds_concurrency_even_when_tasks_nest() {
        let pool = workers(2).unwrap();
        let running = AtomicUsize::new(0);
        let max = AtomicUsize::new(0);
        let job = || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            running.fetch_sub(1, Ordering::SeqCst);
        };
        // Two "steps", each waiting for three "trials" on the same pool, as a tuning step does.
        pool.in_place_scope(|steps| {
            for _ in 0..2 {
                steps.spawn(|_| pool.scope(|trials| (0..3).for_each(|_| trials.spawn(|_| job()))));
            }
        });
        assert_eq!(max.load(Ordering::SeqCst), 2);
        assert_eq!(pool.current_num_threads(), 2);
    }
}
