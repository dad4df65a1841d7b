//! What each step type does. Processing and Training steps run one job each (`processing`,
//! `training`); a Tuning step runs many (`tuning`); Condition, Fail and RegisterModel
//! run none.

mod arguments;
mod processing;
mod training;
mod tuning;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use mmp_pipeline::contract;
use serde_json::{json, Value};

use crate::condition;
use crate::db::NewJob;
use crate::definition::{StepDef, StepType};
use crate::error::StepError;
use crate::execution::{Run, StepEnd};
use crate::expr::{resolve, text};
use crate::jobs::{self, JobEnd, JobSpec, Watch};
use crate::memory;
use crate::model::JobStatus;

pub(crate) fn run_step(run: &Run, step: &StepDef) -> StepEnd {
    if run.stopped() {
        return StepEnd::Stopped;
    }
    let result = match step.kind {
        StepType::Processing => processing::processing_step(run, step),
        StepType::Training => training::training_step(run, step),
        StepType::Tuning => tuning::tuning_step(run, step),
        StepType::Condition => condition_step(run, step),
        StepType::Fail => fail_step(run, step),
        StepType::RegisterModel => register_step(run, step),
    };
    match result {
        Ok(props) => StepEnd::Succeeded(props),
        Err(end) => end,
    }
}

/// The step's arguments with every expression resolved.
pub(crate) fn resolved_arguments(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    resolve(&step.arguments, run).map_err(|e| StepEnd::Failed(StepError::Arguments(e.0)))
}

/// Fails the step: its arguments are unusable.
pub(crate) fn bad_arguments(reason: String) -> StepEnd {
    StepEnd::Failed(StepError::Arguments(reason))
}

/// The container path `/opt/ml/...` inside a job's folder.
pub(crate) fn reroot(job_dir: &Path, local_path: &str) -> Result<PathBuf, String> {
    let rest = Path::new(local_path)
        .strip_prefix(contract::DEFAULT_ML_ROOT)
        .map_err(|_| {
            format!(
                "LocalPath {local_path} is not under {}",
                contract::DEFAULT_ML_ROOT
            )
        })?;
    if rest
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(format!("LocalPath {local_path} is not a plain path"));
    }
    Ok(job_dir.join(rest))
}

/// A job being run for a step: its row in the state database from start to end.
pub(crate) struct Job<'a> {
    run: &'a Run,
    pub name: String,
    pub dir: PathBuf,
}

impl<'a> Job<'a> {
    pub fn start(
        run: &'a Run,
        step: &str,
        name: String,
        definition_name: Option<&str>,
        hyperparameters: Option<&BTreeMap<String, String>>,
    ) -> Result<Self, StepError> {
        let dir = run.job_dir(&name);
        // A retried execution runs its jobs again under the same names: each starts from an
        // empty folder, as a new SageMaker job does, not beside the failed attempt's files.
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StepError::Files(format!(
                    "cannot clear {}: {e}",
                    dir.display()
                )))
            }
        }
        fs::create_dir_all(&dir)
            .map_err(|e| StepError::Files(format!("cannot create {}: {e}", dir.display())))?;
        run.inner.db.start_job(&NewJob {
            execution_id: &run.info.id,
            step_name: step,
            job_name: &name,
            job_dir: &dir,
            log_path: &jobs::log_path(&dir),
            definition_name,
            hyperparameters,
        })?;
        Ok(Self { run, name, dir })
    }

    /// Runs the container with `args` in the job's folder.
    pub fn exec(&self, args: &[String], max_runtime: Option<Duration>) -> JobEnd {
        self.exec_watched(args, max_runtime, None)
    }

    /// [`Job::exec`], stopping the job early when `watch` says so ([`JobEnd::EarlyStopped`]).
    pub fn exec_watched(
        &self,
        args: &[String],
        max_runtime: Option<Duration>,
        watch: Option<Watch<'_>>,
    ) -> JobEnd {
        let inner = &self.run.inner;
        let config = &inner.config;
        // The folder holds only the job's inputs yet: its estimate is from their size.
        let command = args.first().map_or("", String::as_str);
        let needed = memory::job_needs(&self.dir, command);
        let Some(_memory) = inner.memory.reserve(needed, &self.run.stop) else {
            return JobEnd::Stopped;
        };
        if needed > inner.memory.total() {
            tracing::warn!(job = %self.name, needed, budget = inner.memory.total(),
                "the job's memory estimate exceeds the budget: it runs alone");
        }
        let spec = JobSpec {
            dir: &self.dir,
            program: &config.container_bin,
            args,
            env: &config.job_env,
            max_runtime,
            stop: &self.run.stop,
            watch,
        };
        jobs::run(&spec)
    }

    /// Records the job's end; returns the reason for a failure, `Stopped` for a stop.
    pub fn end(&self, outcome: Result<Option<f64>, JobEnd>) -> Result<Option<f64>, StepEnd> {
        let (status, reason, objective) = match &outcome {
            Ok(objective) => (JobStatus::Completed, None, *objective),
            Err(JobEnd::Stopped | JobEnd::EarlyStopped) => (JobStatus::Stopped, None, None),
            Err(JobEnd::Failed(r)) => (JobStatus::Failed, Some(r.as_str()), None),
            Err(JobEnd::Completed) => (JobStatus::Completed, None, None),
        };
        self.record(status, reason, objective);
        match outcome {
            Ok(objective) => Ok(objective),
            Err(JobEnd::Stopped) => Err(StepEnd::Stopped),
            Err(JobEnd::Failed(reason)) => Err(StepEnd::Failed(StepError::Job {
                job: self.name.clone(),
                reason,
            })),
            Err(JobEnd::Completed | JobEnd::EarlyStopped) => Ok(None),
        }
    }

    /// Records the end of a job its watch stopped (a trial Hyperband cut short): SageMaker's
    /// `Stopped` with the objective it reached, a result the step keeps, where a stop of the
    /// execution ends the step.
    pub fn end_stopped_early(&self, objective: Option<f64>) -> Option<f64> {
        self.record(JobStatus::Stopped, None, objective);
        objective
    }

    fn record(&self, status: JobStatus, reason: Option<&str>, objective: Option<f64>) {
        if let Err(e) =
            self.run
                .inner
                .db
                .end_job(&self.run.info.id, &self.name, status, reason, objective)
        {
            tracing::error!(job = %self.name, error = %e, "cannot record the job's end");
        }
    }
}

pub(crate) fn client_error(e: impl std::fmt::Display) -> JobEnd {
    JobEnd::Failed(format!("ClientError: {e}"))
}

fn condition_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let outcome = condition::all_hold(args.get("Conditions").unwrap_or(&Value::Null))
        .map_err(bad_arguments)?;
    Ok(json!({ "Outcome": outcome }))
}

fn fail_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let message = args.get("ErrorMessage").map(text).unwrap_or_default();
    Err(StepEnd::Failed(StepError::FailStep(message)))
}

fn register_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    match run.inner.hooks.register_model(&run.info, &args) {
        Ok(arn) => Ok(json!({ "ModelPackageArn": arn })),
        Err(refused) => Err(StepEnd::Failed(StepError::Register(refused))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reroots_container_paths() {
        let dir = Path::new("/jobs/j");
        assert_eq!(
            reroot(dir, "/opt/ml/processing/train").unwrap(),
            dir.join("processing/train")
        );
        assert!(reroot(dir, "/tmp/x")
            .unwrap_err()
            .contains("not under /opt/ml"));
        assert!(reroot(dir, "/opt/ml/../etc").is_err());
    }
}
