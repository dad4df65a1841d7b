//! Errors: [`ServeError`] stops the server; [`ApiError`] becomes one HTTP response with a
//! JSON body `{"error": "...", "row": n, "column": "c"}` (row and column when known).

use std::path::PathBuf;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::port::{InputError, LoadError};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A setting read from the environment is not valid.
    #[error("environment variable {var}={value:?}: {reason}")]
    Config {
        /// The variable's name.
        var: &'static str,
        /// Its value, as set.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
    /// Tokio's runtime could not be built (threads, I/O driver).
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why binding failed (in use, not permitted…).
        #[source]
        source: std::io::Error,
    },
    /// The model of single-model mode (`/opt/ml/model`) did not load.
    #[error("single-model mode: cannot load the model in {}: {reason}", dir.display())]
    SingleModel {
        /// The folder it was loaded from.
        dir: PathBuf,
        /// The loader's reason.
        reason: String,
    },
    /// Accepting or serving connections failed.
    #[error("the server failed: {0}")]
    Server(#[source] std::io::Error),
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The named model is not loaded (404).
    #[error("model \"{0}\" is not loaded")]
    ModelNotLoaded(String),
    /// `/invocations` without a single model to answer it (404).
    #[error("no model is loaded for /invocations: {0}")]
    NoSingleModel(String),
    /// A load of a name already loaded (409).
    #[error("model \"{0}\" is already loaded")]
    AlreadyLoaded(String),
    /// A request for a model whose load has not finished (409).
    #[error("model \"{0}\" is being loaded")]
    StillLoading(String),
    /// The body names neither the folder (`url`, a path of the machine) nor, as far as the
    /// loader does, what its files hold.
    #[error("cannot load model \"{name}\": {reason}")]
    InvalidModel {
        /// The name the load asked for.
        name: String,
        /// The folder it named.
        url: String,
        /// The loader's reason.
        reason: String,
    },
    /// Loading the model would exceed the memory budget (507).
    #[error(
        "model \"{name}\" needs {needed} bytes but {used} of the {budget}-byte memory budget are in use"
    )]
    OverBudget {
        /// The model asked for.
        name: String,
        /// Bytes it would hold.
        needed: usize,
        /// Bytes the loaded models hold.
        used: usize,
        /// The budget, in bytes.
        budget: usize,
    },
    /// The memory budget is already spent (507).
    #[error("the {used}-byte memory budget is spent ({budget} bytes); unload a model first")]
    BudgetFull {
        /// Bytes the loaded models hold.
        used: usize,
        /// The budget, in bytes.
        budget: usize,
    },
    /// A request body the route cannot use (400).
    #[error("{0}")]
    BadRequest(String),
    /// Rows the model cannot read, naming row and column (400).
    #[error("{0}")]
    BadPayload(InputError),
    /// A Content-Type other than CSV or JSON (415).
    #[error("unsupported Content-Type {0:?}; send text/csv or application/json")]
    UnsupportedMediaType(String),
    /// An Accept header that allows neither CSV nor JSON (406).
    #[error("cannot answer with Accept {0:?}; ask for text/csv or application/json")]
    NotAcceptable(String),
    /// Any other status with its message (a prediction past its deadline: 504).
    #[error("{message}")]
    Body {
        /// The response's status.
        status: StatusCode,
        /// The message the JSON body carries.
        message: String,
    },
    /// No route matches the method and path (404).
    #[error("no route for {0}")]
    NoRoute(String),
    /// A failure that is the server's, not the request's (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status the error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::ModelNotLoaded(_) | ApiError::NoSingleModel(_) | ApiError::NoRoute(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::AlreadyLoaded(_) | ApiError::StillLoading(_) => StatusCode::CONFLICT,
            ApiError::InvalidModel { .. } | ApiError::BadRequest(_) | ApiError::BadPayload(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::OverBudget { .. } | ApiError::BudgetFull { .. } => {
                StatusCode::INSUFFICIENT_STORAGE
            }
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::Body { status, .. } => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A load refusal; the folder's path is taken out of the loader's reason (the log keeps
    /// it).
    pub fn invalid_model(name: &str, url: &str, err: LoadError) -> Self {
        tracing::info!(model = name, url, reason = %err.0, "model load refused");
        ApiError::InvalidModel {
            name: name.to_owned(),
            url: url.to_owned(),
            reason: without_folder(&err.0, url),
        }
    }
}

impl From<InputError> for ApiError {
    fn from(err: InputError) -> Self {
        ApiError::BadPayload(err)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    row: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (row, column) = match &self {
            ApiError::BadPayload(input) => (input.row, input.column.as_deref()),
            _ => (None, None),
        };
        let error = match &self {
            ApiError::BadPayload(input) => describe_input_error(input),
            other => other.to_string(),
        };
        if status.is_server_error() {
            tracing::error!(%status, %error, "request failed");
        } else {
            tracing::debug!(%status, %error, "request refused");
        }
        let body = serde_json::to_vec(&ErrorBody { error, row, column })
            .unwrap_or_else(|_| b"{\"error\":\"unprintable error\"}".to_vec());
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response()
    }
}

/// `reason` without the folder's path: a leading `<folder>: ` goes, any other mention
/// becomes "the model folder".
fn without_folder(reason: &str, url: &str) -> String {
    let folder = url.trim_end_matches('/');
    if folder.is_empty() {
        return reason.to_owned();
    }
    let reason = reason
        .strip_prefix(folder)
        .and_then(|rest| rest.strip_prefix(": "))
        .unwrap_or(reason);
    reason.replace(folder, "the model folder")
}

/// "row 3, column age: not a number": the place first, so it reads well in a log (unless the
/// model's message already starts with it).
fn describe_input_error(input: &InputError) -> String {
    let names_its_row = input.row.is_some_and(|row| {
        input
            .message
            .strip_prefix(&format!("row {row}"))
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
    });
    if names_its_row {
        return input.message.clone();
    }
    match (input.row, input.column.as_deref()) {
        (Some(row), Some(column)) => format!("row {row}, column {column}: {}", input.message),
        (Some(row), None) => format!("row {row}: {}", input.message),
        (None, Some(column)) => format!("column {column}: {}", input.message),
        (None, None) => input.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(row: Option<usize>, column: Option<&str>, message: &str) -> InputError {
        InputError {
            row,
            column: column.map(str::to_owned),
            message: message.to_owned(),
        }
    }

    #[test]
    fn load_refusals_do_not_name_the_folder() {
        let folder = "/srv/cache/m.tar.gz";
        let refusal = |reason: &str| {
            ApiError::invalid_model("m", folder, LoadError(reason.to_owned())).to_string()
        };
        assert_eq!(
            refusal("/srv/cache/m.tar.gz: model artifact: manifest.json is not a regular file"),
            "cannot load model \"m\": model artifact: manifest.json is not a regular file"
        );
        assert_eq!(
            refusal("cannot open /srv/cache/m.tar.gz/model.json"),
            "cannot load model \"m\": cannot open the model folder/model.json"
        );
    }

    #[test]
    fn input_errors_lead_with_their_place_once() {
        let cases = [
            (
                input(Some(3), Some("age"), "not a number"),
                "row 3, column age: not a number",
            ),
            (input(Some(1), None, "too short"), "row 1: too short"),
            (
                input(None, Some("b"), "missing column"),
                "column b: missing column",
            ),
            (input(None, None, "no rows"), "no rows"),
            (
                input(Some(0), None, "row 0 has 31 values"),
                "row 0 has 31 values",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(describe_input_error(&error), expected);
        }
    }
}
