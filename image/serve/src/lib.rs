//! SageMaker single- and multi-model serving contract over a pluggable model runtime.
//!
//! The server knows nothing of estimators: it parses payloads into [`port::Rows`], asks a
//! [`port::ModelLoader`] for models and a [`port::Model`] for predictions. `mmp-container`
//! wires the ML crate's models into this port.

pub mod port;
