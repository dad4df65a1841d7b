//! The crate's one error type.

/// What can go wrong when calling the [`crate::Executor`] API. Failures inside an execution
/// (a job failing, an expression that cannot be resolved) are not errors of the API: they end
/// the execution as `Failed` with the reason in [`crate::ExecutionInfo::failure_reason`].
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("state database: {0}")]
    Database(#[from] rusqlite::Error),
    /// Opening or migrating the state database.
    #[error("state database: {0}")]
    Open(#[from] crate::sqlite::OpenError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("invalid pipeline definition: {0}")]
    Definition(String),
    #[error("parameter {name}: {reason}")]
    InvalidParameter { name: String, reason: String },
    #[error("no pipeline execution with id or ARN {0}")]
    NotFound(String),
    /// RetryPipelineExecution of an execution that is not Failed or Stopped.
    #[error("execution {id} is {status}: only a Failed or Stopped execution can be retried")]
    NotRetryable { id: String, status: String },
    #[error("corrupt state for execution {id}: {reason}")]
    Corrupt { id: String, reason: String },
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
