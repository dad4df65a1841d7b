//! A fake model family for tests and benchmarks: a folder holding `fake-model.json`, e.g.
//! `{"kind": "classifier", "features": ["a", "b"], "classes": ["no", "yes"]}`.
//! It predicts from the sum of a row's numbers: a classifier answers `classes[1]` when the
//! sum is positive (probability = logistic(sum)), a regressor answers the sum.

#![allow(clippy::unwrap_used)] // test fixture: failing loudly is the point

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mmp_serve::port::{Cell, InputError, LoadError, Model, ModelLoader, Prediction, Rows};
use serde::{Deserialize, Serialize};

pub const MODEL_FILE: &str = "fake-model.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FakeSpec {
    pub kind: Kind,
    pub features: Vec<String>,
    #[serde(default)]
    pub classes: Vec<String>,
    /// What the model reports to the memory budget.
    #[serde(default)]
    pub memory_bytes: usize,
    /// Each prediction sleeps this long (graceful-shutdown tests).
    #[serde(default)]
    pub sleep_ms: u64,
    /// Each prediction panics (robustness tests).
    #[serde(default)]
    pub panics: bool,
    /// Each prediction never returns, as a model looping on a crafted tree would.
    #[serde(default)]
    pub hangs: bool,
    /// Each prediction appends a byte to this file as it starts, so that a test can wait
    /// until requests are in flight instead of guessing how long that takes.
    #[serde(default)]
    pub started_marker: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Classifier,
    Regressor,
}

impl FakeSpec {
    pub fn classifier(features: &[&str]) -> Self {
        Self {
            kind: Kind::Classifier,
            features: features.iter().map(|f| f.to_string()).collect(),
            classes: vec!["no".into(), "yes".into()],
            memory_bytes: 100,
            sleep_ms: 0,
            panics: false,
            hangs: false,
            started_marker: None,
        }
    }

    pub fn regressor(features: &[&str]) -> Self {
        Self {
            kind: Kind::Regressor,
            classes: Vec::new(),
            ..Self::classifier(features)
        }
    }

    /// Writes the spec into `dir` (created if needed).
    pub fn write_to(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(MODEL_FILE), serde_json::to_vec(self).unwrap()).unwrap();
    }
}

/// Waits until `count` predictions have started by `marker` (see `FakeSpec::started_marker`).
pub async fn predictions_started(marker: &Path, count: u64) {
    let since = std::time::Instant::now();
    while std::fs::metadata(marker).map_or(0, |m| m.len()) < count {
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "{count} predictions never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub struct FakeLoader;

impl ModelLoader for FakeLoader {
    fn load(&self, dir: &Path) -> Result<Arc<dyn Model>, LoadError> {
        let path = dir.join(MODEL_FILE);
        let text = std::fs::read(&path)
            .map_err(|err| LoadError(format!("cannot read {}: {err}", path.display())))?;
        let spec: FakeSpec = serde_json::from_slice(&text)
            .map_err(|err| LoadError(format!("{} is not a fake model: {err}", path.display())))?;
        if spec.kind == Kind::Classifier && spec.classes.len() != 2 {
            return Err(LoadError(
                "a fake classifier needs exactly two classes".into(),
            ));
        }
        Ok(Arc::new(FakeModel { spec }))
    }
}

struct FakeModel {
    spec: FakeSpec,
}

impl FakeModel {
    /// The row's values in feature order.
    fn values(&self, rows: &Rows, row: usize) -> Result<Vec<f64>, InputError> {
        let cells = &rows.rows[row];
        let ordered: Vec<(&str, &Cell)> = match &rows.columns {
            None => {
                if cells.len() != self.spec.features.len() {
                    return Err(InputError {
                        row: Some(row),
                        column: None,
                        message: format!(
                            "expected {} values, got {}",
                            self.spec.features.len(),
                            cells.len()
                        ),
                    });
                }
                self.spec
                    .features
                    .iter()
                    .map(String::as_str)
                    .zip(cells)
                    .collect()
            }
            Some(columns) => self
                .spec
                .features
                .iter()
                .map(|feature| {
                    columns
                        .iter()
                        .position(|c| c == feature)
                        .map(|i| (feature.as_str(), &cells[i]))
                        .ok_or_else(|| InputError {
                            row: None,
                            column: Some(feature.clone()),
                            message: "missing column".into(),
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        ordered
            .into_iter()
            .map(|(feature, cell)| match cell {
                Cell::Number(x) => Ok(*x),
                Cell::Missing => Ok(0.0),
                Cell::Text(text) => Err(InputError {
                    row: Some(row),
                    column: Some(feature.to_owned()),
                    message: format!("{text:?} is not a number"),
                }),
            })
            .collect()
    }
}

impl Model for FakeModel {
    fn predict(&self, rows: &Rows) -> Result<Vec<Prediction>, InputError> {
        if let Some(marker) = &self.spec.started_marker {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(marker)
                .unwrap();
            file.write_all(b".").unwrap();
        }
        if self.spec.panics {
            panic!("the fake model was told to panic");
        }
        if self.spec.hangs {
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        if self.spec.sleep_ms > 0 {
            std::thread::sleep(Duration::from_millis(self.spec.sleep_ms));
        }
        (0..rows.rows.len())
            .map(|row| {
                let sum: f64 = self.values(rows, row)?.iter().sum();
                Ok(match self.spec.kind {
                    Kind::Regressor => Prediction::Value(sum),
                    Kind::Classifier => {
                        let p = 1.0 / (1.0 + (-sum).exp());
                        let label = self.spec.classes[usize::from(sum > 0.0)].clone();
                        Prediction::Label {
                            label,
                            probabilities: vec![
                                (self.spec.classes[0].clone(), 1.0 - p),
                                (self.spec.classes[1].clone(), p),
                            ],
                        }
                    }
                })
            })
            .collect()
    }

    fn memory_bytes(&self) -> usize {
        self.spec.memory_bytes
    }
}
