//! save → load → identical predictions, for every family and task, from a folder and from a
//! model.tar.gz; and the artifact's refusals.
#![allow(clippy::unwrap_used)] // test helpers too: a failure is the test failing

use std::path::Path;

use mmp_ml::estimators::{from_hyperparams, Algorithm};
use mmp_ml::hyperparams::HyperParams;
use mmp_ml::model::{write_archive, Model, TrainingData, MANIFEST_FILE};
use mmp_ml::table::Table;
use mmp_ml::target::Task;

fn dataset(name: &str) -> Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(name)
        .join(format!("{name}.csv"));
    Table::read(&path).unwrap()
}

#[test]
fn every_family_and_task_round_trips_with_identical_predictions() {
    let mut checked = 0;
    for (name, target) in [
        ("breast-cancer", "CLASS"),
        ("wine", "CLASS"),
        ("diabetes", "progression"),
    ] {
        let table = dataset(name);
        let data = TrainingData::from_table(&table, target, None).unwrap();
        for algorithm in Algorithm::ALL {
            let family = algorithm.as_str();
            let hp = HyperParams::from_pairs([("n-estimators", "20")]);
            let estimator = from_hyperparams(algorithm, &hp).unwrap();
            if estimator.supports(data.task).is_err() {
                assert_eq!((family, data.task), ("NaiveBayes", Task::Regression));
                continue;
            }
            let model = Model::fit(estimator.as_ref(), &data, hp.to_map(), 42).unwrap();
            let before = model.predict_table(&table).unwrap();
            let dir = tempfile::tempdir().unwrap();
            model.save(dir.path()).unwrap();
            let from_dir = Model::load(dir.path()).unwrap();
            assert_eq!(from_dir, model, "{name} {family}");
            assert_eq!(
                from_dir.predict_table(&table).unwrap(),
                before,
                "{name} {family}"
            );
            let archive = dir.path().join("model.tar.gz");
            let packed = tempfile::tempdir().unwrap();
            model.save(packed.path()).unwrap();
            write_archive(packed.path(), &archive).unwrap();
            let from_archive = Model::load_archive(&archive).unwrap();
            assert_eq!(
                from_archive.predict_table(&table).unwrap(),
                before,
                "{name} {family}"
            );
            assert_eq!(
                from_archive.classes(),
                data.classes(),
                "labels come back unchanged"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 17, "every family × task");
}

#[test]
fn string_labels_and_categorical_features_survive_the_round_trip() {
    let csv = b"colour,size,kind\nred,1.0,apple\ngreen,,pear\nred,1.2,apple\nyellow,3.1,banana\ngreen,2.0,pear\nyellow,3.3,banana\n";
    let table = Table::from_reader(Path::new("fruit.csv"), &csv[..]).unwrap();
    let data = TrainingData::from_table(&table, "kind", None).unwrap();
    assert_eq!(data.task, Task::Multiclass);
    let estimator =
        from_hyperparams(Algorithm::LogisticRegression, &HyperParams::default()).unwrap();
    let model = Model::fit(estimator.as_ref(), &data, Default::default(), 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = Model::load(dir.path()).unwrap();
    assert_eq!(loaded.classes().unwrap(), ["apple", "banana", "pear"]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(manifest["features"][0]["kind"], "categorical");
    assert_eq!(manifest["features"][1]["kind"], "numeric");
    assert_eq!(
        loaded.predict_table(&table).unwrap(),
        model.predict_table(&table).unwrap()
    );
}

#[test]
fn broken_artifacts_are_refused_clearly() {
    let table = dataset("breast-cancer");
    let data = TrainingData::from_table(&table, "CLASS", None).unwrap();
    let estimator = from_hyperparams(Algorithm::NaiveBayes, &HyperParams::default()).unwrap();
    let model = Model::fit(estimator.as_ref(), &data, Default::default(), 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let manifest_path = dir.path().join(MANIFEST_FILE);
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();
    std::fs::write(
        &manifest_path,
        manifest.replace("\"format_version\":1", "\"format_version\":7"),
    )
    .unwrap();
    assert_eq!(
        Model::load(dir.path()).unwrap_err().to_string(),
        "model artifact: format version 7 is not supported by this build (it reads version 1)"
    );
    std::fs::write(
        &manifest_path,
        manifest.replace("\"NaiveBayes\"", "\"RandomForest\""),
    )
    .unwrap();
    assert_eq!(
        Model::load(dir.path()).unwrap_err().to_string(),
        "model artifact: the manifest says RandomForest but the payload holds a NaiveBayes model"
    );
    std::fs::write(
        &manifest_path,
        manifest.replace("\"model.json\"", "\"../model.json\""),
    )
    .unwrap();
    assert_eq!(
        Model::load(dir.path()).unwrap_err().to_string(),
        "model artifact: manifest.json: payload `../model.json` is not one of model.json, \
         xgboost-model.json, lightgbm-model.txt"
    );
    // A library's file under the wrong name, or one claiming other outputs, is refused too.
    std::fs::write(
        &manifest_path,
        manifest.replace("\"model.json\"", "\"lightgbm-model.txt\""),
    )
    .unwrap();
    std::fs::copy(
        dir.path().join("model.json"),
        dir.path().join("lightgbm-model.txt"),
    )
    .unwrap();
    assert!(Model::load(dir.path())
        .unwrap_err()
        .to_string()
        .contains("lightgbm-model.txt: not a LightGBM text model"));
    let empty = tempfile::tempdir().unwrap();
    assert!(Model::load(empty.path())
        .unwrap_err()
        .to_string()
        .contains("manifest.json"));
}

/// A NaiveBayes model saved in a fresh folder.
fn saved_model() -> tempfile::TempDir {
    let table = dataset("breast-cancer");
    let data = TrainingData::from_table(&table, "CLASS", None).unwrap();
    let estimator = from_hyperparams(Algorithm::NaiveBayes, &HyperParams::default()).unwrap();
    let model = Model::fit(estimator.as_ref(), &data, Default::default(), 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    dir
}

#[cfg(unix)]
#[test]
fn a_manifest_symlinked_outside_the_folder_is_refused_without_echoing_it() {
    let dir = saved_model();
    let outside = tempfile::tempdir().unwrap();
    // A JSON file elsewhere on the machine, whose values a parse error would repeat.
    let secret = outside.path().join("secret.json");
    let manifest = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
    std::fs::write(
        &secret,
        manifest.replace("\"binary\"", "\"secret-value-7f3a\""),
    )
    .unwrap();
    std::fs::remove_file(dir.path().join(MANIFEST_FILE)).unwrap();
    std::os::unix::fs::symlink(&secret, dir.path().join(MANIFEST_FILE)).unwrap();
    let error = Model::load(dir.path()).unwrap_err().to_string();
    assert_eq!(error, "model artifact: manifest.json is not a regular file");
    for leak in [
        "secret-value-7f3a",
        secret.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ] {
        assert!(!error.contains(leak), "{error}");
    }
}

#[cfg(unix)]
#[test]
fn a_payload_symlinked_to_dev_zero_is_refused_without_reading_it() {
    let dir = saved_model();
    std::fs::remove_file(dir.path().join("model.json")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("model.json")).unwrap();
    assert_eq!(
        Model::load(dir.path()).unwrap_err().to_string(),
        "model artifact: model.json is not a regular file"
    );
}

#[test]
fn a_payload_over_the_cap_is_refused_without_reading_it() {
    let dir = saved_model();
    // Sparse: a length past the cap without writing a gigabyte.
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("model.json"))
        .unwrap()
        .set_len(mmp_ml::model::MAX_PAYLOAD_BYTES + 1)
        .unwrap();
    assert_eq!(
        Model::load(dir.path()).unwrap_err().to_string(),
        format!(
            "model artifact: model.json exceeds {} bytes",
            mmp_ml::model::MAX_PAYLOAD_BYTES
        )
    );
}
