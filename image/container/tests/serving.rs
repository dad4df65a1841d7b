//! The serving port: load an unpacked artifact with MmpModelLoader and predict rows given by
//! position or by column name, with errors naming row and column.
#![allow(clippy::unwrap_used)] // test helpers too: a failure is the test failing

mod common;

use mmp_container::MmpModelLoader;
use mmp_ml::estimators::{from_hyperparams, IMPLEMENTED};
use mmp_ml::hyperparams::HyperParams;
use mmp_ml::model::{Model as MlModel, Predictions, TrainingData};
use mmp_ml::table::Table;
use mmp_serve::port::{Cell, ModelLoader, Prediction, Rows};

fn fitted(dataset: &str, target: &str, family: &str) -> (tempfile::TempDir, Table, MlModel) {
    let table = Table::read(&common::dataset(dataset)).unwrap();
    let data = TrainingData::from_table(&table, target, None).unwrap();
    let hp = HyperParams::from_pairs([("n-estimators", "10")]);
    let estimator = from_hyperparams(family, &hp).unwrap();
    let model = MlModel::fit(estimator.as_ref(), &data, hp.to_map(), 42).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    (dir, table, model)
}

/// The table's feature cells (target dropped), as a CSV payload would parse.
fn rows_of(table: &Table, target: &str, take: usize) -> Rows {
    let t = table.column(target).unwrap();
    Rows {
        columns: None,
        rows: table.records[..take]
            .iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .filter(|(i, _)| *i != t)
                    .map(|(_, v)| Cell::Number(v.parse().unwrap()))
                    .collect()
            })
            .collect(),
    }
}

#[test]
fn predicts_labels_by_position_and_by_name_like_the_model() {
    let (dir, table, model) = fitted("wine", "CLASS", "RandomForest");
    let served = MmpModelLoader.load(dir.path()).unwrap();
    let rows = rows_of(&table, "CLASS", 5);
    let got = served.predict(&rows).unwrap();
    let Predictions::Proba(expected) = model.predict_table(&table).unwrap() else {
        panic!("a classifier")
    };
    for (r, p) in got.iter().enumerate() {
        let Prediction::Label {
            label,
            probabilities,
        } = p
        else {
            panic!("a label")
        };
        assert!(
            label.starts_with("class_"),
            "labels come back as in the data: {label}"
        );
        let names: Vec<&str> = probabilities.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(names, ["class_0", "class_1", "class_2"]);
        for (j, (_, prob)) in probabilities.iter().enumerate() {
            assert_eq!(*prob, expected[[r, j]]);
        }
    }
    // The same rows with named columns in reverse order, plus an extra column ignored.
    let header: Vec<String> = table
        .header
        .iter()
        .filter(|h| *h != "CLASS")
        .cloned()
        .collect();
    let mut columns: Vec<String> = header.iter().rev().cloned().collect();
    columns.push("CLASS".into());
    let named = Rows {
        columns: Some(columns),
        rows: rows
            .rows
            .iter()
            .map(|r| {
                let mut v: Vec<Cell> = r.iter().rev().cloned().collect();
                v.push(Cell::Text("class_9".into()));
                v
            })
            .collect(),
    };
    assert_eq!(served.predict(&named).unwrap(), got);
    assert!(served.memory_bytes() > 1000);
}

#[test]
fn serves_every_family_of_every_task_as_it_predicted_when_fitted() {
    let mut served_models = 0;
    for (dataset, target) in [
        ("breast-cancer", "CLASS"),
        ("wine", "CLASS"),
        ("diabetes", "progression"),
    ] {
        for family in IMPLEMENTED {
            if dataset == "diabetes" && family == "NaiveBayes" {
                continue;
            }
            let (dir, table, model) = fitted(dataset, target, family);
            let served = MmpModelLoader.load(dir.path()).unwrap();
            let got = served.predict(&rows_of(&table, target, 4)).unwrap();
            match model.predict_table(&table).unwrap() {
                Predictions::Proba(expected) => {
                    for (r, p) in got.iter().enumerate() {
                        let Prediction::Label { probabilities, .. } = p else {
                            panic!("{dataset} {family}: a label")
                        };
                        for (j, (_, prob)) in probabilities.iter().enumerate() {
                            assert_eq!(*prob, expected[[r, j]], "{dataset} {family}");
                        }
                    }
                }
                Predictions::Values(expected) => {
                    for (r, p) in got.iter().enumerate() {
                        assert_eq!(*p, Prediction::Value(expected[r]), "{dataset} {family}");
                    }
                }
            }
            served_models += 1;
        }
    }
    assert_eq!(served_models, 17);
}

#[test]
fn regression_values_and_missing_cells_imputed() {
    let (dir, table, model) = fitted("diabetes", "progression", "LogisticRegression");
    let served = MmpModelLoader.load(dir.path()).unwrap();
    let mut rows = rows_of(&table, "progression", 3);
    let Predictions::Values(expected) = model.predict_table(&table).unwrap() else {
        panic!("a regressor")
    };
    let got = served.predict(&rows).unwrap();
    assert_eq!(got[0], Prediction::Value(expected[0]));
    rows.rows[1][2] = Cell::Missing;
    rows.rows[1][3] = Cell::Text(" NaN ".into());
    assert!(matches!(served.predict(&rows).unwrap()[1], Prediction::Value(v) if v.is_finite()));
}

#[test]
fn bad_rows_are_named_by_row_and_column() {
    let (dir, table, _) = fitted("breast-cancer", "CLASS", "NaiveBayes");
    let served = MmpModelLoader.load(dir.path()).unwrap();
    let mut rows = rows_of(&table, "CLASS", 3);
    rows.rows[2][4] = Cell::Text("abc".into());
    let err = served.predict(&rows).unwrap_err();
    assert_eq!(err.row, Some(2));
    assert_eq!(err.column.as_deref(), Some("mean smoothness"));
    assert_eq!(
        err.message,
        "row 2, column `mean smoothness`: `abc` is not a number"
    );
    let mut rows = rows_of(&table, "CLASS", 3);
    rows.rows[1].pop();
    let err = served.predict(&rows).unwrap_err();
    assert_eq!(err.row, Some(1));
    assert!(
        err.message
            .starts_with("row 1 has 29 values; the model takes 30 (mean radius,"),
        "{}",
        err.message
    );
    let named = Rows {
        columns: Some(vec!["mean radius".into()]),
        rows: vec![vec![Cell::Number(1.0)]],
    };
    let err = served.predict(&named).unwrap_err();
    assert_eq!(err.column.as_deref(), Some("mean texture"));
    assert!(err
        .message
        .starts_with("the request has no column `mean texture`"));
}

#[test]
fn a_folder_without_a_model_is_a_load_error() {
    let empty = tempfile::tempdir().unwrap();
    let err = MmpModelLoader.load(empty.path()).err().unwrap();
    assert!(err.0.contains("manifest.json"), "{}", err.0);
}
