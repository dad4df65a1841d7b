//! SageMaker single- and multi-model serving contract over a pluggable model runtime.
//!
//! The server knows nothing of estimators: it parses payloads into [`port::Rows`], asks a
//! [`port::ModelLoader`] for models and a [`port::Model`] for predictions. `mmp-container`
//! wires the ML crate's models into this port and calls [`run_from_env`].
//!
//! Tests and benchmarks run it in-process: [`ServeConfig`] → [`AppState`] →
//! [`serve_with_shutdown`] on a listener of their own.

#![warn(missing_docs)]

mod config;
mod error;
pub mod http;
// Public only for the fuzz targets in fuzz/ (not an API of the crate).
#[doc(hidden)]
pub mod payload;
pub mod port;
mod render;
mod routes;
mod server;
mod table;

pub use config::{
    ServeConfig, BIND_ADDRESS_ENV, BODY_READ_TIMEOUT_ENV, DEFAULT_LIST_PAGE_SIZE,
    DEFAULT_MAX_REQUEST_BYTES, DEFAULT_PORT, DEFAULT_PREDICT_TIMEOUT, DEFAULT_SHUTDOWN_GRACE,
    EXIT_WITH_PARENT_ENV, HEADER_READ_TIMEOUT_ENV, LIST_PAGE_SIZE_ENV, MAX_REQUEST_ENV,
    MEMORY_BUDGET_ENV, PORT_ENV, PREDICT_TIMEOUT_ENV, SHUTDOWN_GRACE_ENV, WORKERS_ENV,
};
pub use error::{ApiError, ServeError};
pub use routes::{router, AppState, TARGET_MODEL_HEADER};
pub use server::{build_state, run, run_from_env, serve_with_shutdown, shutdown_signal};
pub use table::LoadedModel;
