//! Data handling, estimators, cross-validation, metrics and the model artifact used by every
//! job of the pipeline.
//!
//! - [`table`]: CSV files with a header row, errors naming file, row and column.
//! - [`index`]: a CSV file's records located, not held, for writing subsets of large files.
//! - [`target`] and [`schema`]: the task, class labels and feature encoding learned at fit time.
//! - [`split`] and [`folds`]: the seeded train/test split and the cross-validation folds.
//! - [`metrics`] and [`scorer`]: scikit-learn's metrics and scorer names.
//! - [`estimators`]: the model families behind one trait.
//! - [`model`]: a fitted model with its schema, and the artifact it is saved as.
//! - [`cv`]: k-fold cross-validation of an estimator.
//! - [`evaluation`]: the `evaluation.json` report.

#![warn(missing_docs)]

pub mod cv;
pub mod error;
pub mod estimators;
pub mod evaluation;
pub mod folds;
pub mod hyperparams;
pub mod index;
pub mod metrics;
pub mod model;
pub mod schema;
pub mod scorer;
pub mod split;
pub mod table;
pub mod target;

pub use error::{MlError, Result};
