//! `mmp`: the whole multi-model pipeline on one machine — the pipeline definition executed
//! locally, with the model registry, the event bus, the multi-model endpoint and the Function URL.

pub mod bus;
pub mod cli;
pub mod db;
pub mod endpoint;
pub mod home;
pub mod registry;
pub mod store;
