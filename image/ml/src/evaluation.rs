//! The evaluation report (`evaluation.json`) the registration condition reads.
//!
//! - Binary: exactly the original's `binary_classification_metrics` (accuracy, precision,
//!   recall, f1, auc, confusion matrix, ROC and precision-recall curves of at most
//!   [`MAX_CURVE_POINTS`] points each), positive class = the second class label.
//! - Multiclass: SageMaker Model Monitor's `multiclass_classification_metrics` (confusion
//!   matrix, accuracy, weighted recall/precision/F0.5/F1/F2 and the same for the best constant
//!   classifier), plus `auc`, the macro one-vs-rest ROC AUC.
//! - Regression: Model Monitor's `regression_metrics` (mae, mse, rmse, r2).
//!
//! Every metric is `{"value": v, "standard_deviation": "NaN"}`, as in the original. The
//! top-level `register_metric` is a copy of the metric chosen by `--register-metric`:
//!
//! | register metric | binary | multiclass | regression |
//! |---|---|---|---|
//! | accuracy | accuracy | accuracy | error |
//! | precision | precision | weighted_precision | error |
//! | recall | recall | weighted_recall | error |
//! | f1 | f1 | weighted_f1 | error |
//! | auc | auc | auc (macro one-vs-rest) | error |
//! | r2 | error | error | r2 |

use ndarray::ArrayView2;
use serde_json::{json, Map, Value};

use crate::error::{MlError, Result};
use crate::metrics::{self, Average, PerClass, ThresholdCounts};
use crate::model::{Model, Predictions};
use crate::schema::is_missing;
use crate::table::Table;
use crate::target::Task;

/// Curves are evenly subsampled to at most this many points (the original's cap).
pub const MAX_CURVE_POINTS: usize = 10_000;

/// A metric a registration condition may check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterMetric {
    /// `accuracy`.
    Accuracy,
    /// `precision` (support-weighted over classes for multiclass).
    Precision,
    /// `recall` (support-weighted over classes for multiclass).
    Recall,
    /// `f1` (support-weighted over classes for multiclass).
    F1,
    /// `auc`: ROC AUC (one against the rest for multiclass).
    Auc,
    /// `r2` (regression).
    R2,
}

impl RegisterMetric {
    /// Reads the name the pipeline parameter takes.
    pub fn parse(name: &str) -> Result<RegisterMetric> {
        Ok(match name.trim() {
            "accuracy" => RegisterMetric::Accuracy,
            "precision" => RegisterMetric::Precision,
            "recall" => RegisterMetric::Recall,
            "f1" => RegisterMetric::F1,
            "auc" => RegisterMetric::Auc,
            "r2" => RegisterMetric::R2,
            other => return Err(MlError::UnknownRegisterMetric(other.to_string())),
        })
    }

    /// The report key this metric is read from, for `task`.
    pub fn key(self, task: Task) -> Result<&'static str> {
        let key = match (task, self) {
            (Task::Regression, RegisterMetric::R2) => Some("r2"),
            (Task::Regression, _) | (_, RegisterMetric::R2) => None,
            (_, RegisterMetric::Accuracy) => Some("accuracy"),
            (_, RegisterMetric::Auc) => Some("auc"),
            (Task::Binary, RegisterMetric::Precision) => Some("precision"),
            (Task::Binary, RegisterMetric::Recall) => Some("recall"),
            (Task::Binary, RegisterMetric::F1) => Some("f1"),
            (Task::Multiclass, RegisterMetric::Precision) => Some("weighted_precision"),
            (Task::Multiclass, RegisterMetric::Recall) => Some("weighted_recall"),
            (Task::Multiclass, RegisterMetric::F1) => Some("weighted_f1"),
        };
        key.ok_or_else(|| MlError::NotApplicable {
            name: self.name().to_string(),
            task: task.name().to_string(),
            hint: if task == Task::Regression {
                " (a regression model registers on r2)".to_string()
            } else {
                " (a classifier registers on accuracy, precision, recall, f1 or auc)".to_string()
            },
        })
    }

    fn name(self) -> &'static str {
        match self {
            RegisterMetric::Accuracy => "accuracy",
            RegisterMetric::Precision => "precision",
            RegisterMetric::Recall => "recall",
            RegisterMetric::F1 => "f1",
            RegisterMetric::Auc => "auc",
            RegisterMetric::R2 => "r2",
        }
    }
}

/// Scores `model` on `table` (which holds the target column) and builds the report.
pub fn evaluate(model: &Model, table: &Table, register: RegisterMetric) -> Result<Value> {
    let key = register.key(model.task())?;
    let target = table.column(&model.manifest.target)?;
    let predictions = model.predict_table(table)?;
    let (section, metrics) = match (&predictions, model.classes()) {
        (Predictions::Proba(proba), Some(classes)) => {
            let truth = class_codes(table, target, classes)?;
            if model.task() == Task::Binary {
                (
                    "binary_classification_metrics",
                    binary(&truth, proba.view(), classes),
                )
            } else {
                (
                    "multiclass_classification_metrics",
                    multiclass(&truth, proba.view(), classes),
                )
            }
        }
        (Predictions::Values(predicted), _) => {
            let truth = values(table, target)?;
            ("regression_metrics", regression(&truth, predicted))
        }
        (Predictions::Proba(_), None) => {
            return Err(MlError::Artifact(
                "a classifier without class labels".into(),
            ))
        }
    };
    let chosen = metrics.get(key).cloned().unwrap_or(Value::Null);
    Ok(json!({ section: metrics, "register_metric": chosen }))
}

fn metric(v: f64) -> Value {
    json!({ "value": finite(v), "standard_deviation": "NaN" })
}

/// JSON has no NaN; an undefined value (e.g. AUC with one class present) is written as null.
fn finite(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

fn confusion_json(truth: &[usize], predicted: &[usize], classes: &[String]) -> Value {
    let m = metrics::confusion(truth, predicted, classes.len());
    let mut outer = Map::new();
    for (actual, row) in classes.iter().zip(&m) {
        let inner: Map<String, Value> = classes
            .iter()
            .zip(row)
            .map(|(p, n)| (p.clone(), json!(n)))
            .collect();
        outer.insert(actual.clone(), Value::Object(inner));
    }
    Value::Object(outer)
}

fn binary(truth: &[usize], proba: ArrayView2<f64>, classes: &[String]) -> Map<String, Value> {
    let predicted = metrics::argmax_rows(proba);
    let pc = metrics::per_class(truth, &predicted, 2);
    let positive: Vec<bool> = truth.iter().map(|&t| t == 1).collect();
    let scores = proba.column(1).to_vec();
    let auc = metrics::roc_auc(&positive, &scores).unwrap_or(f64::NAN);
    let mut m = Map::new();
    m.insert(
        "accuracy".into(),
        metric(metrics::accuracy(truth, &predicted)),
    );
    m.insert(
        "precision".into(),
        metric(metrics::precision(&pc, Average::Binary)),
    );
    m.insert(
        "recall".into(),
        metric(metrics::recall(&pc, Average::Binary)),
    );
    m.insert(
        "f1".into(),
        metric(metrics::fbeta_score(&pc, Average::Binary, 1.0)),
    );
    m.insert("auc".into(), metric(auc));
    m.insert(
        "confusion_matrix".into(),
        confusion_json(truth, &predicted, classes),
    );
    let (fpr, tpr, precisions, recalls) = curves(&positive, &scores);
    m.insert(
        "receiver_operating_characteristic_curve".into(),
        json!({ "false_positive_rates": fpr, "true_positive_rates": tpr }),
    );
    m.insert(
        "precision_recall_curve".into(),
        json!({ "precisions": precisions, "recalls": recalls }),
    );
    m
}

/// ROC (from (0, 0) up) and precision-recall (by increasing threshold, ending at (1, 0))
/// curves as scikit-learn's `roc_curve(drop_intermediate=False)` and
/// `precision_recall_curve` give them, each capped at [`MAX_CURVE_POINTS`].
#[allow(clippy::type_complexity)]
fn curves(positive: &[bool], scores: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let Some(c) = ThresholdCounts::new(positive, scores) else {
        return Default::default();
    };
    let pos = c.total_pos as f64;
    let neg = c.total_neg.max(1) as f64;
    let mut fpr = vec![0.0];
    let mut tpr = vec![0.0];
    fpr.extend(c.fps.iter().map(|&f| f as f64 / neg));
    tpr.extend(c.tps.iter().map(|&t| t as f64 / pos));
    let mut precisions: Vec<f64> = c
        .tps
        .iter()
        .zip(&c.fps)
        .rev()
        .map(|(&t, &f)| {
            if t + f == 0 {
                0.0
            } else {
                t as f64 / (t + f) as f64
            }
        })
        .collect();
    let mut recalls: Vec<f64> = c.tps.iter().rev().map(|&t| t as f64 / pos).collect();
    precisions.push(1.0);
    recalls.push(0.0);
    (
        subsample(fpr),
        subsample(tpr),
        subsample(precisions),
        subsample(recalls),
    )
}

/// At most [`MAX_CURVE_POINTS`] evenly spaced points, first and last kept.
fn subsample(v: Vec<f64>) -> Vec<f64> {
    if v.len() <= MAX_CURVE_POINTS {
        return v;
    }
    let last = v.len() - 1;
    (0..MAX_CURVE_POINTS)
        .map(|i| v[(i * last + (MAX_CURVE_POINTS - 1) / 2) / (MAX_CURVE_POINTS - 1)])
        .collect()
}

fn weighted_set(m: &mut Map<String, Value>, pc: &PerClass, accuracy: f64, suffix: &str) {
    m.insert(format!("accuracy{suffix}"), metric(accuracy));
    m.insert(
        format!("weighted_recall{suffix}"),
        metric(metrics::recall(pc, Average::Weighted)),
    );
    m.insert(
        format!("weighted_precision{suffix}"),
        metric(metrics::precision(pc, Average::Weighted)),
    );
    for (name, beta) in [
        ("weighted_f0_5", 0.5),
        ("weighted_f1", 1.0),
        ("weighted_f2", 2.0),
    ] {
        m.insert(
            format!("{name}{suffix}"),
            metric(metrics::fbeta_score(pc, Average::Weighted, beta)),
        );
    }
}

fn multiclass(truth: &[usize], proba: ArrayView2<f64>, classes: &[String]) -> Map<String, Value> {
    let k = classes.len();
    let predicted = metrics::argmax_rows(proba);
    let mut m = Map::new();
    m.insert(
        "confusion_matrix".into(),
        confusion_json(truth, &predicted, classes),
    );
    let pc = metrics::per_class(truth, &predicted, k);
    weighted_set(&mut m, &pc, metrics::accuracy(truth, &predicted), "");
    // The best constant classifier always predicts the most frequent true class.
    let majority = (0..k)
        .max_by_key(|&c| (pc.support[c], std::cmp::Reverse(c)))
        .unwrap_or(0);
    let constant = vec![majority; truth.len()];
    let pc0 = metrics::per_class(truth, &constant, k);
    weighted_set(
        &mut m,
        &pc0,
        metrics::accuracy(truth, &constant),
        "_best_constant_classifier",
    );
    let auc = metrics::roc_auc_ovr(truth, proba, false).unwrap_or(f64::NAN);
    m.insert("auc".into(), metric(auc));
    m
}

fn regression(truth: &[f64], predicted: &[f64]) -> Map<String, Value> {
    let mse = metrics::mean_squared_error(truth, predicted);
    let mut m = Map::new();
    m.insert(
        "mae".into(),
        metric(metrics::mean_absolute_error(truth, predicted)),
    );
    m.insert("mse".into(), metric(mse));
    m.insert("rmse".into(), metric(mse.sqrt()));
    m.insert("r2".into(), metric(metrics::r2(truth, predicted)));
    m
}

fn class_codes(table: &Table, column: usize, classes: &[String]) -> Result<Vec<usize>> {
    let name = &table.header[column];
    table
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let v = r.get(column).unwrap_or("").trim();
            classes
                .iter()
                .position(|c| c == v)
                .ok_or_else(|| MlError::BadCell {
                    source_name: table.source.clone(),
                    row: table.rows[i] as usize,
                    column: name.clone(),
                    message: format!(
                        "class `{v}` was not seen in training (classes: {})",
                        classes.join(", ")
                    ),
                })
        })
        .collect()
}

fn values(table: &Table, column: usize) -> Result<Vec<f64>> {
    let name = &table.header[column];
    table
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let v = r.get(column).unwrap_or("").trim();
            if is_missing(v) {
                return Err(MlError::MissingTarget {
                    source_name: table.source.clone(),
                    row: table.rows[i] as usize,
                    column: name.clone(),
                });
            }
            v.parse::<f64>().map_err(|_| MlError::NonNumericTarget {
                source_name: table.source.clone(),
                row: table.rows[i] as usize,
                column: name.clone(),
                value: v.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_metrics_map_per_task() {
        let f1 = RegisterMetric::parse("f1").unwrap();
        assert_eq!(f1.key(Task::Binary).unwrap(), "f1");
        assert_eq!(f1.key(Task::Multiclass).unwrap(), "weighted_f1");
        assert_eq!(
            f1.key(Task::Regression).unwrap_err().to_string(),
            "scorer or metric `f1` does not apply to a regression task (a regression model registers on r2)"
        );
        assert_eq!(RegisterMetric::R2.key(Task::Regression).unwrap(), "r2");
        assert!(RegisterMetric::R2.key(Task::Binary).is_err());
        assert!(RegisterMetric::parse("mse").is_err());
    }

    #[test]
    fn curves_follow_scikit_learn() {
        // roc_curve([0,0,1,1], [.1,.4,.35,.8], drop_intermediate=False)
        //   fpr [0, 0, .5, .5, 1], tpr [0, .5, .5, 1, 1]
        // precision_recall_curve -> precision [.5, .667, .5, 1, 1], recall [1, 1, .5, .5, 0]
        let positive = [false, false, true, true];
        let (fpr, tpr, p, r) = curves(&positive, &[0.1, 0.4, 0.35, 0.8]);
        assert_eq!(fpr, [0.0, 0.0, 0.5, 0.5, 1.0]);
        assert_eq!(tpr, [0.0, 0.5, 0.5, 1.0, 1.0]);
        assert_eq!(r, [1.0, 1.0, 0.5, 0.5, 0.0]);
        assert_eq!(p[0], 0.5);
        assert!((p[1] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(&p[2..], [0.5, 1.0, 1.0]);
    }

    #[test]
    fn long_curves_are_capped_keeping_the_ends() {
        let v: Vec<f64> = (0..25_001).map(f64::from).collect();
        let s = subsample(v);
        assert_eq!(s.len(), MAX_CURVE_POINTS);
        assert_eq!((s[0], s[MAX_CURVE_POINTS - 1]), (0.0, 25_000.0));
    }
}
