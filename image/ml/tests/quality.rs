//! Our 5-fold CV scores with default hyperparameters against scikit-learn's on the same folds
//! (reference numbers: scripts/dev/reference_cv_scores.json, made by the script beside it).
#![allow(clippy::unwrap_used)] // test helpers too: a failure is the test failing

use std::path::{Path, PathBuf};

use mmp_ml::cv::cross_val_score;
use mmp_ml::estimators::{from_hyperparams, Algorithm};
use mmp_ml::hyperparams::HyperParams;
use mmp_ml::model::TrainingData;
use mmp_ml::scorer::Scorer;
use mmp_ml::table::Table;
use mmp_ml::target::Task;

/// Allowed distance from scikit-learn's score: ROC AUC for classification, R² for regression.
const AUC_TOLERANCE: f64 = 0.01;
const R2_TOLERANCE: f64 = 0.02;
/// With the real libraries (feature `native-boosting`), XGBoost and LightGBM must give the
/// Python libraries' own scores: the same library on the same folds and parameters.
const SAME_LIBRARY_TOLERANCE: f64 = 1e-3;
/// The default build's own booster must stay this close to the libraries' scores.
const OWN_BOOSTER_TOLERANCE: f64 = 5e-3;
/// The pipeline's default RandomState.
const SEED: u64 = 42;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn default_hyperparameters_score_like_scikit_learn() {
    let reference: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("scripts/dev/reference_cv_scores.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    let mut report = String::new();
    for (dataset, entry) in reference["datasets"].as_object().unwrap() {
        let file = repo()
            .join("datasets")
            .join(dataset)
            .join(format!("{dataset}.csv"));
        let table = Table::read(&file).unwrap();
        let task = Task::parse(entry["task"].as_str().unwrap()).unwrap();
        let data = TrainingData::from_table(&table, entry["target"].as_str().unwrap(), Some(task))
            .unwrap();
        let scorer = Scorer::parse(entry["scorer"].as_str().unwrap()).unwrap();
        let tolerance = if task == Task::Regression {
            R2_TOLERANCE
        } else {
            AUC_TOLERANCE
        };
        for (family, expected) in entry["families"].as_object().unwrap() {
            // Entries for information only (e.g. the original's unscaled MLP) are not families.
            let Ok(algorithm) = family.parse::<Algorithm>() else {
                continue;
            };
            let estimator = from_hyperparams(algorithm, &HyperParams::default()).unwrap();
            let ours = cross_val_score(estimator.as_ref(), &data, scorer, 5, SEED)
                .unwrap()
                .mean;
            let theirs = expected["mean"].as_f64().unwrap();
            let same_library = cfg!(feature = "native-boosting")
                && matches!(family.as_str(), "XGBoost" | "LightGBM");
            let booster = matches!(family.as_str(), "XGBoost" | "LightGBM");
            let allowed = if same_library {
                SAME_LIBRARY_TOLERANCE
            } else if booster {
                OWN_BOOSTER_TOLERANCE
            } else {
                tolerance.max(expected["spread"].as_f64().unwrap())
            };
            report += &format!(
                "{dataset:14} {family:20} ours {ours:.4} Python {theirs:.4} diff {:+.4} allowed {allowed:.4}\n",
                ours - theirs
            );
            assert!(
                (ours - theirs).abs() <= allowed,
                "{dataset} {family}: ours {ours} vs scikit-learn {theirs} (allowed {allowed})\n{report}"
            );
            checked += 1;
        }
    }
    println!("{report}");
    assert_eq!(
        checked, 17,
        "every dataset × family in the reference was checked"
    );
}
