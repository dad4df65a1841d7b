//! The HTTP surface: SageMaker's inference contract (`/ping`, `/invocations`) and its
//! multi-model contract (`/models`, `/models/{name}`, `/models/{name}/invoke`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::payload::{self, Format};
use crate::port::{LoadError, Model, ModelLoader, Prediction, Rows};
use crate::table::{LoadedModel, ModelTable, Refusal};
use crate::ServeConfig;

/// SageMaker passes InvokeEndpoint's `TargetModel` in this header, for logs only.
pub const TARGET_MODEL_HEADER: &str = "x-amzn-sagemaker-target-model";

/// Payloads of at least this many rows are predicted on the blocking pool so a big batch
/// cannot stall the workers that answer everyone else.
const INLINE_ROWS_LIMIT: usize = 256;

/// What every handler shares.
pub struct AppState {
    table: ModelTable,
    loader: Arc<dyn ModelLoader>,
    single: Option<Arc<LoadedModel>>,
    list_page_size: usize,
    max_request_bytes: usize,
}

impl AppState {
    pub fn new(loader: Arc<dyn ModelLoader>, config: &ServeConfig) -> Self {
        Self {
            table: ModelTable::new(config.memory_budget_bytes),
            loader,
            single: None,
            list_page_size: config.list_page_size,
            max_request_bytes: config.max_request_bytes,
        }
    }

    /// Serves `model` on `/invocations` (single-model mode).
    pub fn with_single_model(mut self, model: Arc<LoadedModel>) -> Self {
        self.single = Some(model);
        self
    }

    pub fn has_single_model(&self) -> bool {
        self.single.is_some()
    }

    pub fn loader(&self) -> &Arc<dyn ModelLoader> {
        &self.loader
    }

    /// Bytes the loaded models claim, against the budget.
    pub fn memory_used_bytes(&self) -> usize {
        self.table.used_bytes()
    }
}

/// The router over `state`; [`crate::serve`] runs it.
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

fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
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

fn body_error(rejection: BytesRejection) -> ApiError {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the request body is larger than the configured limit (MMP_MAX_REQUEST_BYTES)".to_owned()
    } else {
        rejection.body_text()
    };
    ApiError::Body { status, message }
}

/// `{"modelName", "modelUrl"}`, the contract's description of a loaded model.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelInfo<'a> {
    model_name: &'a str,
    model_url: &'a str,
}

impl<'a> From<&'a LoadedModel> for ModelInfo<'a> {
    fn from(model: &'a LoadedModel) -> Self {
        Self {
            model_name: &model.name,
            model_url: &model.url,
        }
    }
}

#[derive(Deserialize)]
struct LoadRequest {
    model_name: String,
    url: String,
}

async fn load_model(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(body_error)?;
    let LoadRequest { model_name, url } = serde_json::from_slice(&body).map_err(|err| {
        ApiError::BadRequest(format!(
            "POST /models expects {{\"model_name\": \"...\", \"url\": \"...\"}}: {err}"
        ))
    })?;
    if model_name.is_empty() {
        return Err(ApiError::BadRequest("model_name is empty".to_owned()));
    }
    let ticket = state
        .table
        .begin_load(&model_name)
        .map_err(|refusal| match refusal {
            Refusal::AlreadyLoaded => ApiError::AlreadyLoaded(model_name.clone()),
            Refusal::Loading => ApiError::StillLoading(model_name.clone()),
            Refusal::BudgetFull { used, budget } => ApiError::BudgetFull { used, budget },
        })?;
    let started = Instant::now();
    let loader = Arc::clone(&state.loader);
    let dir = PathBuf::from(&url);
    let model = tokio::task::spawn_blocking(move || load_from(loader.as_ref(), &dir))
        .await
        .map_err(|err| ApiError::Internal(format!("the load task failed: {err}")))?
        .map_err(|err| ApiError::invalid_model(&model_name, &url, err))?;
    let loaded = ticket
        .finish(url, model)
        .map_err(|over| ApiError::OverBudget {
            name: model_name.clone(),
            needed: over.needed,
            used: over.used,
            budget: over.budget,
        })?;
    tracing::info!(
        model = %loaded.name,
        url = %loaded.url,
        memory_bytes = loaded.memory_bytes,
        used_bytes = state.table.used_bytes(),
        elapsed_us = started.elapsed().as_micros() as u64,
        target_model = ?headers.get(TARGET_MODEL_HEADER),
        "model loaded"
    );
    Ok(json_response(StatusCode::OK, &ModelInfo::from(&*loaded)))
}

/// Loads a model folder; a loader that panics is reported like any invalid model.
pub(crate) fn load_from(
    loader: &dyn ModelLoader,
    dir: &FsPath,
) -> Result<Arc<dyn Model>, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError(format!("{} is not a folder", dir.display())));
    }
    catch_unwind(AssertUnwindSafe(|| loader.load(dir)))
        .unwrap_or_else(|_| Err(LoadError("the model loader panicked".to_owned())))
}

#[derive(Deserialize)]
struct ListQuery {
    next_page_token: Option<String>,
    max_results: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelList<'a> {
    models: Vec<ModelInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

async fn list_models(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let after = query
        .next_page_token
        .filter(|token| !token.is_empty())
        .map(|token| {
            page_token::decode(&token).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "next_page_token {token:?} is not one this server gave"
                ))
            })
        })
        .transpose()?;
    let limit = query
        .max_results
        .unwrap_or(state.list_page_size)
        .clamp(1, state.list_page_size);
    let (page, last) = state.table.page(after.as_deref(), limit);
    let list = ModelList {
        models: page.iter().map(|model| ModelInfo::from(&**model)).collect(),
        next_page_token: last.map(|name| page_token::encode(&name)),
    };
    Ok(json_response(StatusCode::OK, &list))
}

/// Page tokens are the last name of the previous page, hex-encoded so any name is safe in
/// a query string; names loaded or unloaded between pages neither repeat nor vanish.
mod page_token {
    use std::fmt::Write;

    pub fn encode(name: &str) -> String {
        name.bytes()
            .fold(String::with_capacity(name.len() * 2), |mut out, b| {
                let _ = write!(out, "{b:02x}");
                out
            })
    }

    pub fn decode(token: &str) -> Option<String> {
        if token.len() % 2 != 0 || !token.is_ascii() {
            return None;
        }
        let bytes = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        String::from_utf8(bytes).ok()
    }
}

async fn describe_model(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let model = state
        .table
        .get(&name)
        .ok_or(ApiError::ModelNotLoaded(name))?;
    Ok(json_response(StatusCode::OK, &ModelInfo::from(&*model)))
}

async fn unload_model(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let model = state
        .table
        .unload(&name)
        .ok_or(ApiError::ModelNotLoaded(name))?;
    tracing::info!(
        model = %model.name,
        memory_bytes = model.memory_bytes,
        used_bytes = state.table.used_bytes(),
        "model unloaded"
    );
    Ok(json_response(StatusCode::OK, &ModelInfo::from(&*model)))
}

async fn invoke_model(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    tracing::debug!(
        model = %name,
        target_model = ?headers.get(TARGET_MODEL_HEADER),
        "invoke"
    );
    let model = state
        .table
        .get(&name)
        .ok_or(ApiError::ModelNotLoaded(name))?;
    predict(model, &headers, body).await
}

async fn invocations(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let model = state.single.clone().ok_or_else(|| {
        ApiError::NoSingleModel(
            "the ML root has no model/ folder; this server runs in multi-model mode".to_owned(),
        )
    })?;
    predict(model, &headers, body).await
}

/// Parses the payload, predicts, and renders the answer in the format asked for.
async fn predict(
    model: Arc<LoadedModel>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(body_error)?;
    let request_format = match headers.get(header::CONTENT_TYPE) {
        None => Format::Csv,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(Format::from_media_type)
            .ok_or_else(|| {
                ApiError::UnsupportedMediaType(String::from_utf8_lossy(value.as_bytes()).into())
            })?,
    };
    let accept = headers.get(header::ACCEPT);
    let response_format = Format::from_accept(accept.and_then(|a| a.to_str().ok()), request_format)
        .ok_or_else(|| {
            ApiError::NotAcceptable(accept.map_or_else(String::new, |a| {
                String::from_utf8_lossy(a.as_bytes()).into()
            }))
        })?;
    let rows = payload::parse(request_format, &body)?;
    let predictions = if rows.rows.len() < INLINE_ROWS_LIMIT {
        run_model(&model, &rows)?
    } else {
        tokio::task::spawn_blocking(move || run_model(&model, &rows))
            .await
            .map_err(|err| ApiError::Internal(format!("the prediction task failed: {err}")))??
    };
    let body = crate::render::render(response_format, &predictions);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(response_format.mime()),
        )],
        body,
    )
        .into_response())
}

fn run_model(model: &LoadedModel, rows: &Rows) -> Result<Vec<Prediction>, ApiError> {
    let predictions = catch_unwind(AssertUnwindSafe(|| model.model.predict(rows)))
        .map_err(|_| ApiError::Internal(format!("model \"{}\" panicked", model.name)))??;
    if predictions.len() != rows.rows.len() {
        return Err(ApiError::Internal(format!(
            "model \"{}\" returned {} predictions for {} rows",
            model.name,
            predictions.len(),
            rows.rows.len()
        )));
    }
    Ok(predictions)
}

#[cfg(test)]
mod tests {
    use super::page_token;

    #[test]
    fn page_tokens_round_trip_any_name() {
        for name in ["", "abc", "a/b?c=d&e", "ünï cödé"] {
            assert_eq!(
                page_token::decode(&page_token::encode(name)).as_deref(),
                Some(name)
            );
        }
        assert_eq!(page_token::decode("abc"), None);
        assert_eq!(page_token::decode("zz"), None);
        assert_eq!(page_token::decode("ff"), None, "not UTF-8");
    }
}
