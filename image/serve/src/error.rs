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
    #[error("environment variable {var}={value:?}: {reason}")]
    Config {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("single-model mode: cannot load the model in {}: {reason}", dir.display())]
    SingleModel { dir: PathBuf, reason: String },
    #[error("the server failed: {0}")]
    Server(#[source] std::io::Error),
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("model \"{0}\" is not loaded")]
    ModelNotLoaded(String),
    #[error("no model is loaded for /invocations: {0}")]
    NoSingleModel(String),
    #[error("model \"{0}\" is already loaded")]
    AlreadyLoaded(String),
    #[error("model \"{0}\" is being loaded")]
    StillLoading(String),
    /// The body names neither the folder (`url`, a path of the machine) nor, as far as the
    /// loader does, what its files hold.
    #[error("cannot load model \"{name}\": {reason}")]
    InvalidModel {
        name: String,
        url: String,
        reason: String,
    },
    #[error(
        "model \"{name}\" needs {needed} bytes but {used} of the {budget}-byte memory budget are in use"
    )]
    OverBudget {
        name: String,
        needed: usize,
        used: usize,
        budget: usize,
    },
    #[error("the {used}-byte memory budget is spent ({budget} bytes); unload a model first")]
    BudgetFull { used: usize, budget: usize },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    BadPayload(InputError),
    #[error("unsupported Content-Type {0:?}; send text/csv or application/json")]
    UnsupportedMediaType(String),
    #[error("cannot answer with Accept {0:?}; ask for text/csv or application/json")]
    NotAcceptable(String),
    #[error("{message}")]
    Body { status: StatusCode, message: String },
    #[error("no route for {0}")]
    NoRoute(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
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
