//! Model files the Python XGBoost and LightGBM libraries wrote themselves — with missing values
//! in the data, so every default direction and missing-value mode is taken — are read by this
//! crate in every build (the default one included) and predict what the library predicted.
//!
//! Needs python3 with `xgboost` and `lightgbm` (CI installs them from .ci/pip/native.txt).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers too: a failure is the test failing

mod python;

use mmp_ml::estimators::{lightgbm, xgboost, Fitted};

#[test]
fn files_the_python_libraries_wrote_predict_the_same_here() {
    for (library, payload) in [
        ("xgboost", xgboost::PAYLOAD_FILE),
        ("lightgbm", lightgbm::PAYLOAD_FILE),
    ] {
        for task in ["binary", "multiclass", "regression"] {
            let dir = tempfile::tempdir().unwrap();
            python::run(
                "library_files.py",
                &[library.as_ref(), task.as_ref(), dir.path().as_os_str()],
            );
            let file = std::fs::read(dir.path().join("model")).unwrap();
            let kept = Fitted::from_payload(payload, &file).unwrap();
            assert_eq!(kept.payload().unwrap(), file, "saved again byte for byte");
            // What a server holds: the trees without the file, predicting the same.
            let mut fitted = kept.clone();
            fitted.release_library_file();
            assert!(fitted
                .payload()
                .unwrap_err()
                .to_string()
                .contains("cannot be saved again"));
            let outputs = fitted.n_outputs().unwrap();
            let rows = std::fs::read_to_string(dir.path().join("rows.csv")).unwrap();
            let expected = python::prediction_rows(
                &std::fs::read(dir.path().join("predictions.json")).unwrap(),
            );
            let mut missing = 0;
            let mut worst: f64 = 0.0;
            for (line, want) in rows.lines().zip(&expected) {
                let x: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
                missing += x.iter().filter(|v| v.is_nan()).count();
                let mut out = vec![0.0; outputs];
                fitted.predictor().predict_row(&x, &mut out);
                // The library's shape: P(class 1) for binary models, else every output.
                let ours: &[f64] = if task == "binary" { &out[1..] } else { &out };
                assert_eq!(ours.len(), want.len(), "{library} {task}");
                for (a, b) in ours.iter().zip(want) {
                    worst = worst.max((a - b).abs() / (1.0 + b.abs()));
                }
            }
            assert_eq!(rows.lines().count(), expected.len());
            assert!(
                missing > 100,
                "{library} {task}: the rows have missing cells"
            );
            // XGBoost computes in f32; LightGBM in f64.
            let tolerance = if library == "xgboost" { 1e-6 } else { 1e-12 };
            assert!(
                worst <= tolerance,
                "{library} {task}: differs from the library's own predictions by up to {worst:e}"
            );
        }
    }
}
