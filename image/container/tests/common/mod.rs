//! A temporary ML root laid out as /opt/ml, and the built binary run against it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Root {
    pub dir: tempfile::TempDir,
}

impl Root {
    pub fn new() -> Root {
        Root {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn json(&self, rel: &str) -> serde_json::Value {
        serde_json::from_str(&self.read(rel)).unwrap()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mmp-container"))
            .args(args)
            .env("MMP_ML_ROOT", self.dir.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    /// Runs and asserts success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and asserts failure, returning the failure file's reason.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should have failed");
        let reason = self.read("output/failure");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(reason.trim()),
            "stderr repeats the reason"
        );
        std::fs::remove_file(self.path("output/failure")).unwrap();
        reason
    }

    /// Hyperparameters as the SageMaker SDK writes them (every value JSON-quoted) or not.
    pub fn hyperparameters(&self, pairs: &[(&str, &str)], quoted: bool) {
        let map: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(k, v)| {
                let v = if quoted {
                    serde_json::to_string(v).unwrap()
                } else {
                    v.to_string()
                };
                (k.to_string(), serde_json::Value::String(v))
            })
            .collect();
        self.write(
            "input/config/hyperparameters.json",
            serde_json::to_vec(&map).unwrap(),
        );
    }

    /// Archives `model/` as SageMaker does and places it at `rel`.
    pub fn archive_model_to(&self, rel: &str) {
        let dest = self.path(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        mmp_ml::model::write_archive(&self.path("model"), &dest).unwrap();
    }
}

pub fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(name)
        .join(format!("{name}.csv"))
}

/// (dataset, target, a register metric that applies)
pub const DATASETS: [(&str, &str, &str); 3] = [
    ("breast-cancer", "CLASS", "auc"),
    ("wine", "CLASS", "f1"),
    ("diabetes", "progression", "r2"),
];

/// Splits `dataset` with the preprocess job into processing/train and processing/test and
/// copies the train split into the train channel.
pub fn preprocess(root: &Root, dataset_name: &str, target: &str) {
    root.write(
        "processing/input/data/dataset.csv",
        std::fs::read(dataset(dataset_name)).unwrap(),
    );
    root.ok(&[
        "preprocess",
        "--target",
        target,
        "--test-size",
        "0.2",
        "--stratify",
        "True",
        "--random-state",
        "42",
        "--file-name",
        "dataset.csv",
    ]);
    root.write(
        "input/data/train/dataset.csv",
        root.read("processing/train/dataset.csv"),
    );
}
