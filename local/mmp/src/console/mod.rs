//! The registry console: a web page on loopback for watching executions, comparing and
//! approving model versions, looking at the endpoint, uploading datasets and trying
//! predictions. `mmp up` serves it; its assets are compiled in (`local/mmp/console/`), so it
//! works offline. Every change it makes goes through [`crate::actions`], the path the CLI
//! takes, and predictions go through the Function URL.

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

/// Largest dataset the page uploads in one request.
pub const UPLOAD_LIMIT_BYTES: usize = 512 * 1024 * 1024;

/// Header every changing request must carry: a page on another site cannot set it without a
/// CORS preflight, which this server never grants, so it cannot approve or upload for you.
pub const CHANGE_HEADER: &str = "x-mmp-console";

pub struct ConsoleState {
    pub system: Arc<System>,
    pub executor: Executor,
    pub endpoint: Arc<LocalEndpoint>,
    /// Where the try-it form sends its requests.
    pub function_url: String,
    /// The pipeline definition's steps, for the step graph.
    pub steps: Vec<StepNode>,
    pub http: reqwest::Client,
}

pub fn router(state: Arc<ConsoleState>) -> Router {
    let api = Router::new()
        .route("/api/info", get(api::info))
        .route("/api/executions", get(api::executions))
        .route("/api/executions/{id}", get(api::execution))
        .route("/api/executions/{id}/stop", post(api::stop_execution))
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
            post(api::upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT_BYTES)),
        )
        .route("/api/invoke", post(api::invoke))
        .fallback(api_not_found)
        .with_state(state);
    Router::new()
        .route("/", get(assets::index))
        .route("/{file}", get(assets::file))
        .merge(api)
        .layer(middleware::from_fn(guard))
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
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::BAD_GATEWAY,
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
            A::Name(_) | A::BadInput(_) | A::Registry(R::BadStatus(_)) => {
                Self::BadRequest(e.to_string())
            }
            A::NotFound(_) | A::Registry(R::NoSuchGroup(_) | R::NoSuchVersion(..)) => {
                Self::NotFound(e.to_string())
            }
            _ => Self::Internal(e.to_string()),
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
