//! Running the Python helper scripts beside these tests (python3 with `xgboost` and
//! `lightgbm`, which CI installs from .ci/pip/native.txt).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // a failure is the test failing

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// Runs `tests/<script>` with `args`; its standard output.
pub fn run(script: &str, args: &[&OsStr]) -> Vec<u8> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let output = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python3 {} {args:?} failed (are xgboost and lightgbm installed? \
         pip install -r .ci/pip/native.txt):\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A library's predictions as JSON, one entry per row: a number (binary probability or
/// regression value) or an array (class probabilities); each row as a list.
pub fn prediction_rows(json: &[u8]) -> Vec<Vec<f64>> {
    let values: serde_json::Value = serde_json::from_slice(json).unwrap();
    values
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|row| match row {
            serde_json::Value::Array(v) => v.iter().map(|v| v.as_f64().unwrap()).collect(),
            one => vec![one.as_f64().unwrap()],
        })
        .collect()
}
