//! The memory every running job of an executor shares: a job starts only when its estimate
//! ([`job_needs`]) fits beside the jobs running, so the executor runs as many jobs at once as
//! memory allows as well as cores allow. A job larger than the whole budget runs alone rather
//! than never.

use std::collections::BTreeMap;
use std::io::Read;
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

/// The most of a job's small JSON files (its hyperparameters, the split's shape) read for an
/// estimate: the shape comes from a job's output, so it is read bounded.
const MAX_ESTIMATE_FILE_BYTES: u64 = 1 << 20;

/// The memory the job of `command` in folder `dir` needs by its estimate, once its inputs are
/// in place: from their size ([`mmp_pipeline::memory::job_estimate`]), and for a train job
/// also from the train split's rows and classes when the preprocess job wrote them, with the
/// family and folds its hyperparameters name ([`mmp_pipeline::memory::train_estimate`]).
pub(crate) fn job_needs(dir: &Path, command: &str) -> u64 {
    use mmp_pipeline::contract::{CHANNELS_DIR, CMD_TRAIN, HYPERPARAMETERS_FILE, TRAIN_CHANNEL};
    use mmp_pipeline::memory::{job_estimate, train_estimate, TrainFits, SPLIT_SHAPE_FILE};
    let input = input_bytes(dir);
    if command != CMD_TRAIN {
        return job_estimate(command, input);
    }
    let shape_file = dir
        .join(CHANNELS_DIR)
        .join(TRAIN_CHANNEL)
        .join(SPLIT_SHAPE_FILE);
    // Without a shape (a split written by an earlier version), the inputs' size alone.
    let Some(shape) = read_small_json(&shape_file) else {
        return job_estimate(command, input);
    };
    let hyperparameters: BTreeMap<String, String> =
        read_small_json(&dir.join(HYPERPARAMETERS_FILE)).unwrap_or_default();
    train_estimate(input, &TrainFits::new(&hyperparameters, shape))
}

/// `path` parsed as JSON, `None` when it is missing, larger than
/// [`MAX_ESTIMATE_FILE_BYTES`] or not what `T` reads.
fn read_small_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let file = std::fs::File::open(path).ok()?;
    let mut text = Vec::new();
    file.take(MAX_ESTIMATE_FILE_BYTES + 1)
        .read_to_end(&mut text)
        .ok()?;
    if text.len() as u64 > MAX_ESTIMATE_FILE_BYTES {
        tracing::warn!(path = %path.display(), "larger than an estimate reads: ignored");
        return None;
    }
    match serde_json::from_slice(&text) {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable: ignored for the estimate");
            None
        }
    }
}

/// Bytes of the files under `dir` (a job's folder holds only its inputs when it starts).
fn input_bytes(dir: &Path) -> u64 {
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

    #[test]
    fn a_train_jobs_estimate_counts_the_classes_its_split_names() {
        use mmp_pipeline::memory::{job_estimate, train_estimate, SplitShape, TrainFits};
        let dir = tempfile::tempdir().unwrap();
        let channel = dir.path().join("input/data/train");
        std::fs::create_dir_all(&channel).unwrap();
        std::fs::write(channel.join("dataset.csv"), vec![b'1'; 3 << 20]).unwrap();
        let hyperparameters = dir.path().join("input/config/hyperparameters.json");
        std::fs::create_dir_all(hyperparameters.parent().unwrap()).unwrap();
        let hp = r#"{"algorithm": "\"XGBoost\"", "cross-validation": "true"}"#;
        std::fs::write(&hyperparameters, hp).unwrap();
        let before = input_bytes(dir.path());
        // A split written without its shape: the inputs' size alone.
        assert_eq!(
            job_needs(dir.path(), "train"),
            job_estimate("train", before)
        );
        let shape = SplitShape {
            rows: 16_000,
            classes: 500,
        };
        let shape_file = channel.join(".shape.json");
        std::fs::write(&shape_file, serde_json::to_vec(&shape).unwrap()).unwrap();
        let input = input_bytes(dir.path());
        let map = serde_json::from_str(hp).unwrap();
        let needs = job_needs(dir.path(), "train");
        assert_eq!(needs, train_estimate(input, &TrainFits::new(&map, shape)));
        assert!(needs > 2_000_000_000, "5 folds of 500 classes: {needs}");
        // Processing jobs are estimated by their inputs whatever lies beside them.
        assert_eq!(
            job_needs(dir.path(), "evaluate"),
            job_estimate("evaluate", input)
        );
        // A shape that is not one, or is too large to read, is left out of the estimate.
        for bad in [
            b"{\"rows\": -1}".to_vec(),
            vec![b' '; (MAX_ESTIMATE_FILE_BYTES + 1) as usize],
        ] {
            std::fs::write(&shape_file, &bad).unwrap();
            let input = input_bytes(dir.path());
            assert_eq!(job_needs(dir.path(), "train"), job_estimate("train", input));
        }
    }
}
