//! Predictions: `POST /models/{name}/invoke` and single-model `POST /invocations`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{body_error, target_model, AppState};
use crate::error::ApiError;
use crate::payload::{self, Format};
use crate::port::{Prediction, Rows};
use crate::table::LoadedModel;

pub(super) async fn invoke_model(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    tracing::debug!(
        model = %name,
        target_model = target_model(&headers),
        "invoke"
    );
    let model = state
        .table
        .get(&name)
        .ok_or(ApiError::ModelNotLoaded(name))?;
    predict(model, &headers, body, state.predict_timeout).await
}

pub(super) async fn invocations(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let model = state.single.clone().ok_or_else(|| {
        ApiError::NoSingleModel(
            "the ML root has no model/ folder; this server runs in multi-model mode".to_owned(),
        )
    })?;
    predict(model, &headers, body, state.predict_timeout).await
}

/// Parses the payload, predicts, and renders the answer in the format asked for.
async fn predict(
    model: Arc<LoadedModel>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    deadline: Duration,
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
    // Always off the async workers, so a slow or stuck model cannot starve /ping, other
    // requests or the shutdown signal; past the deadline the request is answered and the
    // model's thread is left to finish (or to die with the process).
    let name = model.name.clone();
    let task = tokio::task::spawn_blocking(move || run_model(&model, &rows));
    let predictions = match tokio::time::timeout(deadline, task).await {
        Ok(joined) => joined
            .map_err(|err| ApiError::Internal(format!("the prediction task failed: {err}")))??,
        Err(_) => {
            tracing::error!(
                model = %name,
                deadline_seconds = deadline.as_secs_f64(),
                "prediction still running at its deadline"
            );
            return Err(ApiError::Body {
                status: StatusCode::GATEWAY_TIMEOUT,
                message: format!(
                    "model \"{name}\" did not finish its prediction within {} s \
                     (MMP_PREDICT_TIMEOUT_SECONDS)",
                    deadline.as_secs_f64()
                ),
            });
        }
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
