//! A model this project fits with the real XGBoost or LightGBM (feature `native-boosting`)
//! and saves is the library's own file: the Python package of the same name loads it and
//! predicts the same values as this crate, for every booster kind and task.
//!
//! Needs python3 with `xgboost` and `lightgbm` (CI installs them from .ci/pip/native.txt).
#![cfg(feature = "native-boosting")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers too: a failure is the test failing

use std::fmt::Write as _;
use std::path::Path;

mod python;

use mmp_ml::estimators::from_hyperparams;
use mmp_ml::hyperparams::HyperParams;
use mmp_ml::model::{Model, Predictions, TrainingData};
use mmp_ml::table::Table;

fn training_data(name: &str, target: &str) -> TrainingData {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(name)
        .join(format!("{name}.csv"));
    TrainingData::from_table(&Table::read(&path).unwrap(), target, None).unwrap()
}

/// What the Python library predicts for the encoded rows of `data`, flattened row by row.
fn python_predictions(library: &str, model_file: &Path, data: &TrainingData) -> Vec<f64> {
    let dir = model_file.parent().unwrap();
    let rows_csv = dir.join("rows.csv");
    let mut text = String::new();
    for row in data.x.rows() {
        let cells: Vec<String> = row.iter().map(f64::to_string).collect();
        writeln!(text, "{}", cells.join(",")).unwrap();
    }
    std::fs::write(&rows_csv, text).unwrap();
    let stdout = python::run(
        "interop.py",
        &[library.as_ref(), model_file.as_ref(), rows_csv.as_ref()],
    );
    python::prediction_rows(&stdout).concat()
}

/// Ours, in the shape the Python library returns: P(class 1) for binary models.
fn our_predictions(model: &Model, data: &TrainingData) -> Vec<f64> {
    match model.predict_encoded(data.x.view()) {
        Predictions::Values(v) => v,
        Predictions::Proba(p) if p.ncols() == 2 => p.column(1).to_vec(),
        Predictions::Proba(p) => p.iter().copied().collect(),
    }
}

/// (family, Python package, hyperparameters).
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[test]
fn python_libraries_load_our_models_and_predict_the_same() {
    let datasets = [
        ("breast-cancer", "CLASS"),
        ("wine", "CLASS"),
        ("diabetes", "progression"),
    ];
    let cases: [Case; 6] = [
        ("XGBoost", "xgboost", &[]),
        (
            "XGBoost",
            "xgboost",
            &[("booster", "dart"), ("n-estimators", "30")],
        ),
        (
            "XGBoost",
            "xgboost",
            &[("booster", "gblinear"), ("n-estimators", "30")],
        ),
        ("LightGBM", "lightgbm", &[]),
        (
            "LightGBM",
            "lightgbm",
            &[("boosting-type", "goss"), ("num-leaves", "10")],
        ),
        (
            "LightGBM",
            "lightgbm",
            &[
                ("boosting-type", "dart"),
                ("max-depth", "3"),
                ("n-estimators", "30"),
            ],
        ),
    ];
    let mut compared = 0;
    for (name, target) in datasets {
        let data = training_data(name, target);
        for (family, library, pairs) in cases {
            let hp = HyperParams::from_pairs(pairs.iter().copied());
            let estimator = from_hyperparams(family.parse().unwrap(), &hp).unwrap();
            let model = Model::fit(estimator.as_ref(), &data, hp.to_map(), 7).unwrap();
            let dir = tempfile::tempdir().unwrap();
            model.save(dir.path()).unwrap();
            let model_file = dir.path().join(&model.manifest.payload);
            let ours = our_predictions(&Model::load(dir.path()).unwrap(), &data);
            let theirs = python_predictions(library, &model_file, &data);
            assert_eq!(ours.len(), theirs.len(), "{name} {family} {pairs:?}");
            let worst = ours
                .iter()
                .zip(&theirs)
                .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
                .fold(0.0, f64::max);
            // XGBoost computes in f32; LightGBM in f64.
            let tolerance = if library == "xgboost" { 1e-6 } else { 1e-12 };
            assert!(
                worst <= tolerance,
                "{name} {family} {pairs:?}: predictions differ from Python's {library} by up to {worst:e}"
            );
            // The models learned something: predictions are not all alike.
            assert!(
                theirs.iter().any(|v| (v - theirs[0]).abs() > 1e-3),
                "{name} {family}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 18);
}
