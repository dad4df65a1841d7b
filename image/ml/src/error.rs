//! The one error type of this crate: every variant names what was wrong and where.

use std::path::PathBuf;

/// Everything that can go wrong while reading data, fitting, scoring or (de)serializing a model.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// A file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A CSV without even a header row.
    #[error("{path}: the file is empty (a header row is required)")]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// A CSV with a header but no data.
    #[error("{path}: the file has a header row but no data rows")]
    NoRows {
        /// The file.
        path: PathBuf,
    },
    /// A record that is not UTF-8.
    #[error("{path}: row {row}{column}: not valid UTF-8 (the record starts at byte {byte})")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The row's line in the file (the header is line 1).
        row: u64,
        /// `, column `name`` when known, else empty.
        column: String,
        /// Where the record starts, in bytes.
        byte: u64,
    },
    /// A row with more or fewer fields than the header.
    #[error("{path}: row {row}: has {found} fields, the header has {expected}")]
    Ragged {
        /// The file.
        path: PathBuf,
        /// The row's line in the file (the header is line 1).
        row: u64,
        /// Fields the row has.
        found: u64,
        /// Fields the header has.
        expected: u64,
    },
    /// A record longer than a streaming reader allows (hostile or broken input).
    #[error("{path}: row {row}: the record is longer than {limit} bytes, the most one record may take (blank lines before it included)")]
    RecordTooLong {
        /// The file.
        path: PathBuf,
        /// The row's line in the file (the header is line 1).
        row: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// More data rows than the target's values are indexed by (a u32 a row).
    #[error("{source_name}: more than {max} data rows")]
    TooManyRows {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The most rows it takes.
        max: u64,
    },
    /// A file that no longer holds, at an offset read before, the record found there.
    #[error("{path}: the file changed while it was being read (the record at byte {byte} is not what it was)")]
    Changed {
        /// The file.
        path: PathBuf,
        /// Where the record started.
        byte: u64,
    },
    /// Any other CSV syntax error.
    #[error("{path}: malformed CSV: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The CSV reader's message.
        message: String,
    },
    /// A column named (target, request) that the data lacks.
    #[error("{source_name}: no column named `{column}` (columns: {available})")]
    NoSuchColumn {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The column's name.
        column: String,
        /// The columns there are, comma-separated.
        available: String,
    },
    /// A header naming one column twice.
    #[error("{source_name}: column `{column}` appears more than once in the header")]
    DuplicateColumn {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The column's name.
        column: String,
    },
    /// A classification target with a single class.
    #[error("{source_name}: target column `{column}` has only one class ({class}); classification needs two or more")]
    OneClass {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The column's name.
        column: String,
        /// The one class.
        class: String,
    },
    #[error(
        "{source_name}: row {row}, column `{column}`: regression target `{value}` is not a number"
    )]
    /// A regression target value that is not a number.
    NonNumericTarget {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The row's line in its file (the header is line 1).
        row: usize,
        /// The column's name.
        column: String,
        /// The value as read.
        value: String,
    },
    /// A row without a target value.
    #[error("{source_name}: row {row}, column `{column}`: the target is missing")]
    MissingTarget {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The row's line in its file (the header is line 1).
        row: usize,
        /// The column's name.
        column: String,
    },
    /// A target that cannot be read as the task asked for.
    #[error("{source_name}: target column `{column}`: {message}")]
    TaskMismatch {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The column's name.
        column: String,
        /// What was wrong.
        message: String,
    },
    /// A feature column with no value at all.
    #[error("{source_name}: column `{column}` has no values at all, so nothing can be learned or imputed")]
    EmptyFeature {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The column's name.
        column: String,
    },
    /// Rows whose one-hot encoding (at least doubling the cells) would take more than half the
    /// memory the job has.
    #[error(
        "{source_name}: one-hot encoding makes {width} model columns (column `{column}` alone has \
         {categories} distinct values), and {rows} rows of them take {} MiB, more than half of \
         the {} MiB this job has (fitting needs the other half): drop identifier-like columns, \
         or give the job more memory",
        .bytes.div_ceil(1 << 20),
        .available >> 20
    )]
    TooWide {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The column with the most categories.
        column: String,
        /// Its distinct values.
        categories: usize,
        /// Model columns in all.
        width: usize,
        /// Data rows.
        rows: usize,
        /// What the encoded rows would take.
        bytes: u64,
        /// What the job has.
        available: u64,
    },
    /// Encoded rows that would take more than the memory the job has.
    #[error(
        "{source_name}: {rows} rows of {width} model columns take {} MiB, more than the {} MiB \
         this job has: give the job more memory, or train on fewer rows",
        .bytes.div_ceil(1 << 20),
        .available >> 20
    )]
    RowsBeyondMemory {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// Model columns in all.
        width: usize,
        /// Data rows.
        rows: usize,
        /// What the encoded rows would take.
        bytes: u64,
        /// What the job has.
        available: u64,
    },
    /// Data with the target as its only column.
    #[error("{source_name}: the data has no feature columns besides the target `{target}`")]
    NoFeatures {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The target column.
        target: String,
    },
    /// A cell a fitted schema cannot encode.
    #[error("{source_name}: row {row}, column `{column}`: {message}")]
    BadCell {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The row's line in its file (the header is line 1).
        row: usize,
        /// The column's name.
        column: String,
        /// What was wrong.
        message: String,
    },
    /// A row whose values a model's arithmetic cannot take: its outputs are not numbers.
    #[error("{source_name}: row {row}: the model's output is not a number for these values (too large for its arithmetic?)")]
    NotANumber {
        /// The data's name (its file, or what it came from).
        source_name: String,
        /// The row's line in its file (the header is line 1).
        row: usize,
    },
    /// A hyperparameter that does not parse or is out of range.
    #[error("hyperparameter `{name}`: {message}")]
    Hyperparameter {
        /// The hyperparameter's name.
        name: String,
        /// What was wrong with its value.
        message: String,
    },
    /// The hyperparameters file is not a JSON object.
    #[error("hyperparameters: {0}")]
    HyperparameterFile(String),
    /// An algorithm name that is not one of the families.
    #[error(transparent)]
    UnknownAlgorithm(#[from] mmp_pipeline::algorithm::UnknownAlgorithm),
    /// A task name other than binary, multiclass or regression.
    #[error("unknown task `{0}` (expected binary, multiclass or regression)")]
    UnknownTask(String),
    /// A scorer or metric the task cannot be scored with.
    #[error("scorer or metric `{name}` does not apply to a {task} task{hint}")]
    NotApplicable {
        /// The name as given.
        name: String,
        /// The task.
        task: String,
        /// A hint at what applies instead, or empty.
        hint: String,
    },
    /// A scorer name scikit-learn does not have.
    #[error("unknown scorer `{0}`")]
    UnknownScorer(String),
    /// A registration metric the condition step cannot check.
    #[error("unknown registration metric `{0}` (expected one of accuracy, precision, recall, f1, auc, r2)")]
    UnknownRegisterMetric(String),
    /// Cross-validation cannot be done (too few rows per class, an undefined score…).
    #[error("cross-validation: {0}")]
    Folds(String),
    /// The train/test split cannot be made.
    #[error("split: {0}")]
    Split(String),
    /// A stratified split meets a class with a single row (the job names its label).
    #[error(
        "split: cannot stratify: class code {class} has only 1 row; every class needs at least 2"
    )]
    SingleRowClass {
        /// The class's code.
        class: usize,
    },
    /// A family failed to fit.
    #[error("fitting {family}: {message}")]
    Fit {
        /// The family that failed to fit.
        family: mmp_pipeline::algorithm::Algorithm,
        /// What was wrong.
        message: String,
    },
    /// A model column whose values are too large for a family's arithmetic. The job names the
    /// input column (`Schema::column_name`).
    #[error("fitting {family}: the values of model column {column} are too large: {why}")]
    TooLarge {
        /// The family that failed to fit.
        family: mmp_pipeline::algorithm::Algorithm,
        /// The model column, 0-based.
        column: usize,
        /// Why, and what to do.
        why: &'static str,
    },
    /// A model artifact that is missing a file, malformed or inconsistent.
    #[error("model artifact: {0}")]
    Artifact(String),
    /// An artifact written in a format version this build does not read.
    #[error("model artifact: format version {found} is not supported by this build (it reads version {supported})")]
    UnsupportedFormat {
        /// The version the artifact has.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
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

/// This crate's result: errors are [`MlError`].
pub type Result<T, E = MlError> = std::result::Result<T, E>;

/// How many names [`listing`] shows.
const LISTED: usize = 20;

/// `names` joined by commas, the first [`LISTED`] of them and then how many more: an error
/// that names a dataset's classes or columns stays short enough to read (and for SageMaker's
/// 1,024-character FailureReason), however many there are.
pub fn listing<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<&str> = names.iter().take(LISTED).map(AsRef::as_ref).collect();
    match names.len().saturating_sub(LISTED) {
        0 => shown.join(", "),
        more => format!("{}, … and {more} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_shows_the_first_names_and_counts_the_rest() {
        assert_eq!(listing::<&str>(&[]), "");
        assert_eq!(listing(&["a", "b"]), "a, b");
        let many: Vec<String> = (0..3000).map(|i| format!("c{i}")).collect();
        let shown = listing(&many);
        assert!(shown.starts_with("c0, c1, c2,"), "{shown}");
        assert!(shown.ends_with("c19, … and 2980 more"), "{shown}");
        assert_eq!(listing(&many[..LISTED]).matches(", ").count(), LISTED - 1);
    }
}
