//! The serving port: load an unpacked artifact with MmpModelLoader and predict rows given by
//! position or by column name, with errors naming row and column.
#![allow(clippy::unwrap_used)] // test helpers too: a failure is the test failing

mod common;

use mmp_container::MmpModelLoader;
use mmp_ml::estimators::{from_hyperparams, Algorithm};
use mmp_ml::hyperparams::HyperParams;
use mmp_ml::model::{Model as MlModel, Predictions, TrainingData};
use mmp_ml::table::Table;
use mmp_serve::port::{Cell, ModelLoader, Prediction, Rows};

fn fitted(dataset: &str, target: &str, family: &str) -> (tempfile::TempDir, Table, MlModel) {
    fitted_with(dataset, target, family, &[])
}

/// Fitted with 10 rounds or trees and `extra` hyperparameters.
fn fitted_with(
    dataset: &str,
    target: &str,
    family: &str,
    extra: &[(&str, &str)],
) -> (tempfile::TempDir, Table, MlModel) {
    let table = Table::read(&common::dataset(dataset)).unwrap();
    let data = TrainingData::from_table(&table, target, None).unwrap();
    let mut pairs = vec![("n-estimators", "10")];
    pairs.extend_from_slice(extra);
    let hp = HyperParams::from_pairs(pairs);
    let estimator = from_hyperparams(family.parse().unwrap(), &hp).unwrap();
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
        // Every family with its defaults, and the boosters other than the default.
        let variants: [(&str, &[(&str, &str)]); 2] = [
            ("XGBoost", &[("booster", "gblinear")]),
            ("LightGBM", &[("boosting-type", "dart")]),
        ];
        let families = Algorithm::ALL.map(|a| (a.as_str(), &[][..]));
        for (family, extra) in families.into_iter().chain(variants) {
            if dataset == "diabetes" && family == "NaiveBayes" {
                continue;
            }
            let (dir, table, model) = fitted_with(dataset, target, family, extra);
            let served = MmpModelLoader.load(dir.path()).unwrap();
            let got = served.predict(&rows_of(&table, target, 4)).unwrap();
            match model.predict_table(&table).unwrap() {
                Predictions::Proba(expected) => {
                    for (r, p) in got.iter().enumerate() {
                        let Prediction::Label { probabilities, .. } = p else {
                            panic!("{dataset} {family}: a label")
                        };
                        for (j, (_, prob)) in probabilities.iter().enumerate() {
                            assert_eq!(*prob, expected[[r, j]], "{dataset} {family} {extra:?}");
                        }
                    }
                }
                Predictions::Values(expected) => {
                    for (r, p) in got.iter().enumerate() {
                        assert_eq!(
                            *p,
                            Prediction::Value(expected[r]),
                            "{dataset} {family} {extra:?}"
                        );
                    }
                }
            }
            served_models += 1;
        }
    }
    assert_eq!(served_models, 17 + 6);
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
    // Finite, but too large for a Gaussian's square: no label drawn from NaN outputs.
    let mut rows = rows_of(&table, "CLASS", 3);
    rows.rows[1][0] = Cell::Number(1e300);
    let err = served.predict(&rows).unwrap_err();
    assert_eq!((err.row, err.column.as_deref()), (Some(1), None));
    assert!(
        err.message
            .starts_with("row 1: the model's output is not a number"),
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

/// Each row's answer has a probability per class: a request of many rows to a model of many
/// classes is refused, naming how many rows it may send, before any is predicted.
#[test]
fn a_request_asking_for_too_many_probabilities_is_refused_naming_the_rows_it_may_send() {
    let classes = 500;
    let mut csv = String::from("a,y\n");
    for i in 0..2 * classes {
        csv.push_str(&format!("{},c{}\n", i % classes, i % classes));
    }
    let table = Table::from_reader(std::path::Path::new("many.csv"), csv.as_bytes()).unwrap();
    let data = TrainingData::from_table(&table, "y", None).unwrap();
    let hp = HyperParams::default();
    let estimator = from_hyperparams(Algorithm::NaiveBayes, &hp).unwrap();
    let model = MlModel::fit(estimator.as_ref(), &data, hp.to_map(), 42).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let served = MmpModelLoader.load(dir.path()).unwrap();
    let rows = |n: usize| Rows {
        columns: None,
        rows: (0..n)
            .map(|i| vec![Cell::Number((i % classes) as f64)])
            .collect(),
    };
    let most = mmp_container::serving::MAX_PROBABILITIES / classes;
    let answered = served.predict(&rows(most)).unwrap();
    assert_eq!(answered.len(), most);
    let err = served.predict(&rows(most + 1)).unwrap_err();
    assert_eq!((err.row, err.column.as_deref()), (None, None));
    assert!(
        err.message.contains(&format!(
            "{} rows × 500 classes is {} probabilities",
            most + 1,
            (most + 1) * classes
        )),
        "{}",
        err.message
    );
    assert!(
        err.message
            .contains(&format!("send at most {most} rows at a time")),
        "{}",
        err.message
    );
}

#[test]
fn a_folder_without_a_model_is_a_load_error() {
    let empty = tempfile::tempdir().unwrap();
    let err = MmpModelLoader.load(empty.path()).err().unwrap();
    assert!(err.0.contains("manifest.json"), "{}", err.0);
}

/// Rewrites the saved payload (`model.json`) of the model in `dir`.
fn tamper(dir: &std::path::Path, change: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("model.json");
    let mut payload: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    change(&mut payload);
    std::fs::write(&path, serde_json::to_vec(&payload).unwrap()).unwrap();
}

fn load_error(dir: &std::path::Path) -> String {
    match MmpModelLoader.load(dir) {
        Ok(_) => panic!("the crafted model loaded"),
        Err(err) => err.0,
    }
}

#[test]
fn crafted_forests_are_refused_at_load() {
    // The root's right child is the root: a row going right would loop forever.
    let (dir, _, _) = fitted("wine", "CLASS", "RandomForest");
    tamper(dir.path(), |p| p["trees"][0]["right"][0] = 0.into());
    let err = load_error(dir.path());
    assert!(err.contains("malformed RandomForest model"), "{err}");
    assert!(err.contains("tree 0, node 0: child 0"), "{err}");

    // A split reading a column the schema does not have.
    let (dir, _, _) = fitted("wine", "CLASS", "RandomForest");
    tamper(dir.path(), |p| p["trees"][0]["feature"][0] = 500.into());
    let err = load_error(dir.path());
    assert!(err.contains("node 0 splits on column 500"), "{err}");

    // Three classes in the manifest, two outputs in the trees.
    let (dir, _, _) = fitted("wine", "CLASS", "RandomForest");
    tamper(dir.path(), |p| {
        p["n_outputs"] = 2.into();
        for tree in p["trees"].as_array_mut().unwrap() {
            // The third class's values go to the second: trees of two outputs.
            for output in tree["output"].as_array_mut().unwrap() {
                *output = output.as_u64().unwrap().min(1).into();
            }
        }
    });
    let err = load_error(dir.path());
    assert!(err.contains("predicts 2 values per row"), "{err}");
}

#[test]
fn crafted_networks_are_refused_at_load() {
    let (dir, _, _) = fitted("wine", "CLASS", "NeuralNet");
    tamper(dir.path(), |p| {
        p["layers"][0]["weights"].as_array_mut().unwrap().pop();
    });
    let err = load_error(dir.path());
    assert!(err.contains("malformed NeuralNet model"), "{err}");
    assert!(err.contains("layer 0:"), "{err}");

    // Scaling for one more column than the rows have (and a first layer to match).
    let (dir, _, _) = fitted("wine", "CLASS", "NeuralNet");
    tamper(dir.path(), |p| {
        let n_out = p["layers"][0]["n_out"].as_u64().unwrap() as usize;
        let n_in = p["layers"][0]["n_in"].as_u64().unwrap() + 1;
        p["layers"][0]["n_in"] = n_in.into();
        p["layers"][0]["weights"]
            .as_array_mut()
            .unwrap()
            .extend(vec![serde_json::Value::from(0.0); n_out]);
        p["means"].as_array_mut().unwrap().push(0.0.into());
        p["scales"].as_array_mut().unwrap().push(1.0.into());
    });
    let err = load_error(dir.path());
    assert!(err.contains("columns but rows have"), "{err}");
}

/// Kills the server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns status and raw body.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, rest.to_owned()))
}

#[test]
fn a_cyclic_forest_is_400_at_post_models_and_the_server_keeps_serving() {
    let (dir, _, _) = fitted("wine", "CLASS", "RandomForest");
    tamper(dir.path(), |p| p["trees"][0]["right"][0] = 0.into());
    let root = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mmp-container"))
        .arg("serve")
        .env("MMP_ML_ROOT", root.path())
        .env("SAGEMAKER_BIND_TO_PORT", port.to_string())
        .env("MMP_BIND_ADDRESS", "127.0.0.1")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let started = std::time::Instant::now();
    while !matches!(http(port, "GET", "/ping", ""), Ok((200, _))) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the server did not answer /ping"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let request = serde_json::json!({"model_name": "cyclic", "url": dir.path()}).to_string();
    let (status, body) = http(port, "POST", "/models", &request).unwrap();
    assert_eq!(status, 400, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains("malformed RandomForest model"),
        "{message}"
    );
    assert!(message.contains("tree 0, node 0: child 0"), "{message}");
    assert!(
        !message.contains("threshold"),
        "the payload is not echoed: {message}"
    );
    let (status, _) = http(port, "GET", "/models/cyclic", "").unwrap();
    assert_eq!(status, 404, "the model was not loaded");
    assert_eq!(http(port, "GET", "/ping", "").unwrap().0, 200);
}
