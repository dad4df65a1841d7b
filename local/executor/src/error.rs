//! The crate's one error type.

/// What can go wrong when calling the [`crate::Executor`] API. Failures inside an execution
/// (a job failing, an expression that cannot be resolved) are not errors of the API: they end
/// the execution as `Failed` with the reason in [`crate::ExecutionInfo::failure_reason`].
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// A query of the state database failed (busy past the timeout, disk full, …).
    #[error("state database: {0}")]
    Database(#[from] rusqlite::Error),
    /// Opening or migrating the state database.
    #[error("state database: {0}")]
    Open(#[from] crate::sqlite::OpenError),
    /// A file or folder of the executor could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The pipeline definition is not JSON or not a pipeline the executor can run.
    #[error("invalid pipeline definition: {0}")]
    Definition(String),
    /// A start parameter the definition does not declare, or of the wrong type.
    #[error("parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No execution has this id or ARN.
    #[error("no pipeline execution with id or ARN {0}")]
    NotFound(String),
    /// RetryPipelineExecution of an execution that is not Failed or Stopped.
    #[error("execution {id} is {status}: only a Failed or Stopped execution can be retried")]
    NotRetryable {
        /// The execution's id.
        id: String,
        /// Its status, as SageMaker names it.
        status: String,
    },
    /// The worker threads could not be started.
    #[error("cannot start the executor's worker threads: {0}")]
    Workers(rayon::ThreadPoolBuildError),
    /// A row of the state database cannot be read back (edited by hand, or a bug).
    #[error("corrupt state for execution {id}: {reason}")]
    Corrupt {
        /// The execution's id.
        id: String,
        /// What could not be read.
        reason: String,
    },
}

impl ExecutorError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn parameter(name: &str, reason: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}

/// What a [`crate::ExecutorHooks::register_model`] refusal carries: any error; its text becomes
/// the step's failure reason.
pub type RegisterError = Box<dyn std::error::Error + Send + Sync>;

/// Why a step failed. The text is the step's `FailureReason` exactly as users see it (the CLI,
/// the console and the events show it), so every variant's message is kept to the letter.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    /// The step's arguments are unusable: an expression that cannot be resolved, a field
    /// missing or malformed, or a feature the local executor does not run.
    #[error("{0}")]
    Arguments(String),
    /// A job's folder could not be prepared, or a property file could not be read.
    #[error("{0}")]
    Files(String),
    /// One of the step's jobs failed with SageMaker's `FailureReason` (`AlgorithmError: …`,
    /// `ClientError: …`, `MaxRuntimeExceeded: …`).
    #[error("job {job} failed: {reason}")]
    Job { job: String, reason: String },
    /// Every trial of a tuning step failed; the first reasons are shown.
    #[error("all {failed} training jobs of the tuning job failed: {}", .reasons.join("; "))]
    AllTrialsFailed { failed: usize, reasons: Vec<String> },
    /// The register hook refused the model package.
    #[error("registering the model failed: {0}")]
    Register(RegisterError),
    /// The state database could not record the step or its job.
    #[error("{0}")]
    State(#[from] ExecutorError),
    /// The step ran, but its end could not be recorded.
    #[error("cannot record the step's end: {0}")]
    Record(ExecutorError),
    /// A bug: the step's code panicked (caught so the execution still ends).
    #[error("internal error: the executor panicked while running this step")]
    Panicked,
    /// A Fail step: the execution fails with exactly this message, not "Step … failed: …".
    #[error("{0}")]
    FailStep(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_errors_read_as_the_reasons_users_know() {
        let job = StepError::Job {
            job: "Train-abc".into(),
            reason: "AlgorithmError: bad csv".into(),
        };
        assert_eq!(
            job.to_string(),
            "job Train-abc failed: AlgorithmError: bad csv"
        );
        let all = StepError::AllTrialsFailed {
            failed: 2,
            reasons: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            all.to_string(),
            "all 2 training jobs of the tuning job failed: a; b"
        );
        let refused = StepError::Register("no group".into());
        assert_eq!(
            refused.to_string(),
            "registering the model failed: no group"
        );
        assert_eq!(
            StepError::Panicked.to_string(),
            "internal error: the executor panicked while running this step"
        );
        assert_eq!(StepError::FailStep("gate".into()).to_string(), "gate");
        let missing = ExecutorError::NotFound("x".into());
        assert_eq!(
            StepError::Record(missing).to_string(),
            "cannot record the step's end: no pipeline execution with id or ARN x"
        );
    }
}
