//! Boosted models that versions before the own engine fitted with forust-ml still load and
//! predict what forust-ml predicted. The fixtures are payloads and predictions forust-ml 0.8
//! wrote through this crate (binary XGBoost, one-vs-rest LightGBM, regression XGBoost, on rows
//! with missing values).
#![allow(clippy::unwrap_used)] // a failure is the test failing

use std::path::Path;

use mmp_ml::estimators::Fitted;

#[test]
fn forust_ml_payloads_predict_as_they_did() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forust-ml");
    for (name, outputs) in [("binary", 2), ("multiclass", 3), ("regression", 1)] {
        let payload = std::fs::read(dir.join(format!("{name}.json"))).unwrap();
        let fitted = Fitted::from_payload("model.json", &payload).unwrap();
        assert_eq!(fitted.n_outputs(), Some(outputs), "{name}");
        let expected: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{name}.predictions.json"))).unwrap(),
        )
        .unwrap();
        let rows = expected["rows"].as_array().unwrap();
        for (row, want) in rows.iter().zip(expected["outputs"].as_array().unwrap()) {
            let x: Vec<f64> = row
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect();
            let mut got = vec![0.0; outputs];
            fitted.predictor().predict_row(&x, &mut got);
            for (g, w) in got.iter().zip(want.as_array().unwrap()) {
                let w = w.as_f64().unwrap();
                assert!((g - w).abs() < 1e-9, "{name} {x:?}: {got:?} vs {want}");
            }
        }
    }
}

#[test]
fn a_forust_ml_tree_with_a_separate_missing_branch_or_a_cycle_is_refused() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forust-ml");
    let payload: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("binary.json")).unwrap()).unwrap();
    let load = |p: &serde_json::Value| {
        Fitted::from_payload("model.json", &serde_json::to_vec(p).unwrap())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let root = "/boosters/0/trees/0/nodes/0";
    let mut separate = payload.clone();
    *separate
        .pointer_mut(&format!("{root}/missing_node"))
        .unwrap() = 5.into();
    assert!(load(&separate).contains("tree 0: node 0 has a separate branch for missing values"));
    let mut cyclic = payload.clone();
    *cyclic.pointer_mut(&format!("{root}/left_child")).unwrap() = 0.into();
    let err = load(&cyclic);
    assert!(err.contains("node 0: child 0 is not a later node"), "{err}");
    let mut mistyped = payload.clone();
    *mistyped.pointer_mut("/boosters/0/base_score").unwrap() = "high".into();
    let err = load(&mistyped);
    assert!(err.contains("forust-ml payload: invalid type"), "{err}");
}
