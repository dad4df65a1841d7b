//! The jobs `mmp-container` runs (preprocess, train, evaluate) over the SageMaker paths
//! re-rooted by `MMP_ML_ROOT`, and the serving port implementation for mmp-ml's models
//! ([`serving::MmpModelLoader`]), which the `serve` sub-command hands to mmp-serve.

#![warn(missing_docs)]

pub mod jobs;
pub mod memory;
pub mod paths;
pub mod serving;

pub use serving::MmpModelLoader;
