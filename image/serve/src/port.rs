//! The port between the server and the models it serves.

use std::path::Path;
use std::sync::Arc;

/// One input cell, as parsed from a CSV or JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// An empty CSV field or a JSON `null`.
    Missing,
    Number(f64),
    Text(String),
}

/// Input rows. `columns` is set when the payload named its columns (JSON records);
/// otherwise cells are in the model's feature order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    pub columns: Option<Vec<String>>,
    pub rows: Vec<Vec<Cell>>,
}

/// One row's prediction.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// Classification: the label as it appeared in the training data, and every class's
    /// probability in the model's class order.
    Label {
        label: String,
        probabilities: Vec<(String, f64)>,
    },
    /// Regression.
    Value(f64),
}

/// Input the model cannot use; names the row (0-based) and column where known.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct InputError {
    pub row: Option<usize>,
    pub column: Option<String>,
    pub message: String,
}

/// A folder that holds no usable model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

/// A loaded model.
pub trait Model: Send + Sync + 'static {
    fn predict(&self, rows: &Rows) -> Result<Vec<Prediction>, InputError>;
    /// Approximate resident bytes, charged against the memory budget.
    fn memory_bytes(&self) -> usize;
}

/// Loads a model from the folder an artifact was unpacked into.
pub trait ModelLoader: Send + Sync + 'static {
    fn load(&self, dir: &Path) -> Result<Arc<dyn Model>, LoadError>;
}
