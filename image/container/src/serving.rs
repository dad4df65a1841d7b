//! mmp-serve's model port, implemented for mmp-ml's artifact.
//!
//! Loading reads the unpacked artifact folder once and precomputes what every request needs
//! (feature names, class labels, buffer sizes); a prediction encodes each row into a small
//! reusable buffer and walks the fitted model, so a one-row request costs microseconds.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use mmp_ml::error::listing;
use mmp_ml::model::Model as MlModel;
use mmp_ml::schema::Value;
use mmp_serve::port::{Cell, InputError, LoadError, Model, ModelLoader, Prediction, Rows};

/// Loads mmp-ml model artifacts (`manifest.json` + payload) from unpacked folders.
#[derive(Debug, Clone, Copy, Default)]
pub struct MmpModelLoader;

impl ModelLoader for MmpModelLoader {
    fn load(&self, dir: &Path) -> Result<Arc<dyn Model>, LoadError> {
        // `MlModel::load` checks the payload on its own and against the manifest's schema.
        let mut model =
            MlModel::load(dir).map_err(|e| LoadError(format!("{}: {e}", dir.display())))?;
        // A served model is never saved again.
        model.fitted.release_library_file();
        Ok(Arc::new(ServedModel::new(model)))
    }
}

/// A loaded model with its per-request lookups precomputed.
#[derive(Debug)]
pub struct ServedModel {
    model: MlModel,
    feature_names: Vec<String>,
    by_name: HashMap<String, usize>,
    labels: Option<Vec<String>>,
    memory: usize,
}

impl ServedModel {
    /// Precomputes what every request needs: the feature-name index, labels, buffer sizes.
    pub fn new(model: MlModel) -> ServedModel {
        let feature_names: Vec<String> = model
            .schema()
            .features
            .iter()
            .map(|f| f.name.clone())
            .collect();
        let by_name = feature_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let labels = model.classes().map(<[String]>::to_vec);
        let memory = estimate_memory(&model);
        ServedModel {
            model,
            feature_names,
            by_name,
            labels,
            memory,
        }
    }

    /// For each model feature, its position in the request's columns.
    fn positions(&self, columns: &[String]) -> Result<Vec<usize>, InputError> {
        let mut positions = vec![usize::MAX; self.feature_names.len()];
        for (at, name) in columns.iter().enumerate() {
            if let Some(&i) = self.by_name.get(name.trim()) {
                positions[i] = at;
            }
        }
        if let Some(missing) = positions.iter().position(|&p| p == usize::MAX) {
            return Err(InputError {
                row: None,
                column: Some(self.feature_names[missing].clone()),
                message: format!(
                    "the request has no column `{}` (the model takes: {})",
                    self.feature_names[missing],
                    listing(&self.feature_names)
                ),
            });
        }
        Ok(positions)
    }
}

fn cell_value(cell: Option<&Cell>) -> Value<'_> {
    match cell {
        None | Some(Cell::Missing) => Value::Missing,
        Some(Cell::Number(x)) => Value::Number(*x),
        Some(Cell::Text(s)) => Value::Text(s),
    }
}

/// The most class probabilities one request may ask for (rows × classes). A request is
/// bounded in bytes (6 MB, tens of thousands of rows), but each row's answer has a
/// probability per class: 60,000 rows to a model of 3,000 classes would be 180 million
/// labelled probabilities, gigabytes of memory, for a response SageMaker could not return
/// (6 MB).
pub const MAX_PROBABILITIES: usize = 1_000_000;

impl Model for ServedModel {
    fn predict(&self, rows: &Rows) -> Result<Vec<Prediction>, InputError> {
        if let Some(labels) = &self.labels {
            let asked = rows.rows.len().saturating_mul(labels.len());
            if asked > MAX_PROBABILITIES {
                return Err(InputError {
                    row: None,
                    column: None,
                    message: format!(
                        "{} rows × {} classes is {asked} probabilities, more than the {MAX_PROBABILITIES} \
                         one request may ask for: send at most {} rows at a time",
                        rows.rows.len(),
                        labels.len(),
                        MAX_PROBABILITIES / labels.len(),
                    ),
                });
            }
        }
        let n_features = self.feature_names.len();
        let positions = rows
            .columns
            .as_deref()
            .map(|c| self.positions(c))
            .transpose()?;
        let mut scratch = vec![0.0; self.model.width()];
        let mut out = vec![0.0; self.model.n_outputs()];
        let mut predictions = Vec::with_capacity(rows.rows.len());
        for (r, row) in rows.rows.iter().enumerate() {
            if positions.is_none() && row.len() != n_features {
                return Err(InputError {
                    row: Some(r),
                    column: None,
                    message: format!(
                        "row {r} has {} values; the model takes {n_features} ({})",
                        row.len(),
                        listing(&self.feature_names)
                    ),
                });
            }
            let value = |i: usize| match &positions {
                Some(p) => cell_value(row.get(p[i])),
                None => cell_value(row.get(i)),
            };
            self.model
                .predict_row(value, &mut scratch, &mut out)
                .map_err(|(i, message)| InputError {
                    row: Some(r),
                    column: Some(self.feature_names[i].clone()),
                    message: format!("row {r}, column `{}`: {message}", self.feature_names[i]),
                })?;
            // Values far beyond the training data can overflow a family's arithmetic (a
            // Gaussian's square): its outputs are then NaN, and a label drawn from them is noise.
            if !out.iter().all(|v| v.is_finite()) {
                return Err(InputError {
                    row: Some(r),
                    column: None,
                    message: format!(
                        "row {r}: the model's output is not a number for these values (too \
                         large for its arithmetic?)"
                    ),
                });
            }
            predictions.push(match &self.labels {
                Some(labels) => {
                    let best = (0..out.len()).fold(0, |b, j| if out[j] > out[b] { j } else { b });
                    Prediction::Label {
                        label: labels[best].clone(),
                        probabilities: labels.iter().cloned().zip(out.iter().copied()).collect(),
                    }
                }
                None => Prediction::Value(out[0]),
            });
        }
        Ok(predictions)
    }

    fn memory_bytes(&self) -> usize {
        self.memory
    }
}

/// A gblinear model's weights (none for trees).
fn linear_weights(ensemble: &mmp_ml::estimators::tree_ensemble::TreeEnsemble) -> usize {
    ensemble.linear.as_ref().map_or(0, |l| l.weights.len())
}

/// Resident size, approximated by the payload's numbers and the schema's strings.
fn estimate_memory(model: &MlModel) -> usize {
    use mmp_ml::estimators::Fitted;
    let numbers = match &model.fitted {
        Fitted::LogisticRegression(m) => m.weights.len() + m.intercepts.len(),
        Fitted::NaiveBayes(m) => m.constants.len() + m.means.len() + m.inverse_variances.len(),
        Fitted::RandomForest(f) => f
            .trees
            .iter()
            // A leaf output: a value and its index; a node: a split and four indices.
            .map(|t| t.value.len() + t.output.len() / 2 + 4 * t.left.len())
            .sum(),
        Fitted::NeuralNet(m) => {
            m.means.len() * 2
                + m.layers
                    .iter()
                    .map(|l| l.weights.len() + l.biases.len())
                    .sum::<usize>()
        }
        Fitted::GradientBoosting(b) => b.node_count() * 10 + linear_weights(&b.ensemble),
        // The trees read from the library's file (released on load), a split being about
        // four numbers.
        Fitted::XGBoost(m) | Fitted::LightGBM(m) => {
            m.file().map_or(0, <[u8]>::len) / 8
                + m.ensemble()
                    .trees
                    .iter()
                    .map(|t| 4 * t.splits.len() + t.leaves.len())
                    .sum::<usize>()
                + linear_weights(m.ensemble())
        }
    };
    let strings: usize = model
        .schema()
        .features
        .iter()
        .map(|f| {
            f.name.len()
                + 64
                + match &f.encoding {
                    mmp_ml::schema::Encoding::Categorical { categories, .. } => {
                        categories.iter().map(|c| c.len() + 24).sum()
                    }
                    mmp_ml::schema::Encoding::Numeric { .. } => 0,
                }
        })
        .sum();
    std::mem::size_of::<ServedModel>() + numbers * 8 + strings * 2
}
