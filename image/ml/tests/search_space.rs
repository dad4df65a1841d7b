//! Every value of every implemented family's search space (the original's ranges, from
//! mmp_pipeline::search_space) parses, and fits and scores on a binary, a multiclass and a
//! regression dataset, so no tuning trial fails on a value the tuner may pick.

#![allow(clippy::unwrap_used)] // test helpers too: a failure is the test failing

use std::path::Path;

use mmp_ml::cv::cross_val_score;
use mmp_ml::estimators::{from_hyperparams, IMPLEMENTED};
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
        Range::Integer { min, max } => (*min..=*max).map(|i| i.to_string()).collect(),
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
    for family in IMPLEMENTED {
        for param in search_space(family).unwrap() {
            for value in values(&param.range) {
                let mut pairs = vec![(param.name, value.as_str())];
                // Tree counts only change how many trees grow: fit few, parse them all.
                if param.name == "n-estimators" {
                    from_hyperparams(family, &HyperParams::from_pairs(pairs)).unwrap();
                    continue;
                }
                if family == "RandomForest" {
                    pairs.push(("n-estimators", "5"));
                }
                let estimator = from_hyperparams(family, &HyperParams::from_pairs(pairs))
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
