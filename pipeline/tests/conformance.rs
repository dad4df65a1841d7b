//! The definition against the SageMaker API model: the conformance checker that ships beside
//! the project (`../shared/conformance/`, present in CI) must report no problem, both as
//! written (expressions stand for values) and as SageMaker resolves it for an execution: every
//! parameter replaced by a value it may take, each tuning strategy in turn, so that a value the
//! API refuses in the field it lands in (an enum, a number) is caught.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::process::Command;

use mmp_pipeline::definition::{render, Placeholders};
use mmp_pipeline::parameters as p;
use serde_json::Value;

fn checker() -> Option<PathBuf> {
    let checker = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance/check_pipeline_definition.py");
    if checker.is_file() {
        Some(checker)
    } else {
        eprintln!("skip: {} is not beside the project", checker.display());
        None
    }
}

fn rendered() -> Value {
    let text = render(&Placeholders {
        image_uri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mmp:latest",
        role_arn: "arn:aws:iam::123456789012:role/mmp-sagemaker",
        bucket: "mmp-artifacts",
        pipeline_name: "mmp",
    });
    serde_json::from_str(&text).unwrap()
}

fn check(checker: &Path, definition: &Value, label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("definition.json");
    std::fs::write(&file, definition.to_string()).unwrap();
    let out = Command::new("python3")
        .arg(checker)
        .arg(&file)
        .output()
        .expect("python3 runs (the checker needs botocore: .ci/pip/conformance.txt)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{label}: conformance check failed:\n{stdout}{stderr}"
    );
    assert!(stdout.contains("0 problems"), "{label}: {stdout}");
}

/// Replaces `{"Get": "Parameters.N"}` with N's value, typed as the parameter is.
fn resolve(value: &mut Value, parameters: &[(String, Value)]) {
    if let Some(Value::String(reference)) = value.get("Get") {
        if let Some(name) = reference.strip_prefix("Parameters.") {
            if let Some((_, v)) = parameters.iter().find(|(n, _)| n == name) {
                *value = v.clone();
                return;
            }
        }
    }
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| resolve(v, parameters)),
        Value::Object(map) => map.values_mut().for_each(|v| resolve(v, parameters)),
        _ => {}
    }
}

#[test]
fn the_rendered_definition_passes_the_sagemaker_conformance_check() {
    let Some(checker) = checker() else { return };
    check(&checker, &rendered(), "as written");
}

#[test]
fn every_tuning_strategy_passes_the_check_once_parameters_are_resolved() {
    let Some(checker) = checker() else { return };
    let definition = rendered();
    // Each parameter's default, or a made-up value of its type where it has none.
    let defaults: Vec<(String, Value)> = definition["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|param| {
            let value = param.get("DefaultValue").cloned().unwrap_or_else(|| {
                Value::String(format!("s3://mmp-artifacts/datasets/{}", param["Name"]))
            });
            (param["Name"].as_str().unwrap().to_string(), value)
        })
        .collect();
    for strategy in p::TUNING_STRATEGIES {
        let mut values = defaults.clone();
        for (name, value) in &mut values {
            if name == p::TUNING_STRATEGY {
                *value = Value::String(strategy.to_string());
            }
        }
        let mut resolved = definition.clone();
        resolve(&mut resolved, &values);
        let tuning = &resolved["Steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Name"] == p::STEP_TUNING)
            .unwrap()["Arguments"]["HyperParameterTuningJobConfig"];
        assert_eq!(
            tuning["Strategy"], strategy,
            "the parameter reached the field"
        );
        check(&checker, &resolved, strategy);
    }
    // A value the API refuses is caught once resolved (the check can fail).
    let mut wrong = defaults.clone();
    for (name, value) in &mut wrong {
        if name == p::TUNING_STRATEGY {
            *value = Value::String("Exhaustive".into());
        }
    }
    let mut resolved = definition.clone();
    resolve(&mut resolved, &wrong);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("definition.json");
    std::fs::write(&file, resolved.to_string()).unwrap();
    let out = Command::new("python3")
        .arg(&checker)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "an unknown strategy must fail the check"
    );
}
