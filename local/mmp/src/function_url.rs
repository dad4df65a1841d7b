//! The Function URL: an HTTP server on loopback that hands every request to the invoker
//! handler, as Lambda's Function URL does (any path, the method and body passed through,
//! the handler's status, headers and body returned as they are).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::handlers::Handlers;

/// Function URLs accept request payloads up to 6 MB.
pub const FUNCTION_URL_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

pub fn router(handlers: Arc<Handlers>) -> Router {
    Router::new()
        .fallback(invoke)
        .layer(DefaultBodyLimit::max(FUNCTION_URL_PAYLOAD_LIMIT))
        .with_state(handlers)
}

async fn invoke(State(handlers): State<Arc<Handlers>>, method: Method, body: Bytes) -> Response {
    handlers
        .invoker
        .handle(&method, &body)
        .await
        .into_response()
}
