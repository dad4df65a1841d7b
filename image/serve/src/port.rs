//! The port between the server and the models it serves.

use std::path::Path;
use std::sync::Arc;

/// One input cell, as parsed from a CSV or JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// An empty CSV field or a JSON `null`.
    Missing,
    /// A field that reads as a number.
    Number(f64),
    /// Any other field, as sent.
    Text(String),
}

/// Input rows. `columns` is set when the payload named its columns (JSON records);
/// otherwise cells are in the model's feature order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    /// The columns' names, when the payload gave them.
    pub columns: Option<Vec<String>>,
    /// The cells, row by row.
    pub rows: Vec<Vec<Cell>>,
}

/// One row's prediction.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// Classification: the label as it appeared in the training data, and every class's
    /// probability in the model's class order.
    Label {
        /// The most probable class.
        label: String,
        /// `(class, probability)` for every class.
        probabilities: Vec<(String, f64)>,
    },
    /// Regression.
    Value(f64),
}

/// Input the model cannot use; names the row (0-based) and column where known.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct InputError {
    /// The row, counted from 0.
    pub row: Option<usize>,
    /// The column's name.
    pub column: Option<String>,
    /// The whole message, row and column included.
    pub message: String,
}

/// A folder that holds no usable model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

/// A loaded model.
pub trait Model: Send + Sync + 'static {
    /// One prediction per row, in order; fails on the first row it cannot read.
    fn predict(&self, rows: &Rows) -> Result<Vec<Prediction>, InputError>;
    /// Approximate resident bytes, charged against the memory budget.
    fn memory_bytes(&self) -> usize;
}

/// Loads a model from the folder an artifact was unpacked into.
pub trait ModelLoader: Send + Sync + 'static {
    /// Loads the model in `dir` (blocking: the server calls it off its async workers).
    fn load(&self, dir: &Path) -> Result<Arc<dyn Model>, LoadError>;
}
