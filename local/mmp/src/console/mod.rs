//! The registry console: a web page on loopback for watching executions, comparing and
//! approving model versions, looking at the endpoint, uploading datasets and trying
//! predictions. `mmp up` serves it; its assets are compiled in (`local/mmp/console/`), so it
//! works offline. Its pages read and change the deployment through a [`Target`]: the same
//! operator code the CLI runs, over this machine's adapters or AWS's (`mmp --target aws up`).
//! What only this machine has (job logs, stop and retry, the endpoint's memory, the data
//! folder) comes from [`LocalRuntime`], absent on AWS.

mod api;
mod assets;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mmp_executor::{Executor, StepNode};

use crate::endpoint::LocalEndpoint;
use crate::system::System;
use crate::target::Target;

/// Largest CSV the page uploads (`mmp upload` has no limit). The file streams to a temporary
/// file in the bucket's folder, never whole in memory; a larger one is 413.
pub const UPLOAD_LIMIT_BYTES: u64 = 512 * 1024 * 1024;
/// Overrides [`UPLOAD_LIMIT_BYTES`] (bytes).
pub const ENV_UPLOAD_LIMIT_BYTES: &str = "MMP_CONSOLE_UPLOAD_LIMIT_BYTES";
/// Room in an upload request for the form's other fields (name, settings file) and framing.
const UPLOAD_FORM_SLACK_BYTES: u64 = 1024 * 1024;

/// The upload limit in force: [`ENV_UPLOAD_LIMIT_BYTES`] if set (and a number), else the default.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimit(pub u64);

impl UploadLimit {
    pub fn from_env() -> Self {
        match std::env::var(ENV_UPLOAD_LIMIT_BYTES) {
            Ok(v) => match v.trim().parse() {
                Ok(n) => Self(n),
                Err(_) => {
                    tracing::warn!(value = %v, "{ENV_UPLOAD_LIMIT_BYTES} is not a number of bytes; using the default");
                    Self(UPLOAD_LIMIT_BYTES)
                }
            },
            Err(_) => Self(UPLOAD_LIMIT_BYTES),
        }
    }
}

/// Header every changing request must carry: a page on another site cannot set it without a
/// CORS preflight, which this server never grants, so it cannot approve or upload for you.
pub const CHANGE_HEADER: &str = "x-mmp-console";

pub struct ConsoleState {
    /// The deployment every page reads and changes.
    pub target: Arc<dyn Target>,
    /// This machine's runtime, when the target is local.
    pub local: Option<LocalRuntime>,
    /// The pipeline definition's steps, for the step graph.
    pub steps: Vec<StepNode>,
}

/// What only the local runtime has.
pub struct LocalRuntime {
    pub system: Arc<System>,
    pub executor: Executor,
    pub endpoint: Arc<LocalEndpoint>,
}

impl ConsoleState {
    /// The local runtime, or why a page cannot have it.
    fn local(&self, what: &str) -> Result<&LocalRuntime, ApiError> {
        self.local.as_ref().ok_or_else(|| {
            ApiError::Unsupported(format!(
                "{what} is only on the local target; on AWS see SageMaker (and CloudWatch for logs)"
            ))
        })
    }
}

pub fn router(state: Arc<ConsoleState>) -> Router {
    let limit = UploadLimit::from_env();
    let body_limit =
        usize::try_from(limit.0.saturating_add(UPLOAD_FORM_SLACK_BYTES)).unwrap_or(usize::MAX);
    let api = Router::new()
        .route("/api/info", get(api::info))
        .route("/api/executions", get(api::executions))
        .route("/api/executions/{id}", get(api::execution))
        .route("/api/executions/{id}/stop", post(api::stop_execution))
        .route("/api/executions/{id}/retry", post(api::retry_execution))
        .route("/api/executions/{id}/jobs/{job}/log", get(api::job_log))
        .route("/api/models", get(api::models))
        .route(
            "/api/models/{group}/{version}/evaluation",
            get(api::evaluation),
        )
        .route(
            "/api/models/{group}/{version}/approval",
            post(api::set_approval),
        )
        .route("/api/endpoint", get(api::endpoint))
        .route(
            "/api/datasets",
            post(api::upload).layer((DefaultBodyLimit::max(body_limit), axum::Extension(limit))),
        )
        .route("/api/invoke", post(api::invoke))
        .fallback(api_not_found)
        .with_state(state);
    Router::new()
        .route("/", get(assets::index))
        .route("/{file}", get(assets::file))
        .merge(api)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(guard))
}

/// Every error the console answers is `{"error": ...}`, also those axum makes itself (a
/// malformed path, a wrong method, a body over the limit), which are plain text. The try-it
/// proxy is left alone: it answers what the Function URL answered.
async fn json_errors(request: Request, next: Next) -> Response {
    let proxied = request.uri().path() == "/api/invoke";
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if proxied || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let mut json = (status, Json(serde_json::json!({"error": message}))).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        json.headers_mut().insert(header::ALLOW, allow.clone());
    }
    json
}

/// Loopback `Host` only (a DNS-rebinding page cannot reach the API), and changes only with
/// [`CHANGE_HEADER`].
async fn guard(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !is_loopback_host(host) {
        return ApiError::Forbidden(format!("host {host:?} is not this machine's loopback"))
            .into_response();
    }
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes && !request.headers().contains_key(CHANGE_HEADER) {
        return ApiError::Forbidden(format!("changes need the {CHANGE_HEADER} header"))
            .into_response();
    }
    next.run(request).await
}

fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

async fn api_not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no API {method} {}", uri.path()))
}

/// An API failure, answered as `{"error": "<what went wrong>"}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// The request asks for something the resource's state does not allow (a retry of a
    /// running execution).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    /// What this target does not have (a job's log on AWS).
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::BAD_GATEWAY,
            Self::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::warn!(error = %self, "console request failed");
        }
        (status, Json(serde_json::json!({"error": self.to_string()}))).into_response()
    }
}

impl From<crate::actions::ActionError> for ApiError {
    fn from(e: crate::actions::ActionError) -> Self {
        use crate::actions::ActionError as A;
        use crate::registry::RegistryError as R;
        match e {
            A::Name(_)
            | A::BadInput(_)
            | A::Settings(_)
            | A::BlockedBySettings(_)
            | A::Registry(R::BadStatus(_)) => Self::BadRequest(e.to_string()),
            A::Executor(mmp_executor::ExecutorError::NotRetryable { .. }) => {
                Self::Conflict(e.to_string())
            }
            A::Executor(mmp_executor::ExecutorError::NotFound(_)) => Self::NotFound(e.to_string()),
            A::Registry(R::NoSuchGroup(_) | R::NoSuchVersion(..)) => Self::NotFound(e.to_string()),
            A::Operator(e) => e.into(),
            _ => Self::Internal(e.to_string()),
        }
    }
}

impl From<crate::operator::OperatorError> for ApiError {
    fn from(e: crate::operator::OperatorError) -> Self {
        use crate::operator::OperatorError as O;
        use mmp_common::PortError as P;
        match e {
            O::NotFound(_) | O::Port(P::NotFound(_)) => Self::NotFound(e.to_string()),
            O::Name(_) | O::Settings(_) | O::Port(P::Rejected(_)) => {
                Self::BadRequest(e.to_string())
            }
            O::Port(P::PreconditionFailed(_)) => Self::Conflict(e.to_string()),
            _ => Self::Unavailable(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_hosts_pass() {
        for ok in ["127.0.0.1:8080", "localhost:1", "[::1]:9", "localhost"] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "",
            "10.0.0.1:80",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
