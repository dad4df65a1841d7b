//! Every value of every implemented family's search space (wide integer ranges: ends and a
//! stride) (the original's ranges, from
//! mmp_pipeline::search_space) parses, and fits and scores on a binary, a multiclass and a
//! regression dataset, so no tuning trial fails on a value the tuner may pick — in either
//! build: XGBoost's `gblinear` and LightGBM's `dart` included, which the pure-Rust boosting
//! engine fits too.

#![allow(clippy::unwrap_used)] // test helpers too: a failure is the test failing

use std::path::Path;

use mmp_ml::cv::cross_val_score;
use mmp_ml::estimators::{from_hyperparams, Algorithm};
use mmp_ml::hyperparams::HyperParams;
use mmp_ml::model::TrainingData;
use mmp_ml::scorer::Scorer;
use mmp_ml::table::Table;
use mmp_ml::target::Task;
use mmp_pipeline::search_space::{search_space, Range};

fn data(name: &str, target: &str) -> TrainingData {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(name)
        .join(format!("{name}.csv"));
    TrainingData::from_table(&Table::read(&path).unwrap(), target, None).unwrap()
}

fn values(range: &Range) -> Vec<String> {
    match range {
        Range::Categorical(v) => v.clone(),
        // Wide integer ranges (LightGBM's num-leaves 10–101): both ends and about ten
        // evenly spaced values between, which keeps the debug-build test within a minute.
        Range::Integer { min, max } => {
            let step = ((max - min) / 10).max(1) as usize;
            let mut v: Vec<i64> = (*min..=*max).step_by(step).collect();
            if v.last() != Some(max) {
                v.push(*max);
            }
            v.into_iter().map(|i| i.to_string()).collect()
        }
    }
}

#[test]
fn every_search_space_value_fits_and_scores() {
    let datasets = [
        (data("breast-cancer", "CLASS"), Scorer::RocAuc),
        (data("wine", "CLASS"), Scorer::RocAuc),
        (data("diabetes", "progression"), Scorer::R2),
    ];
    let mut fits = 0;
    for algorithm in Algorithm::ALL {
        let family = algorithm.as_str();
        for param in search_space(algorithm) {
            for value in values(&param.range) {
                let mut pairs = vec![(param.name, value.as_str())];
                // Tree counts only change how many trees grow: fit few, parse them all.
                if param.name == "n-estimators" {
                    from_hyperparams(algorithm, &HyperParams::from_pairs(pairs)).unwrap();
                    continue;
                }
                match family {
                    "RandomForest" => pairs.push(("n-estimators", "5")),
                    "XGBoost" | "LightGBM" => pairs.push(("n-estimators", "2")),
                    // Epochs only change how long the MLP trains: fit few, parse them all.
                    "NeuralNet" if param.name != "max-iter" => pairs.push(("max-iter", "10")),
                    "NeuralNet" => {
                        from_hyperparams(algorithm, &HyperParams::from_pairs(pairs)).unwrap();
                        continue;
                    }
                    _ => {}
                }
                let estimator = from_hyperparams(algorithm, &HyperParams::from_pairs(pairs))
                    .unwrap_or_else(|e| panic!("{family} {}={value}: {e}", param.name));
                for (data, scorer) in &datasets {
                    if data.task == Task::Regression && family == "NaiveBayes" {
                        continue;
                    }
                    let score = cross_val_score(estimator.as_ref(), data, *scorer, 3, 42)
                        .unwrap_or_else(|e| panic!("{family} {}={value}: {e}", param.name))
                        .mean;
                    assert!(
                        score.is_finite(),
                        "{family} {}={value}: {score}",
                        param.name
                    );
                    fits += 1;
                }
            }
        }
    }
    assert!(fits > 100, "{fits}");
}
