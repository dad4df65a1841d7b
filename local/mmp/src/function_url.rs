//! The Function URL: an HTTP server on loopback that hands every request to the invoker
//! handler, as Lambda's Function URL does (any path, the method and body passed through,
//! the handler's status, headers and body returned as they are).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use mmp_serve::http::body_timeout;

use crate::handlers::Handlers;

/// Function URLs accept request payloads up to 6 MB.
pub const FUNCTION_URL_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

pub fn router(handlers: Arc<Handlers>) -> Router {
    Router::new()
        .fallback(invoke)
        .layer(DefaultBodyLimit::max(FUNCTION_URL_PAYLOAD_LIMIT))
        .with_state(handlers)
}

async fn invoke(
    State(handlers): State<Arc<Handlers>>,
    method: Method,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return refused(&rejection),
    };
    handlers
        .invoker
        .handle(&method, &body)
        .await
        .into_response()
}

/// A body the Function URL refuses before the handler sees it (over its 6 MB, too slow, or
/// unreadable), answered in the invoker's error shape, `{"error": "..."}`, rather than axum's
/// plain text.
fn refused(rejection: &BytesRejection) -> Response {
    let mut status = rejection.status();
    let message = if let Some(timeout) = body_timeout(rejection) {
        status = StatusCode::REQUEST_TIMEOUT;
        format!("the request body was not received within {timeout:?}")
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "request body is over the Function URL's limit of {FUNCTION_URL_PAYLOAD_LIMIT} bytes"
        )
    } else {
        rejection.body_text()
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response()
}
