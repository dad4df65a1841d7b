//! `mmp`: the whole multi-model pipeline on one machine — the pipeline definition executed
//! locally, with the model registry, the event bus, the multi-model endpoint and the Function URL.

pub mod actions;
pub mod adapters;
pub mod args;
pub mod bus;
pub mod cli;
pub mod commands;
pub mod console;
pub mod db;
pub mod demo;
pub mod endpoint;
pub mod events;
pub mod function;
pub mod function_url;
pub mod handlers;
pub mod home;
pub mod registry;
pub mod rules;
pub mod runtime;
pub mod samples;
pub mod system;
pub mod telemetry;
