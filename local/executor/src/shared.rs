//! What every execution of one executor shares: configuration, hooks, state database, store,
//! worker pool, and the executions it runs with their stop flags.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use mmp_object_store::LocalStore;

use crate::config::ExecutorConfig;
use crate::db::Db;
use crate::hooks::ExecutorHooks;
use crate::model::ExecutionStatus;

/// The state behind every clone of an [`crate::Executor`].
pub(crate) struct Inner {
    pub config: ExecutorConfig,
    pub hooks: Arc<dyn ExecutorHooks>,
    pub db: Db,
    pub store: LocalStore,
    /// Runs every step and trial; its size bounds the jobs running at once (`crate::pool`).
    pub workers: rayon::ThreadPool,
    /// The memory running jobs share; a job starts when its estimate fits (`crate::memory`).
    pub memory: crate::memory::MemoryBudget,
    pub owner: String,
    /// Executions this executor is running, with their stop flags.
    pub live: Mutex<HashMap<String, Arc<AtomicBool>>>,
    pub ended: Condvar,
}

impl Inner {
    /// How many jobs run at once at most, over all executions: the pool's size.
    pub fn max_parallel(&self) -> usize {
        self.workers.current_num_threads()
    }

    /// Records the end of an execution and tells the hooks.
    pub fn finish(&self, id: &str, status: ExecutionStatus, reason: Option<&str>) {
        // The end must be recorded, or the execution stays Executing until the next start:
        // ride out a busy database (other parts of mmp share it) for a while.
        let mut ended = self.db.end_execution(id, status, reason);
        for pause in [1, 5, 30] {
            if ended.is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_secs(pause));
            ended = self.db.end_execution(id, status, reason);
        }
        match ended {
            Ok(Some((before, after))) => {
                tracing::info!(execution = %id, status = %after.status, reason = ?after.failure_reason, "execution ended");
                self.hooks
                    .execution_status_changed(&after, Some(before.status));
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(execution = %id, error = %e, "cannot record the end of the execution")
            }
        }
        if !self.config.keep_job_inputs {
            match crate::retention::prune_execution(&self.config.jobs_root.join(id)) {
                Ok(freed) => {
                    tracing::debug!(execution = %id, freed, "job inputs and models dropped")
                }
                Err(e) => {
                    tracing::warn!(execution = %id, error = %e, "cannot drop the ended execution's job inputs")
                }
            }
        }
        self.lock_live().remove(id);
        self.ended.notify_all();
    }

    pub fn lock_live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<AtomicBool>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}
