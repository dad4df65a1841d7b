//! The pipeline definition (SageMaker Pipeline JSON) and the job contract it implies.
//!
//! Everything two parts of the system must agree on lives here once: the container's paths,
//! channels and static hyperparameters, the tuning metric and its regex, the algorithm names
//! and their search spaces, the pipeline parameters and step names. The container, the
//! functions, `mmp` and the infra checks all read these constants instead of spelling them.

#![warn(missing_docs)]

pub mod algorithm;
pub mod contract;
pub mod definition;
pub mod memory;
pub mod object;
pub mod parameters;
pub mod search_space;
pub mod status;
