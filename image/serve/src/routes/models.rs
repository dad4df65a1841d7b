//! Loading, listing, describing and unloading models (`/models`, `/models/{name}`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{body_error, json_response, target_model, AppState};
use crate::error::ApiError;
use crate::port::{LoadError, Model, ModelLoader};
use crate::table::{LoadedModel, Refusal};

/// `{"modelName", "modelUrl"}`, the contract's description of a loaded model, and the bytes
/// it is charged against the memory budget (for operators' consoles).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelInfo<'a> {
    model_name: &'a str,
    model_url: &'a str,
    memory_bytes: usize,
}

impl<'a> From<&'a LoadedModel> for ModelInfo<'a> {
    fn from(model: &'a LoadedModel) -> Self {
        Self {
            model_name: &model.name,
            model_url: &model.url,
            memory_bytes: model.memory_bytes,
        }
    }
}

#[derive(Deserialize)]
struct LoadRequest {
    model_name: String,
    url: String,
}

pub(super) async fn load_model(
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
        target_model = target_model(&headers),
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
        // Not the path: the answer goes to whoever asked.
        return Err(LoadError(
            "the model folder does not exist or is not a folder".to_owned(),
        ));
    }
    catch_unwind(AssertUnwindSafe(|| loader.load(dir)))
        .unwrap_or_else(|_| Err(LoadError("the model loader panicked".to_owned())))
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
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

pub(super) async fn list_models(
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
        if !token.len().is_multiple_of(2) || !token.is_ascii() {
            return None;
        }
        let bytes = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        String::from_utf8(bytes).ok()
    }
}

pub(super) async fn describe_model(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let model = state
        .table
        .get(&name)
        .ok_or(ApiError::ModelNotLoaded(name))?;
    Ok(json_response(StatusCode::OK, &ModelInfo::from(&*model)))
}

pub(super) async fn unload_model(
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
