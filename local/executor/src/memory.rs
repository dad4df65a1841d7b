//! The memory every running job of an executor shares: a job starts only when its estimate
//! ([`mmp_pipeline::memory::job_estimate`]) fits beside the jobs running, so the executor runs
//! as many jobs at once as memory allows as well as cores allow. A job larger than the whole
//! budget runs alone rather than never.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// How often a job waiting for memory checks whether its execution was stopped.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Bytes of memory jobs may hold at once, and how many they hold.
pub(crate) struct MemoryBudget {
    total: u64,
    held: Mutex<u64>,
    freed: Condvar,
}

/// Memory held by one running job, given back when dropped.
pub(crate) struct Reservation<'a> {
    budget: &'a MemoryBudget,
    bytes: u64,
}

impl MemoryBudget {
    pub(crate) fn new(total: u64) -> MemoryBudget {
        MemoryBudget {
            total,
            held: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Waits until `bytes` fit beside what running jobs hold (or nothing runs), then holds
    /// them; `None` if `stop` is set first.
    pub(crate) fn reserve(&self, bytes: u64, stop: &AtomicBool) -> Option<Reservation<'_>> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            if *held == 0 || held.saturating_add(bytes) <= self.total {
                *held = held.saturating_add(bytes);
                return Some(Reservation {
                    budget: self,
                    bytes,
                });
            }
            held = self
                .freed
                .wait_timeout(held, STOP_CHECK)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut held = self
            .budget
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *held = held.saturating_sub(self.bytes);
        self.budget.freed.notify_all();
    }
}

/// The memory this machine can give jobs: what Linux reports available (`MemAvailable`) when
/// the executor opens, or no bound where that cannot be read.
pub(crate) fn available() -> u64 {
    mmp_pipeline::memory::machine_available().unwrap_or(u64::MAX)
}

/// Bytes of the files under `dir` (a job's folder holds only its inputs when it starts).
pub(crate) fn input_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => input_bytes(&entry.path()),
            Ok(_) => std::fs::metadata(entry.path()).map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn jobs_run_at_once_only_as_far_as_memory_allows() {
        let budget = Arc::new(MemoryBudget::new(100));
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (budget, stop, running, most) =
                    (budget.clone(), stop.clone(), running.clone(), most.clone());
                std::thread::spawn(move || {
                    let _held = budget.reserve(40, &stop).unwrap();
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2, "two of 40 fit in 100");
        assert_eq!(*budget.held.lock().unwrap(), 0, "all given back");
    }

    #[test]
    fn a_job_larger_than_the_budget_runs_alone_and_a_stop_ends_the_wait() {
        let budget = MemoryBudget::new(100);
        let stop = AtomicBool::new(false);
        let big = budget.reserve(500, &stop).expect("nothing runs: it may");
        std::thread::scope(|s| {
            let waiting = s.spawn(|| budget.reserve(1, &stop).is_none());
            std::thread::sleep(Duration::from_millis(150));
            stop.store(true, Ordering::SeqCst);
            assert!(waiting.join().unwrap(), "stopped while waiting");
        });
        drop(big);
        stop.store(false, Ordering::SeqCst);
        assert!(budget.reserve(100, &stop).is_some());
    }

    #[test]
    fn sums_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("input/data/train")).unwrap();
        std::fs::write(dir.path().join("input/data/train/a.csv"), [0u8; 300]).unwrap();
        std::fs::write(dir.path().join("b.json"), [0u8; 12]).unwrap();
        assert_eq!(input_bytes(dir.path()), 312);
    }
}
