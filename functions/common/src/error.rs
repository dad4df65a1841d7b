//! The one error type every port returns.

/// What went wrong in a port call, classified so that callers can react: a missing object or
/// resource, a lost conditional write, a retryable (throttled, transient) failure, a request
/// the service refused, or anything else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The object, group, execution or endpoint does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A conditional write lost: `If-None-Match: *` on an existing key, or a stale `If-Match`.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// Throttling, a 5xx or a timeout: the same call may succeed later.
    #[error("throttled or temporarily unavailable: {0}")]
    Throttled(String),
    /// The service refused the request as invalid (e.g. the model container answered with an
    /// error, or a validation error). Retrying the same request will not help.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The request's payload is at fault: the model container answered 4xx (rows that do not
    /// fit the model). The caller should fix its input; retrying will not help.
    #[error("bad input: {0}")]
    BadInput(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl PortError {
    /// Whether the same call may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Throttled(_))
    }

    /// Whether the object or resource does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, PortError::NotFound(_))
    }

    /// Whether a conditional write lost.
    pub fn is_precondition_failed(&self) -> bool {
        matches!(self, PortError::PreconditionFailed(_))
    }
}
