//! The real definition executed with the real `mmp-container` on the sample datasets.
//!
//! The binary is `MMP_CONTAINER_BIN` when set; otherwise `mmp-container` in this build's target
//! folder, brought up to date with `$CARGO build -p mmp-container`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mmp_executor::{
    ExecutionInfo, ExecutionStatus, Executor, ExecutorConfig, ExecutorHooks, JobStatus,
    RegisterError, StepInfo,
};
use mmp_pipeline::definition::{render, Placeholders};
use mmp_pipeline::parameters as p;
use serde_json::Value;

const BUCKET: &str = "mmp-local";
const PIPELINE: &str = "mmp";

#[derive(Default)]
struct Registry(Mutex<Vec<Value>>);

impl ExecutorHooks for Registry {
    fn register_model(
        &self,
        _: &ExecutionInfo,
        arguments: &Value,
    ) -> Result<String, RegisterError> {
        let mut all = self.0.lock().unwrap();
        all.push(arguments.clone());
        Ok(format!(
            "arn:aws:sagemaker:us-east-1:000000000000:model-package/m/{}",
            all.len()
        ))
    }

    fn execution_status_changed(&self, _: &ExecutionInfo, _: Option<ExecutionStatus>) {}
}

/// `MMP_CONTAINER_BIN`, or `mmp-container` in the target folder of this test executable
/// (`target/<profile>/deps/..`), brought up to date once with the same profile.
fn container_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("MMP_CONTAINER_BIN") {
            return PathBuf::from(bin);
        }
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap();
        let bin = profile_dir.join(format!("mmp-container{}", std::env::consts::EXE_SUFFIX));
        // Always through cargo: a no-op when the binary is fresh, a rebuild when it is stale.
        {
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => "dev",
                Some(other) => other,
            };
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args([
                    "build",
                    "-p",
                    "mmp-container",
                    "--profile",
                    profile,
                    "--target-dir",
                ])
                .arg(profile_dir.parent().unwrap())
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .unwrap();
            assert!(status.success(), "cannot build mmp-container");
        }
        assert!(bin.is_file(), "no mmp-container at {}", bin.display());
        bin
    })
    .clone()
}

fn datasets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

/// Runs the pipeline on a sample dataset; returns the execution, its steps and what was registered.
fn run(dataset: &str, extra: &[(&str, &str)]) -> (ExecutionInfo, Vec<StepInfo>, Vec<Value>) {
    let csv = std::fs::read(datasets().join(dataset).join(format!("{dataset}.csv"))).unwrap();
    run_on(dataset, &csv, extra)
}

/// Runs the pipeline on `csv`, uploaded as dataset `dataset`.
fn run_on(
    dataset: &str,
    csv: &[u8],
    extra: &[(&str, &str)],
) -> (ExecutionInfo, Vec<StepInfo>, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let key = format!("datasets/{dataset}/{dataset}.csv");
    let object = dir.path().join("bucket").join(&key);
    std::fs::create_dir_all(object.parent().unwrap()).unwrap();
    std::fs::write(&object, csv).unwrap();
    let registry = Arc::new(Registry::default());
    let exec = Executor::open(
        ExecutorConfig {
            db_path: dir.path().join("mmp.db"),
            bucket_root: dir.path().join("bucket"),
            bucket_name: BUCKET.into(),
            jobs_root: dir.path().join("jobs"),
            container_bin: container_bin(),
            max_parallel_jobs: 2,
            ..ExecutorConfig::default()
        },
        registry.clone(),
    )
    .unwrap();
    let definition = render(&Placeholders {
        image_uri: "mmp-container:local",
        role_arn: "arn:aws:iam::000000000000:role/mmp",
        bucket: BUCKET,
        pipeline_name: PIPELINE,
    });
    let mut parameters = BTreeMap::from([
        (p::DATASET_NAME.to_string(), dataset.to_string()),
        (
            p::INPUT_DATA_URI.to_string(),
            format!("s3://{BUCKET}/{key}"),
        ),
        (p::MAX_TUNING_JOBS.to_string(), "6".to_string()),
        (p::MAX_TUNING_PARALLEL_JOBS.to_string(), "2".to_string()),
    ]);
    for (k, v) in extra {
        parameters.insert(k.to_string(), v.to_string());
    }
    let info = exec.start(PIPELINE, &definition, parameters, None).unwrap();
    let info = exec.wait(&info.id, Duration::from_secs(1800)).unwrap();
    let steps = exec.steps(&info.id).unwrap();
    let registered = registry.0.lock().unwrap().clone();
    (info, steps, registered)
}

fn log_tail(steps: &[StepInfo]) -> String {
    steps
        .iter()
        .flat_map(|s| &s.jobs)
        .filter(|j| j.status == JobStatus::Failed)
        .map(|j| {
            format!(
                "{}: {}",
                j.name,
                std::fs::read_to_string(&j.log_path).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the pipeline on a sample dataset, expecting one registered model; returns the steps,
/// the registered arguments and the evaluation's register metric.
fn run_to_registration(dataset: &str, extra: &[(&str, &str)]) -> (Vec<StepInfo>, Value, f64) {
    let (info, steps, mut registered) = run(dataset, extra);
    let logs = log_tail(&steps);
    assert_eq!(
        info.status,
        ExecutionStatus::Succeeded,
        "{:?}\n{logs}",
        info.failure_reason
    );
    assert_eq!(registered.len(), 1);
    let evaluate = steps.iter().find(|s| s.name == p::STEP_EVALUATE).unwrap();
    let report = &evaluate.outputs["PropertyFiles"][p::EVALUATION_PROPERTY_FILE];
    let metric = report["register_metric"]["value"].as_f64().unwrap();
    (steps, registered.remove(0), metric)
}

#[test]
fn breast_cancer_is_tuned_refit_evaluated_and_registered() {
    let (steps, args, auc) = run_to_registration("breast-cancer", &[]);
    assert_eq!(args["ModelPackageGroupName"], "mmp-breast-cancer");
    assert!(auc >= 0.7, "auc {auc}");
    let tuning = steps.iter().find(|s| s.name == p::STEP_TUNING).unwrap();
    let scored = tuning.jobs.iter().filter(|j| j.objective.is_some()).count();
    assert!(scored >= 1, "{:?}", tuning.jobs);
}

#[test]
fn wine_is_a_multiclass_run_to_registration() {
    let metric = (p::METRIC_FOR_REGISTRATION_THRESHOLD, "accuracy");
    let scorer = (p::CROSS_VALIDATION_SCORER, "accuracy");
    let (_, args, accuracy) = run_to_registration("wine", &[metric, scorer]);
    assert_eq!(args["CustomerMetadataProperties"]["dataset"], "wine");
    assert!((0.7..=1.0).contains(&accuracy), "accuracy {accuracy}");
}

#[test]
fn diabetes_is_a_regression_held_to_its_r2_threshold() {
    let (info, steps, registered) = run(
        "diabetes",
        &[
            (p::TARGET_COLUMN, "progression"),
            (p::STRATIFY_SPLIT, "False"),
            (p::CROSS_VALIDATION_SCORER, "r2"),
            (p::METRIC_FOR_REGISTRATION_THRESHOLD, "r2"),
            (p::MIN_THRESHOLD_FOR_REGISTER_METRIC, "0.99"),
        ],
    );
    assert_eq!(info.status, ExecutionStatus::Failed, "{}", log_tail(&steps));
    assert_eq!(
        info.failure_reason.as_deref(),
        Some("Execution failed because r2 value is less than the required 0.99")
    );
    assert!(registered.is_empty());
}

#[test]
fn an_unusable_csv_fails_with_the_containers_reason() {
    let (info, steps, _) = run_on("broken", b"a,b\n1,2\n3,x\n", &[]);
    assert_eq!(info.status, ExecutionStatus::Failed);
    let reason = info.failure_reason.unwrap();
    assert!(
        reason.starts_with("Step PreprocessData failed: job PreprocessData-"),
        "{reason}"
    );
    assert!(
        reason.contains("AlgorithmError: ") && reason.contains("CLASS"),
        "{reason}"
    );
    assert_eq!(steps.len(), 1);
    eprintln!("{reason}");
}
