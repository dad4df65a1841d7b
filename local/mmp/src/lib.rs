//! `mmp`: the whole multi-model pipeline on one machine — the pipeline definition executed
//! locally, with the model registry, the event bus, the multi-model endpoint and the Function URL.
//!
//! The public modules are what the `mmp` binary and the integration tests use; the rest is
//! the runtime's inside.
#![warn(missing_docs)]

mod actions;
pub mod adapters;
pub mod args;
#[cfg(feature = "aws")]
mod aws_commands;
#[cfg(feature = "aws")]
pub mod aws_target;
mod bus;
pub mod cli;
mod commands;
mod console;
mod db;
mod demo;
pub mod endpoint;
mod events;
mod function;
mod function_url;
mod handlers;
pub mod home;
pub mod operator;
mod registry;
mod rules;
mod runtime;
mod samples;
pub mod system;
pub mod target;
mod telemetry;
