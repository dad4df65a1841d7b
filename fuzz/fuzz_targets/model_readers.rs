//! The model readers of `mmp-ml`, loading then predicting, as the server does. The first byte
//! picks the reader:
//! - 0: an XGBoost JSON model file (`xgboost-model.json`);
//! - 1: a LightGBM text model file (`lightgbm-model.txt`);
//! - 2: an artifact: `manifest.json`, a NUL byte (JSON text never holds a raw one), then the
//!   payload the manifest names, loaded by `Model::load` from a folder.
//!
//! Other values fold onto these.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mmp_ml::estimators::{lightgbm, xgboost, Fitted};
use mmp_ml::model::{Model, MANIFEST_FILE};
use mmp_ml::schema::{Encoding, Value};

/// Inputs are at most libFuzzer's -max_len, so no loaded model should need more than this
/// many input columns; a bound keeps a hostile `num_feature` from allocating gigabytes here.
const MAX_WIDTH: usize = 1 << 16;

/// One folder per process, overwritten by every artifact input.
fn artifact_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| match tempfile::tempdir() {
        Ok(dir) => dir.keep(),
        Err(error) => panic!("no temporary folder: {error}"),
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => library_file(xgboost::PAYLOAD_FILE, rest),
        1 => library_file(lightgbm::PAYLOAD_FILE, rest),
        _ => artifact(rest),
    }
});

/// Reads a library's model file and predicts rows of zeros, of NaNs and of large values.
fn library_file(name: &str, bytes: &[u8]) {
    let Ok(fitted) = Fitted::from_payload(name, bytes) else {
        return;
    };
    let (Fitted::XGBoost(model) | Fitted::LightGBM(model)) = &fitted else {
        panic!("{name} read as {}", fitted.tag());
    };
    let ensemble = model.ensemble();
    let outputs = ensemble.n_outputs();
    assert_eq!(fitted.n_outputs(), Some(outputs));
    let width = ensemble.n_features.min(MAX_WIDTH);
    let mut out = vec![0.0; outputs];
    for value in [0.0, f64::NAN, -1e300, 1e300] {
        fitted
            .predictor()
            .predict_row(&vec![value; width], &mut out);
    }
    // The row may also be shorter than the model's features (read as missing).
    fitted.predictor().predict_row(&[], &mut out);
}

/// Loads an artifact folder and predicts one row the way the serving container does.
fn artifact(bytes: &[u8]) {
    let Some(split) = bytes.iter().position(|&b| b == 0) else {
        return;
    };
    let (manifest, payload) = (&bytes[..split], &bytes[split + 1..]);
    let dir = artifact_dir();
    // The payload goes where the manifest names it (the loader refuses any other name
    // before reading it, so a name it would refuse is not written).
    let write = |name: &str, bytes: &[u8]| {
        if let Err(error) = std::fs::write(dir.join(name), bytes) {
            panic!("cannot write {name}: {error}");
        }
    };
    write(MANIFEST_FILE, manifest);
    let named = serde_json::from_slice::<serde_json::Value>(manifest)
        .ok()
        .and_then(|m| m.get("payload")?.as_str().map(str::to_owned));
    let known = [
        mmp_ml::model::PAYLOAD_FILE,
        xgboost::PAYLOAD_FILE,
        lightgbm::PAYLOAD_FILE,
    ];
    for name in known {
        if named.as_deref() == Some(name) {
            write(name, payload);
        } else {
            // A payload from an earlier input must not stand in for a missing one.
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    let Ok(model) = Model::load(dir) else {
        return;
    };
    let width = model.width();
    if width > MAX_WIDTH {
        return;
    }
    let mut scratch = vec![0.0; width];
    let mut out = vec![0.0; model.n_outputs()];
    // Every feature missing (its fill value), then every feature given: a number or a
    // category the model knows.
    let _ = model.predict_row(|_| Value::Missing, &mut scratch, &mut out);
    let features = &model.schema().features;
    let _ = model.predict_row(
        |i| match features.get(i).map(|f| &f.encoding) {
            Some(Encoding::Categorical { categories, .. }) => categories
                .first()
                .map_or(Value::Missing, |c| Value::Text(c.as_str())),
            _ => Value::Number(1.5),
        },
        &mut scratch,
        &mut out,
    );
}
