//! Classifies SDK errors into [`PortError`]s.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::PortError;

const NOT_FOUND_CODES: &[&str] = &["NoSuchKey", "NotFound", "NoSuchBucket", "ResourceNotFound"];
const PRECONDITION_CODES: &[&str] = &["PreconditionFailed", "ConditionalRequestConflict"];
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "ServiceUnavailable",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "InternalFailure",
    "InternalError",
    "ModelNotReadyException",
];
/// SageMaker answers a missing model package or pipeline with a ValidationException.
const NOT_FOUND_MESSAGES: &[&str] = &["not found", "does not exist", "could not find"];

/// Maps an SDK error to a port error, `context` saying what was being done.
pub(crate) fn classify<E, R>(error: SdkError<E, R>, context: &str) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    let status = error.raw_response().map(HttpStatus::status_code);
    match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            return PortError::Throttled(format!(
                "{context}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&error)
            ))
        }
        SdkError::ServiceError(_) => {}
        _ => {
            return PortError::Other(format!(
                "{context}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&error)
            ))
        }
    }
    let code = error.code().unwrap_or_default().to_string();
    let message = error.message().unwrap_or_default().to_string();
    let described = format!("{context}: {code}: {message}");
    let lower = message.to_ascii_lowercase();
    if NOT_FOUND_CODES.contains(&code.as_str())
        || status == Some(404)
        || (code == "ValidationException"
            && NOT_FOUND_MESSAGES
                .iter()
                .any(|needle| lower.contains(needle)))
    {
        PortError::NotFound(described)
    } else if PRECONDITION_CODES.contains(&code.as_str()) || status == Some(412) {
        PortError::PreconditionFailed(described)
    } else if THROTTLING_CODES.contains(&code.as_str())
        || status == Some(429)
        || status.is_some_and(|s| s >= 500)
    {
        PortError::Throttled(described)
    } else if code == "ModelError"
        || code.starts_with("Validation")
        || status.is_some_and(|s| (400..500).contains(&s))
    {
        PortError::Rejected(described)
    } else {
        PortError::Other(described)
    }
}

/// The HTTP status of a raw response.
pub(crate) trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}
