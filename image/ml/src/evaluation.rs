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

use std::path::Path;

use csv::StringRecord;
use ndarray::{Array2, ArrayView2};
use serde_json::{json, Map, Value};

use crate::error::{MlError, Result};
use crate::metrics::{self, Average, PerClass, ThresholdCounts};
use crate::model::Model;
use crate::schema::{is_missing, Value as SchemaValue};
use crate::table::{find_column, Records, Table};
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
    let mut scoring = Scoring::new(model, &table.source, &table.header);
    for (record, &row) in table.records.iter().zip(&table.rows) {
        scoring.push(row, record);
    }
    scoring.finish(key)
}

/// [`evaluate`] of the CSV at `path`, without holding its records: each is checked as
/// [`Table::read`] checks it, then encoded and predicted, and only the predictions and the
/// truth are kept. Errors are those of `Table::read` and then `evaluate`, in the same order,
/// except that a record longer than `max_record_bytes` is refused instead of read.
pub fn evaluate_file(
    model: &Model,
    path: &Path,
    register: RegisterMetric,
    max_record_bytes: u64,
) -> Result<Value> {
    let file = std::fs::File::open(path).map_err(|e| MlError::io(path, e))?;
    let mut records = Records::new(path, file, Some(max_record_bytes))?;
    let mut scoring = Scoring::new(model, &path.display().to_string(), &records.header);
    let mut rows = 0usize;
    while let Some((row, record)) = records.next_record()? {
        rows += 1;
        scoring.push(row, record);
    }
    if rows == 0 {
        return Err(MlError::NoRows { path: path.into() });
    }
    scoring.finish(register.key(model.task())?)
}

/// A model's predictions and the truth, gathered a record at a time, with the first error of
/// each kind, reported in the order scoring a whole table met them: the columns, then a
/// feature cell, then a target cell.
struct Scoring<'a> {
    model: &'a Model,
    source: String,
    /// The target's column and each feature's.
    columns: Result<(usize, Vec<usize>)>,
    scratch: Vec<f64>,
    /// Row-major, [`Model::n_outputs`] a row.
    outputs: Vec<f64>,
    codes: Vec<usize>,
    values: Vec<f64>,
    bad_cell: Option<MlError>,
    bad_target: Option<MlError>,
}

impl<'a> Scoring<'a> {
    fn new(model: &'a Model, source: &str, header: &[String]) -> Scoring<'a> {
        let column = |name: &str| find_column(source, header, name);
        let columns = column(&model.manifest.target).and_then(|target| {
            let features = model.schema().features.iter();
            Ok((
                target,
                features.map(|f| column(&f.name)).collect::<Result<_>>()?,
            ))
        });
        Scoring {
            model,
            source: source.to_string(),
            columns,
            scratch: vec![0.0; model.width()],
            outputs: Vec::new(),
            codes: Vec::new(),
            values: Vec::new(),
            bad_cell: None,
            bad_target: None,
        }
    }

    /// Takes the record that starts on file row `row`.
    fn push(&mut self, row: u64, record: &StringRecord) {
        let Ok((target, features)) = &self.columns else {
            return;
        };
        let model = self.model;
        let bad = |column: &str, message: String| MlError::BadCell {
            source_name: self.source.clone(),
            row: row as usize,
            column: column.to_string(),
            message,
        };
        if self.bad_cell.is_none() {
            let cell = |i: usize| SchemaValue::Text(record.get(features[i]).unwrap_or(""));
            match model.schema().encode_row(cell, &mut self.scratch) {
                Ok(()) => {
                    let at = self.outputs.len();
                    self.outputs.resize(at + model.n_outputs(), 0.0);
                    model.predict_encoded_row(&self.scratch, &mut self.outputs[at..]);
                    // Scored as it is, a NaN output would count as the first class, unsaid.
                    if !self.outputs[at..].iter().all(|v| v.is_finite()) {
                        self.bad_cell = Some(MlError::NotANumber {
                            source_name: self.source.clone(),
                            row: row as usize,
                        });
                    }
                }
                Err((i, message)) => {
                    self.bad_cell = Some(bad(&model.schema().features[i].name, message));
                }
            }
        }
        if self.bad_target.is_some() {
            return;
        }
        let name = &model.manifest.target;
        let v = record.get(*target).unwrap_or("").trim();
        let error = if model.task() == Task::Regression {
            match v.parse::<f64>() {
                _ if is_missing(v) => Some(MlError::MissingTarget {
                    source_name: self.source.clone(),
                    row: row as usize,
                    column: name.clone(),
                }),
                Ok(x) => {
                    self.values.push(x);
                    None
                }
                Err(_) => Some(MlError::NonNumericTarget {
                    source_name: self.source.clone(),
                    row: row as usize,
                    column: name.clone(),
                    value: v.to_string(),
                }),
            }
        } else {
            let classes = model.classes().unwrap_or_default();
            match classes.iter().position(|c| c == v) {
                Some(code) => {
                    self.codes.push(code);
                    None
                }
                None => Some(bad(
                    name,
                    format!(
                        "class `{v}` was not seen in training (classes: {})",
                        crate::error::listing(classes)
                    ),
                )),
            }
        };
        self.bad_target = error;
    }

    /// The report, with the metric `key` copied to its top.
    fn finish(self, key: &str) -> Result<Value> {
        self.columns?;
        if let Some(e) = self.bad_cell {
            return Err(e);
        }
        let model = self.model;
        let (section, metrics) = match (model.task(), model.classes()) {
            (Task::Regression, _) => {
                if let Some(e) = self.bad_target {
                    return Err(e);
                }
                (
                    "regression_metrics",
                    regression(&self.values, &self.outputs),
                )
            }
            (task, Some(classes)) => {
                if let Some(e) = self.bad_target {
                    return Err(e);
                }
                let k = model.n_outputs();
                let Ok(proba) = Array2::from_shape_vec((self.outputs.len() / k, k), self.outputs)
                else {
                    unreachable!("n_outputs values a row")
                };
                if task == Task::Binary {
                    (
                        "binary_classification_metrics",
                        binary(&self.codes, proba.view(), classes),
                    )
                } else {
                    (
                        "multiclass_classification_metrics",
                        multiclass(&self.codes, proba.view(), classes),
                    )
                }
            }
            (_, None) => {
                return Err(MlError::Artifact(
                    "a classifier without class labels".into(),
                ))
            }
        };
        let chosen = metrics.get(key).cloned().unwrap_or(Value::Null);
        Ok(json!({ section: metrics, "register_metric": chosen }))
    }
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

/// Classes up to which the confusion matrix holds every cell. Beyond, it holds only the
/// cells that are not zero, at most one per test row: every cell of 3,000 classes is 9
/// million, a 177 MB report that took 2 GB to write.
pub const DENSE_CONFUSION_CLASSES: usize = 100;

/// `{actual: {predicted: count}}`, keyed by the class labels, in class order.
fn confusion_json(truth: &[usize], predicted: &[usize], classes: &[String]) -> Value {
    if classes.len() > DENSE_CONFUSION_CLASSES {
        let mut pairs: Vec<(usize, usize)> = truth
            .iter()
            .copied()
            .zip(predicted.iter().copied())
            .collect();
        pairs.sort_unstable();
        let mut outer = Map::new();
        for cell in pairs.chunk_by(|a, b| a == b) {
            let (actual, predicted) = cell[0];
            let row = outer
                .entry(classes[actual].clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(row) = row {
                row.insert(classes[predicted].clone(), json!(cell.len()));
            }
        }
        return Value::Object(outer);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A model of `family` fitted to `csv`'s `y`, saved as it would be, and the file.
    fn model_and_file(dir: &Path, csv: &str, task: Task) -> (Model, std::path::PathBuf) {
        let path = dir.join("data.csv");
        std::fs::write(&path, csv).unwrap();
        let table = Table::read(&path).unwrap();
        let data = crate::model::TrainingData::from_table(&table, "y", Some(task)).unwrap();
        let hp = crate::hyperparams::HyperParams::from_pairs([("n-estimators", "5")]);
        let family = crate::estimators::Algorithm::RandomForest;
        let estimator = crate::estimators::from_hyperparams(family, &hp).unwrap();
        let model = Model::fit(estimator.as_ref(), &data, hp.to_map(), 1).unwrap();
        (model, path)
    }

    fn both_ways(model: &Model, path: &Path, register: RegisterMetric) -> (String, String) {
        let old = Table::read(path).and_then(|t| evaluate(model, &t, register));
        let new = evaluate_file(model, path, register, crate::index::MAX_RECORD_BYTES);
        let show = |r: Result<Value>| r.map_or_else(|e| e.to_string(), |v| v.to_string());
        (show(new), show(old))
    }

    #[test]
    fn a_file_scored_streamed_reports_what_its_table_reports() {
        let dir = tempfile::tempdir().unwrap();
        let datasets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
        for (file, target, task, register) in [
            (
                "breast-cancer/breast-cancer.csv",
                "CLASS",
                Task::Binary,
                "auc",
            ),
            ("wine/wine.csv", "CLASS", Task::Multiclass, "f1"),
            (
                "diabetes/diabetes.csv",
                "progression",
                Task::Regression,
                "r2",
            ),
        ] {
            let text = std::fs::read_to_string(datasets.join(file)).unwrap();
            let header_end = text.find('\n').unwrap();
            let renamed = text[..header_end].replace(target, "y") + &text[header_end..];
            let (model, path) = model_and_file(dir.path(), &renamed, task);
            let register = RegisterMetric::parse(register).unwrap();
            let (new, old) = both_ways(&model, &path, register);
            assert!(new.contains("register_metric"), "{file}: {new}");
            assert_eq!(new, old, "{file}");
        }
    }

    #[test]
    fn a_file_scored_streamed_fails_as_its_table_does() {
        let dir = tempfile::tempdir().unwrap();
        let train = "a,c,y\n1,red,p\n2,blue,q\n3,red,p\n4,,q\n5,blue,p\n6,red,q\n";
        let (classifier, path) = model_and_file(dir.path(), train, Task::Binary);
        let numbers = "a,c,y\n1,red,1.5\n2,blue,2\n3,red,7\n4,,1\n";
        let (regressor, _) = model_and_file(dir.path(), numbers, Task::Regression);
        let auc = RegisterMetric::Auc;
        let cases: [(&Model, &[u8], RegisterMetric, &str); 12] = [
            (&classifier, b"", auc, "the file is empty"),
            (&classifier, b"a,c,y\n", auc, "no data rows"),
            (
                &classifier,
                b"a,c,y\n1,red,p\n2,red\n",
                auc,
                "row 3: has 2 fields",
            ),
            (
                &classifier,
                b"a,c,y\n1,red,p\n2,red,\xff\n",
                auc,
                "not valid UTF-8",
            ),
            (&classifier, b"a,c\n1,red\n", auc, "no column named `y`"),
            (&classifier, b"y,c\np,red\n", auc, "no column named `a`"),
            (
                &classifier,
                b"a,c,y\n1,red,z\nx,red,p\n",
                auc,
                "row 3, column `a`",
            ),
            (
                &classifier,
                b"a,c,y\n1,red,z\n2,red,p\n",
                auc,
                "class `z` was not seen",
            ),
            (
                &classifier,
                b"a,c,y\n1,red,p\n",
                RegisterMetric::R2,
                "does not apply",
            ),
            (
                &regressor,
                b"a,c,y\n1,red,\n2,red,x\n",
                RegisterMetric::R2,
                "row 2, column `y`: the target is missing",
            ),
            (
                &regressor,
                b"a,c,y\n1,red,2\n2,red,x\n",
                RegisterMetric::R2,
                "regression target `x`",
            ),
            (
                &regressor,
                b"c,a,y\n green ,,2\n2,7,1\n",
                RegisterMetric::R2,
                "regression_metrics",
            ),
        ];
        for (model, text, register, expected) in cases {
            std::fs::write(&path, text).unwrap();
            let (new, old) = both_ways(model, &path, register);
            let text = String::from_utf8_lossy(text);
            assert_eq!(new, old, "{text}");
            assert!(new.contains(expected), "{text}: {new}");
        }
    }

    /// A training CSV of 300 classes, two rows each, the class a function of `a`.
    fn three_hundred_classes() -> String {
        let mut train = String::from("a,y\n");
        for i in 0..600 {
            train.push_str(&format!("{},class{:03}\n", i % 300, i % 300));
        }
        train
    }

    /// A model of 300 classes meets a class it has not seen: the error names it and a few of
    /// the known ones, not all 300 (it listed each, 20 KB twice over at 3,000 classes, for a
    /// FailureReason SageMaker cuts at 1,024 characters).
    #[test]
    fn an_unseen_class_among_many_is_named_with_a_short_list_of_the_known() {
        let dir = tempfile::tempdir().unwrap();
        let (model, path) = model_and_file(dir.path(), &three_hundred_classes(), Task::Multiclass);
        std::fs::write(&path, "a,y\n1,class001\n2,class9999\n").unwrap();
        let (new, old) = both_ways(&model, &path, RegisterMetric::Accuracy);
        assert_eq!(new, old);
        assert!(new.contains("row 3, column `y`"), "{new}");
        assert!(
            new.contains("class `class9999` was not seen in training"),
            "{new}"
        );
        assert!(new.contains("… and 280 more)"), "{new}");
        assert!(new.len() < 1024, "{} characters: {new}", new.len());
    }

    /// Of a model of more classes than [`DENSE_CONFUSION_CLASSES`], the matrix holds the
    /// cells that are not zero: as many as the test rows at most, not the classes squared.
    #[test]
    fn the_confusion_of_many_classes_holds_only_the_cells_that_are_not_zero() {
        let dir = tempfile::tempdir().unwrap();
        let (model, path) = model_and_file(dir.path(), &three_hundred_classes(), Task::Multiclass);
        let mut test = String::from("a,y\n");
        for i in 0..40 {
            test.push_str(&format!("{},class{:03}\n", i * 7 % 300, i * 7 % 300 / 2));
        }
        std::fs::write(&path, &test).unwrap();
        let (new, old) = both_ways(&model, &path, RegisterMetric::Accuracy);
        assert_eq!(new, old);
        let report: Value = serde_json::from_str(&new).unwrap();
        let matrix = report["multiclass_classification_metrics"]["confusion_matrix"]
            .as_object()
            .unwrap();
        let cells: Vec<u64> = matrix
            .values()
            .flat_map(|row| row.as_object().unwrap().values())
            .map(|n| n.as_u64().unwrap())
            .collect();
        assert!(cells.len() <= 40, "{} cells", cells.len());
        assert!(cells.iter().all(|&n| n > 0));
        assert_eq!(cells.iter().sum::<u64>(), 40);
        // The rows are the actual classes of the test rows, each as often as it is there.
        assert_eq!(matrix.len(), 40);
        let actual = |c: &str| {
            matrix[c]
                .as_object()
                .unwrap()
                .values()
                .map(|n| n.as_u64().unwrap())
                .sum::<u64>()
        };
        assert_eq!(actual("class000"), 1);
        let accuracy = report["multiclass_classification_metrics"]["accuracy"]["value"]
            .as_f64()
            .unwrap();
        let diagonal: u64 = matrix
            .iter()
            .filter_map(|(a, row)| row.get(a).and_then(Value::as_u64))
            .sum();
        assert_eq!(diagonal as f64 / 40.0, accuracy);
    }

    #[test]
    fn a_row_the_model_cannot_compute_is_named_not_scored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        std::fs::write(&path, "a,y\n1,p\n2,q\n3,p\n4,q\n5,p\n6,q\n").unwrap();
        let data = crate::model::TrainingData::from_table(&Table::read(&path).unwrap(), "y", None)
            .unwrap();
        let family = crate::estimators::Algorithm::NaiveBayes;
        let hp = crate::hyperparams::HyperParams::default();
        let estimator = crate::estimators::from_hyperparams(family, &hp).unwrap();
        let model = Model::fit(estimator.as_ref(), &data, hp.to_map(), 1).unwrap();
        // A Gaussian's square overflows: every class's likelihood is 0, its share NaN.
        std::fs::write(&path, "a,y\n1,p\n1e300,q\n").unwrap();
        let (new, old) = both_ways(&model, &path, RegisterMetric::Auc);
        assert_eq!(new, old);
        assert!(
            new.ends_with("data.csv: row 3: the model's output is not a number for these values (too large for its arithmetic?)"),
            "{new}"
        );
    }

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
