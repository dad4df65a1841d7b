//! Lambda handler: endpoint-invoker, behind a Function URL.
//!
//! - `POST {"model": "<dataset or group>", "data": "<csv rows, no header>"}` (the original's
//!   body) or `"data": [[1.5, 2, "a"], ...]` (JSON rows) → InvokeEndpoint with the route's
//!   `TargetModel` → `200 {"model", "group", "version", "predictions"}`.
//! - `GET` → `200 {"models": [...]}`: every deployed dataset with its version.
//! - Errors are JSON `{"error": "..."}`: 400 bad JSON/CSV (naming the problem) or rows the
//!   model refuses (its own words), 404 unknown model, 405 other methods, 413 too large, 502
//!   the endpoint failed, 503 it stayed throttled or unavailable after its transport's retries
//!   (or the routing table could not be read).
//!
//! The routing table is cached in memory for a short TTL, then revalidated by ETag (a HEAD).
#![warn(missing_docs)]

pub mod request;
pub mod routes;

use std::time::Duration;

use http::{header, Method, Response, StatusCode};
use mmp_common::config::{self, CommonConfig, ConfigError, EndpointLayout, Env};
use mmp_common::ports::{Invocation, ModelEndpoint, ObjectStore};
use mmp_common::PortError;
use serde_json::{json, Value};

pub use request::{parse_request, PredictRequest, RequestError};
pub use routes::RouteCache;

/// Seconds the routing table is used before it is revalidated.
pub const ENV_ROUTE_CACHE_TTL_SECONDS: &str = "MMP_ROUTE_CACHE_TTL_SECONDS";
/// Default of [`ENV_ROUTE_CACHE_TTL_SECONDS`].
pub const DEFAULT_ROUTE_CACHE_TTL_SECONDS: u64 = 5;
/// Largest accepted request body, in bytes (Function URLs and InvokeEndpoint stop at 6 MB).
pub const ENV_MAX_REQUEST_BYTES: &str = "MMP_MAX_REQUEST_BYTES";
/// Default of [`ENV_MAX_REQUEST_BYTES`].
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 5 * 1024 * 1024;

/// Every environment variable this function reads.
pub const ENV_VARS: &[&str] = &[
    config::ENV_BUCKET,
    config::ENV_ENDPOINT_NAME,
    config::ENV_ROUTING_KEY,
    config::ENV_MODELS_PREFIX,
    ENV_ROUTE_CACHE_TTL_SECONDS,
    ENV_MAX_REQUEST_BYTES,
    config::ENV_S3_FORCE_PATH_STYLE,
    config::ENV_LOG,
];

/// Every AWS API action this function's adapters call (HeadObject needs s3:GetObject).
pub const IAM_ACTIONS: &[&str] = &[
    "s3:GetObject",
    // Without ListBucket, S3 answers a missing key with 403 instead of 404.
    "s3:ListBucket",
    "sagemaker:InvokeEndpoint",
];

/// The invoker's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokerConfig {
    /// Path-style S3 addressing (emulators only).
    pub s3_path_style: bool,
    /// The bucket holding the routing table.
    pub bucket: String,
    /// The multi-model endpoint's name.
    pub endpoint_name: String,
    /// Where the routing table and the artifacts are.
    pub layout: EndpointLayout,
    /// How long the routing table is used before it is revalidated.
    pub cache_ttl: Duration,
    /// Largest accepted request body, in bytes.
    pub max_request_bytes: usize,
}

impl InvokerConfig {
    /// Reads [`ENV_VARS`]; fails naming the first missing or bad variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let max = env.number(ENV_MAX_REQUEST_BYTES, DEFAULT_MAX_REQUEST_BYTES)?;
        let common = CommonConfig::from_env(env)?;
        Ok(InvokerConfig {
            s3_path_style: common.s3_path_style,
            bucket: common.bucket,
            endpoint_name: env.required(config::ENV_ENDPOINT_NAME)?,
            layout: EndpointLayout::from_env(env)?,
            cache_ttl: env.seconds(ENV_ROUTE_CACHE_TTL_SECONDS, DEFAULT_ROUTE_CACHE_TTL_SECONDS)?,
            max_request_bytes: usize::try_from(max).unwrap_or(usize::MAX),
        })
    }
}

/// The handler: a store for the routing table, the endpoint, and the route cache.
pub struct Invoker<S, E> {
    store: S,
    endpoint: E,
    config: InvokerConfig,
    routes: RouteCache,
}

impl<S: ObjectStore, E: ModelEndpoint> Invoker<S, E> {
    /// An invoker reading routes from `store` and predicting through `endpoint`.
    pub fn new(store: S, endpoint: E, config: InvokerConfig) -> Self {
        let routes = RouteCache::new(config.layout.routing_key.clone(), config.cache_ttl);
        Invoker {
            store,
            endpoint,
            config,
            routes,
        }
    }

    /// Handles one HTTP request; never fails (every error is a JSON response).
    pub async fn handle(&self, method: &Method, body: &[u8]) -> Response<String> {
        match *method {
            Method::GET => self.list_models().await,
            Method::POST => self.predict(body).await,
            _ => {
                let mut response = error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &format!("method {method} is not allowed; use GET or POST"),
                );
                response
                    .headers_mut()
                    .insert(header::ALLOW, header::HeaderValue::from_static("GET, POST"));
                response
            }
        }
    }

    async fn list_models(&self) -> Response<String> {
        let table = match self.routes.get(&self.store).await {
            Ok(table) => table,
            Err(failure) => return routing_unavailable(&failure),
        };
        let models: Vec<Value> = table
            .routes
            .iter()
            .map(|(dataset, route)| {
                json!({
                    "model": dataset,
                    "group": route.group,
                    "version": route.version,
                    "model_package_arn": route.model_package_arn,
                    "target_model": route.target_model,
                })
            })
            .collect();
        respond(StatusCode::OK, &json!({ "models": models }))
    }

    async fn predict(&self, body: &[u8]) -> Response<String> {
        if body.len() > self.config.max_request_bytes {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "request body is {} bytes; the limit is {}",
                    body.len(),
                    self.config.max_request_bytes
                ),
            );
        }
        let request = match parse_request(body) {
            Ok(request) => request,
            Err(problem) => return error(StatusCode::BAD_REQUEST, &problem.to_string()),
        };
        let table = match self.routes.get(&self.store).await {
            Ok(table) => table,
            Err(failure) => return routing_unavailable(&failure),
        };
        let Some((dataset, route)) = table.resolve(&request.model) else {
            return error(
                StatusCode::NOT_FOUND,
                &format!("No model found for {}", request.model),
            );
        };
        let invocation = Invocation {
            target_model: route.target_model.clone(),
            content_type: "text/csv".to_string(),
            accept: None,
            body: request.csv.into_bytes(),
        };
        // Transient failures were retried by the endpoint's transport (mmp_common::retry).
        match self.endpoint.invoke(&invocation).await {
            Ok(output) => respond(
                StatusCode::OK,
                &json!({
                    "model": dataset,
                    "group": route.group,
                    "version": route.version,
                    "predictions": predictions(&output.body),
                }),
            ),
            Err(failure) => {
                if failure.is_not_found() {
                    // The route may have moved since it was cached.
                    self.routes.invalidate().await;
                }
                if let PortError::BadInput(detail) = &failure {
                    tracing::info!(%detail, target_model = %route.target_model, "the model refused the rows");
                    return error(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "model {dataset} cannot take these rows: {}",
                            container_message(detail)
                        ),
                    );
                }
                tracing::error!(%failure, target_model = %route.target_model, "InvokeEndpoint failed");
                let status = match failure {
                    PortError::Throttled(_) => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::BAD_GATEWAY,
                };
                error(
                    status,
                    &format!("the endpoint could not serve model {dataset}: {failure}"),
                )
            }
        }
    }
}

/// The endpoint's answer as JSON: parsed if it is JSON, else one value per line (numbers
/// where they parse, strings otherwise).
pub fn predictions(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    if let Ok(mut value) = serde_json::from_str::<Value>(&text) {
        // The model container answers `{"predictions": [...]}`: return the list itself.
        return match value.get_mut("predictions") {
            Some(list) => list.take(),
            None => value,
        };
    }
    let lines: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let line = line.trim();
            line.parse::<f64>()
                .ok()
                .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                .unwrap_or_else(|| Value::String(line.to_string()))
        })
        .collect();
    Value::Array(lines)
}

fn routing_unavailable(failure: &mmp_common::routing::RoutingError) -> Response<String> {
    tracing::error!(%failure, "routing table unavailable");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("routing table unavailable: {failure}"),
    )
}

fn error(status: StatusCode, message: &str) -> Response<String> {
    respond(status, &json!({ "error": message }))
}

fn respond(status: StatusCode, body: &Value) -> Response<String> {
    let mut response = Response::new(body.to_string());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The container's own message: the `error` of its JSON answer, else its answer as it is.
fn container_message(detail: &str) -> String {
    serde_json::from_str::<serde_json::Value>(detail)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_string))
        .unwrap_or_else(|| detail.to_string())
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn config_reads_exactly_env_vars() {
        let _parsed = mmp_common::contract::config_reads_exactly(
            InvokerConfig::from_env,
            &[
                (config::ENV_BUCKET, "b"),
                (config::ENV_ENDPOINT_NAME, "mmp-endpoint"),
            ],
            ENV_VARS,
        );
    }
}
