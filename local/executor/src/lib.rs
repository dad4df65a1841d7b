//! Executes a SageMaker Pipeline definition on one machine, running every job with
//! `mmp-container`.
//!
//! The executor reads the same pipeline JSON that Terraform deploys, resolves its expressions
//! (`Get`, `Std:Join`, `Std:JsonGet`, property files), runs its steps in dependency order
//! (independent steps at once) and runs each job as a `mmp-container` process in a folder laid
//! out as SageMaker lays out `/opt/ml`. State lives in SQLite. See `docs/executor.md`.
//!
//! Threads, not async, and a stated number of them: each running execution has one scheduling
//! thread (it waits for its steps' ends), and every step, tuning trial and container job runs
//! on one worker pool shared by all executions, of `max_parallel_jobs` threads (default: the
//! number of cores), which therefore bounds the jobs running at once. A job also waits until
//! its memory estimate fits beside the running jobs' (`memory`), so memory bounds them too.

#![warn(missing_docs)]

mod condition;
mod config;
mod db;
mod definition;
mod error;
mod execution;
mod expr;
mod hooks;
mod jobs;
mod memory;
mod model;
mod owner;
mod pool;
pub mod retention;
mod schedule;
mod shared;
/// The SQLite opener mmp shares (pragmas, versioned migrations).
pub mod sqlite;
mod steps;
mod tuner;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;

pub use config::ExecutorConfig;
pub use definition::step_graph;
pub use error::{ExecutorError, RegisterError};
pub use hooks::ExecutorHooks;
pub use model::{
    ExecutionInfo, ExecutionStatus, JobInfo, JobStatus, StepInfo, StepNode, StepStatus,
};

use db::{Db, NewExecution};
use definition::{parameter_text, Pipeline};
use mmp_object_store::LocalStore;
use shared::Inner;

/// StartPipelineExecution's optional fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartOptions<'a> {
    /// Idempotency: a token already used for the pipeline returns that execution.
    pub client_request_token: Option<&'a str>,
    /// `PipelineExecutionDisplayName`.
    pub display_name: Option<&'a str>,
    /// `PipelineExecutionDescription`.
    pub description: Option<&'a str>,
}

/// The executor. Cheap to clone; every clone drives the same executions.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

/// SageMaker's execution ids: 12 lowercase letters and digits.
fn new_execution_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Executor {
    /// Opens (or creates) the state database and marks as Failed every execution left
    /// Executing by a process that no longer runs (a crash or `kill -9`).
    pub fn open(
        mut config: ExecutorConfig,
        hooks: Arc<dyn ExecutorHooks>,
    ) -> Result<Self, ExecutorError> {
        if let Some(threads) = config.threads_per_job() {
            config
                .job_env
                .push((crate::config::THREADS_ENV.into(), threads.to_string()));
        }
        std::fs::create_dir_all(&config.jobs_root).map_err(|e| {
            ExecutorError::io(format!("cannot create {}", config.jobs_root.display()), e)
        })?;
        let db = Db::open(&config.db_path)?;
        let inner = Arc::new(Inner {
            store: LocalStore::new(
                &config.bucket_name,
                config.bucket_root.clone(),
                sqlite::open(&config.db_path, &db::SCHEMA)?,
            ),
            workers: pool::workers(config.parallelism())?,
            memory: memory::MemoryBudget::new(config.memory_budget()),
            owner: owner::new_owner(),
            live: Mutex::new(HashMap::new()),
            ended: Condvar::new(),
            hooks,
            db,
            config,
        });
        for (id, dead_owner) in inner.db.orphaned(owner::is_alive)? {
            let pid = owner::pid_of(&dead_owner).map_or_else(|| "?".to_string(), |p| p.to_string());
            let reason = format!(
                "interrupted: the process running this execution (pid {pid}) ended before it finished"
            );
            tracing::warn!(execution = %id, "{reason}");
            inner.finish(&id, ExecutionStatus::Failed, Some(&reason));
        }
        Ok(Self { inner })
    }

    /// Starts an execution of `definition` (the rendered pipeline JSON) and returns at once;
    /// the execution runs on a thread of its own. Parameters are checked against the
    /// definition first. A `client_request_token` already used for this pipeline returns that
    /// execution instead of starting another.
    pub fn start(
        &self,
        pipeline_name: &str,
        definition: &str,
        parameters: BTreeMap<String, String>,
        client_request_token: Option<&str>,
    ) -> Result<ExecutionInfo, ExecutorError> {
        let options = StartOptions {
            client_request_token,
            ..StartOptions::default()
        };
        self.start_with(pipeline_name, definition, parameters, &options)
    }

    /// [`Executor::start`] with StartPipelineExecution's optional fields.
    pub fn start_with(
        &self,
        pipeline_name: &str,
        definition: &str,
        parameters: BTreeMap<String, String>,
        options: &StartOptions,
    ) -> Result<ExecutionInfo, ExecutorError> {
        let pipeline = Pipeline::parse(definition)?;
        let bound = pipeline.bind_parameters(&parameters)?;
        let texts: BTreeMap<String, String> = bound
            .iter()
            .map(|(k, v)| (k.clone(), parameter_text(v)))
            .collect();
        let id = new_execution_id();
        let config = &self.inner.config;
        let arn = format!(
            "arn:aws:sagemaker:{}:{}:pipeline/{}/execution/{id}",
            config.region,
            config.account,
            pipeline_name.to_ascii_lowercase()
        );
        let (info, created) = self.inner.db.insert_execution(&NewExecution {
            id: &id,
            arn: &arn,
            pipeline_name,
            parameters: &texts,
            definition,
            client_request_token: options.client_request_token,
            display_name: options.display_name,
            description: options.description,
            owner: &self.inner.owner,
            created: SystemTime::now(),
        })?;
        if !created {
            return Ok(info);
        }
        tracing::info!(execution = %id, pipeline = %pipeline_name, "execution started");
        self.inner.hooks.execution_status_changed(&info, None);
        self.launch(info, pipeline, bound, BTreeMap::new())
    }

    /// RetryPipelineExecution: a Failed or Stopped execution resumes under the same id and
    /// ARN, with the definition and parameters it started with. Steps that succeeded are kept
    /// (their properties feed the steps after them); failed, stopped and never-reached steps
    /// run again, each job in a fresh folder. Any other status is refused
    /// ([`ExecutorError::NotRetryable`]).
    pub fn retry(&self, execution_id: &str) -> Result<ExecutionInfo, ExecutorError> {
        let id = self.describe(execution_id)?.id;
        self.settle(&id);
        let pipeline = Pipeline::parse(&self.inner.db.definition(&id)?)?;
        let (before, info) = self.inner.db.restart_execution(&id, &self.inner.owner)?;
        let kept: BTreeMap<String, serde_json::Value> = match self.inner.db.steps(&id) {
            Ok(steps) => steps
                .into_iter()
                .filter(|s| s.status == StepStatus::Succeeded)
                .map(|s| (s.name, s.outputs))
                .collect(),
            Err(e) => {
                self.inner
                    .finish(&id, ExecutionStatus::Failed, Some(&e.to_string()));
                return Err(e);
            }
        };
        let bound = match pipeline.bind_parameters(&info.parameters) {
            Ok(bound) => bound,
            Err(e) => {
                self.inner
                    .finish(&id, ExecutionStatus::Failed, Some(&e.to_string()));
                return Err(e);
            }
        };
        tracing::info!(execution = %id, kept = kept.len(), "execution retried");
        self.inner
            .hooks
            .execution_status_changed(&info, Some(before.status));
        self.launch(info, pipeline, bound, kept)
    }

    /// Runs the execution on a thread of its own; `kept` are the steps that already succeeded.
    fn launch(
        &self,
        info: ExecutionInfo,
        pipeline: Pipeline,
        bound: BTreeMap<String, serde_json::Value>,
        kept: BTreeMap<String, serde_json::Value>,
    ) -> Result<ExecutionInfo, ExecutorError> {
        let id = info.id.clone();
        let stop = Arc::new(AtomicBool::new(false));
        self.inner.lock_live().insert(id.clone(), stop.clone());
        let run = Arc::new(execution::Run::new(
            self.inner.clone(),
            info.clone(),
            pipeline,
            bound,
            stop,
            kept,
        ));
        let spawned = std::thread::Builder::new()
            .name(format!("execution-{id}"))
            .spawn(move || schedule::execute(run));
        if let Err(e) = spawned {
            self.inner.finish(
                &id,
                ExecutionStatus::Failed,
                Some(&format!("cannot start a thread for the execution: {e}")),
            );
            return self.describe(&id);
        }
        Ok(info)
    }

    /// An execution, by id or ARN.
    pub fn describe(&self, execution_id: &str) -> Result<ExecutionInfo, ExecutorError> {
        self.inner.db.execution(execution_id)
    }

    /// Executions, newest first, of one pipeline or of all.
    pub fn list(&self, pipeline_name: Option<&str>) -> Result<Vec<ExecutionInfo>, ExecutorError> {
        self.inner.db.executions(pipeline_name)
    }

    /// The execution's steps that have started, in start order, with their jobs.
    pub fn steps(&self, execution_id: &str) -> Result<Vec<StepInfo>, ExecutorError> {
        let info = self.describe(execution_id)?;
        self.inner.db.steps(&info.id)
    }

    /// Waits until the execution ends or `timeout` passes, and returns it as it then is (the
    /// caller checks `status`). Executions run by another process are polled.
    pub fn wait(
        &self,
        execution_id: &str,
        timeout: Duration,
    ) -> Result<ExecutionInfo, ExecutorError> {
        let deadline = Instant::now() + timeout;
        loop {
            let info = self.describe(execution_id)?;
            let live = self.inner.lock_live();
            // An execution of this process has ended once its thread has also dropped its job
            // folders and left `live` (the status is recorded first), so a caller that waited
            // may stop all that is running, or exit, without racing that clean-up.
            let running_here = live.contains_key(&info.id);
            let now = Instant::now();
            if (info.status.is_terminal() && !running_here) || now >= deadline {
                return Ok(info);
            }
            let pause = (deadline - now).min(Duration::from_millis(200));
            if running_here {
                let _ = self.inner.ended.wait_timeout(live, pause);
            } else {
                drop(live);
                std::thread::sleep(pause.min(Duration::from_millis(50)));
            }
        }
    }

    /// Returns once an execution of this process that has recorded its end has also left
    /// `live`: its thread prunes the job folders after the status is visible, and a retry in
    /// between would have its new jobs' inputs pruned and its stop flag dropped.
    fn settle(&self, id: &str) {
        loop {
            let Ok(info) = self.describe(id) else { return };
            let live = self.inner.lock_live();
            if !info.status.is_terminal() || !live.contains_key(id) {
                return;
            }
            let _ = self
                .inner
                .ended
                .wait_timeout(live, Duration::from_millis(200));
        }
    }

    /// Asks a running execution of this executor to stop: running jobs are killed, no new
    /// step starts, and it ends as Stopped. Returns the execution as it is now.
    pub fn stop(&self, execution_id: &str) -> Result<ExecutionInfo, ExecutorError> {
        let info = self.describe(execution_id)?;
        if let Some(flag) = self.inner.lock_live().get(&info.id) {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(info)
    }

    /// Asks every execution this executor runs to stop (for a clean shutdown: they end as
    /// Stopped instead of being found interrupted at the next start). Returns their ids.
    pub fn stop_all(&self) -> Vec<String> {
        let live = self.inner.lock_live();
        for flag in live.values() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        live.keys().cloned().collect()
    }

    /// The configuration the executor was opened with.
    pub fn config(&self) -> &ExecutorConfig {
        &self.inner.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_executor_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Executor>();
    }

    #[test]
    fn execution_ids_look_like_sagemakers() {
        let ids: std::collections::BTreeSet<String> =
            (0..100).map(|_| new_execution_id()).collect();
        assert_eq!(ids.len(), 100);
        for id in ids {
            assert_eq!(id.len(), 12);
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{id}"
            );
        }
    }
}
