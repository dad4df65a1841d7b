//! Data handling, estimators, cross-validation, metrics and the model artifact used by every job of the pipeline.
