//! The HTTP surface: SageMaker's inference contract (`/ping`, `/invocations`) and its
//! multi-model contract (`/models`, `/models/{name}`, `/models/{name}/invoke`).

mod invoke;
mod models;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::BytesRejection;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use crate::error::ApiError;
use crate::http::{body_timeout, Timeouts};
use crate::payload::Format;
use crate::port::ModelLoader;
use crate::table::{LoadedModel, ModelTable};
use crate::ServeConfig;

use invoke::{invocations, invoke_model};
pub(crate) use models::load_from;
use models::{describe_model, list_models, load_model, unload_model};

/// SageMaker passes InvokeEndpoint's `TargetModel` in this header, for logs only.
pub const TARGET_MODEL_HEADER: &str = "x-amzn-sagemaker-target-model";

/// What every handler shares.
pub struct AppState {
    table: ModelTable,
    loader: Arc<dyn ModelLoader>,
    single: Option<Arc<LoadedModel>>,
    list_page_size: usize,
    max_request_bytes: usize,
    timeouts: Timeouts,
    predict_timeout: Duration,
}

impl AppState {
    /// No model loaded yet; limits and timeouts from `config`.
    pub fn new(loader: Arc<dyn ModelLoader>, config: &ServeConfig) -> Self {
        Self {
            table: ModelTable::new(config.memory_budget_bytes),
            loader,
            single: None,
            list_page_size: config.list_page_size,
            max_request_bytes: config.max_request_bytes,
            timeouts: config.timeouts,
            predict_timeout: config.predict_timeout,
        }
    }

    /// Serves `model` on `/invocations` (single-model mode).
    pub fn with_single_model(mut self, model: Arc<LoadedModel>) -> Self {
        self.single = Some(model);
        self
    }

    /// Whether `/invocations` has a model (single-model mode).
    pub fn has_single_model(&self) -> bool {
        self.single.is_some()
    }

    /// What loads models for `POST /models`.
    pub fn loader(&self) -> &Arc<dyn ModelLoader> {
        &self.loader
    }

    /// The read timeouts [`crate::serve_with_shutdown`] serves with.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Bytes the loaded models claim, against the budget.
    pub fn memory_used_bytes(&self) -> usize {
        self.table.used_bytes()
    }
}

/// The router over `state`; [`crate::serve_with_shutdown`] runs it.
pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = DefaultBodyLimit::max(state.max_request_bytes);
    Router::new()
        .route("/ping", get(ping))
        .route("/invocations", post(invocations))
        .route("/models", post(load_model).get(list_models))
        .route("/models/{name}", get(describe_model).delete(unload_model))
        .route("/models/{name}/invoke", post(invoke_model))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(body_limit)
        .with_state(state)
}

pub(crate) fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(Format::JSON))],
            body,
        )
            .into_response(),
        Err(err) => ApiError::Internal(err.to_string()).into_response(),
    }
}

async fn ping() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({"status": "Healthy"}))
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NoRoute(format!("{method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::Body {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("{} does not accept {method}", uri.path()),
    }
}

/// The `X-Amzn-SageMaker-Target-Model` header, or "" when absent or not text.
pub(crate) fn target_model(headers: &HeaderMap) -> &str {
    headers
        .get(TARGET_MODEL_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

pub(crate) fn body_error(rejection: BytesRejection) -> ApiError {
    if let Some(timeout) = body_timeout(&rejection) {
        return ApiError::Body {
            status: StatusCode::REQUEST_TIMEOUT,
            message: format!(
                "the request body did not arrive within {} s (MMP_BODY_READ_TIMEOUT_SECONDS)",
                timeout.as_secs_f64()
            ),
        };
    }
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the request body is larger than the configured limit (MMP_MAX_REQUEST_BYTES)".to_owned()
    } else {
        rejection.body_text()
    };
    ApiError::Body { status, message }
}
