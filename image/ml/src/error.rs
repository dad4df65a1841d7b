//! The one error type of this crate: every variant names what was wrong and where.

use std::path::PathBuf;

/// Everything that can go wrong while reading data, fitting, scoring or (de)serializing a model.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the file is empty (a header row is required)")]
    EmptyFile { path: PathBuf },
    #[error("{path}: the file has a header row but no data rows")]
    NoRows { path: PathBuf },
    #[error("{path}: row {row}{column}: not valid UTF-8 (the record starts at byte {byte})")]
    NotUtf8 {
        path: PathBuf,
        row: u64,
        /// `, column `name`` when known, else empty.
        column: String,
        byte: u64,
    },
    #[error("{path}: row {row}: has {found} fields, the header has {expected}")]
    Ragged {
        path: PathBuf,
        row: u64,
        found: u64,
        expected: u64,
    },
    #[error("{path}: malformed CSV: {message}")]
    Csv { path: PathBuf, message: String },
    #[error("{source_name}: no column named `{column}` (columns: {available})")]
    NoSuchColumn {
        source_name: String,
        column: String,
        available: String,
    },
    #[error("{source_name}: column `{column}` appears more than once in the header")]
    DuplicateColumn { source_name: String, column: String },
    #[error("{source_name}: target column `{column}` has only one class ({class}); classification needs two or more")]
    OneClass {
        source_name: String,
        column: String,
        class: String,
    },
    #[error(
        "{source_name}: row {row}, column `{column}`: regression target `{value}` is not a number"
    )]
    NonNumericTarget {
        source_name: String,
        row: usize,
        column: String,
        value: String,
    },
    #[error("{source_name}: row {row}, column `{column}`: the target is missing")]
    MissingTarget {
        source_name: String,
        row: usize,
        column: String,
    },
    #[error("{source_name}: target column `{column}`: {message}")]
    TaskMismatch {
        source_name: String,
        column: String,
        message: String,
    },
    #[error("{source_name}: column `{column}` has no values at all, so nothing can be learned or imputed")]
    EmptyFeature { source_name: String, column: String },
    #[error("{source_name}: the data has no feature columns besides the target `{target}`")]
    NoFeatures { source_name: String, target: String },
    #[error("{source_name}: row {row}, column `{column}`: {message}")]
    BadCell {
        source_name: String,
        row: usize,
        column: String,
        message: String,
    },
    #[error("hyperparameter `{name}`: {message}")]
    Hyperparameter { name: String, message: String },
    #[error("hyperparameters: {0}")]
    HyperparameterFile(String),
    #[error(transparent)]
    UnknownAlgorithm(#[from] mmp_pipeline::algorithm::UnknownAlgorithm),
    #[error("unknown task `{0}` (expected binary, multiclass or regression)")]
    UnknownTask(String),
    #[error("scorer or metric `{name}` does not apply to a {task} task{hint}")]
    NotApplicable {
        name: String,
        task: String,
        hint: String,
    },
    #[error("unknown scorer `{0}`")]
    UnknownScorer(String),
    #[error("unknown registration metric `{0}` (expected one of accuracy, precision, recall, f1, auc, r2)")]
    UnknownRegisterMetric(String),
    #[error("cross-validation: {0}")]
    Folds(String),
    #[error("split: {0}")]
    Split(String),
    #[error("fitting {family}: {message}")]
    Fit {
        family: mmp_pipeline::algorithm::Algorithm,
        message: String,
    },
    #[error("model artifact: {0}")]
    Artifact(String),
    #[error("model artifact: format version {found} is not supported by this build (it reads version {supported})")]
    UnsupportedFormat { found: u32, supported: u32 },
}

impl MlError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MlError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn hp(name: &str, message: impl Into<String>) -> Self {
        MlError::Hyperparameter {
            name: name.to_string(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = MlError> = std::result::Result<T, E>;
