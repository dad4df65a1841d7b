//! Whole executions of the real pipeline definition, each job run by the `fake-container`
//! binary of this crate (it honours mmp-container's job contract).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mmp_executor::{
    ExecutionInfo, ExecutionStatus, Executor, ExecutorConfig, ExecutorError, ExecutorHooks,
    JobStatus, RegisterError, StartOptions, StepInfo, StepStatus,
};
use mmp_pipeline::algorithm::Algorithm;
use mmp_pipeline::definition::{render, Placeholders};
use mmp_pipeline::parameters as p;
use serde_json::Value;

const BUCKET: &str = "mmp-local";
const PIPELINE: &str = "mmp";
const WAIT: Duration = Duration::from_secs(120);

#[derive(Default)]
struct Hooks {
    registered: Mutex<Vec<(ExecutionInfo, Value)>>,
    changes: Mutex<Vec<(String, Option<ExecutionStatus>, ExecutionStatus)>>,
    step_changes: Mutex<Vec<(String, StepStatus)>>,
}

impl ExecutorHooks for Hooks {
    fn register_model(
        &self,
        execution: &ExecutionInfo,
        arguments: &Value,
    ) -> Result<String, RegisterError> {
        let mut all = self.registered.lock().unwrap();
        all.push((execution.clone(), arguments.clone()));
        Ok(format!(
            "arn:aws:sagemaker:us-east-1:000000000000:model-package/x/{}",
            all.len()
        ))
    }

    fn execution_status_changed(
        &self,
        execution: &ExecutionInfo,
        previous: Option<ExecutionStatus>,
    ) {
        self.changes
            .lock()
            .unwrap()
            .push((execution.id.clone(), previous, execution.status));
    }

    fn step_status_changed(&self, _: &ExecutionInfo, step: &StepInfo) {
        self.step_changes
            .lock()
            .unwrap()
            .push((step.name.clone(), step.status));
    }
}

struct Harness {
    dir: tempfile::TempDir,
    hooks: Arc<Hooks>,
    exec: Executor,
}

fn config(dir: &Path, max_parallel_jobs: usize, env: &[(&str, &str)]) -> ExecutorConfig {
    ExecutorConfig {
        db_path: dir.join("state/mmp.db"),
        bucket_root: dir.join("bucket"),
        bucket_name: BUCKET.into(),
        jobs_root: dir.join("jobs"),
        container_bin: PathBuf::from(env!("CARGO_BIN_EXE_fake-container")),
        max_parallel_jobs,
        job_env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ExecutorConfig::default()
    }
}

fn harness(max_parallel_jobs: usize, env: &[(&str, &str)]) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let hooks = Arc::new(Hooks::default());
    let exec = Executor::open(config(dir.path(), max_parallel_jobs, env), hooks.clone()).unwrap();
    Harness { dir, hooks, exec }
}

fn definition() -> String {
    render(&Placeholders {
        image_uri: "mmp-container:local",
        role_arn: "arn:aws:iam::000000000000:role/mmp",
        bucket: BUCKET,
        pipeline_name: PIPELINE,
    })
}

fn csv(header: &str, rows: usize) -> String {
    let mut s = format!("{header}\n");
    for i in 0..rows {
        s.push_str(&format!("{},{},{}\n", i, i * 2 % 7, i % 2));
    }
    s
}

impl Harness {
    fn bucket(&self) -> PathBuf {
        self.dir.path().join("bucket")
    }

    /// Puts a dataset in the store; returns its S3 URI.
    fn upload(&self, dataset: &str, content: &str) -> String {
        let key = format!("datasets/{dataset}/{dataset}.csv");
        let path = self.bucket().join(&key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        format!("s3://{BUCKET}/{key}")
    }

    fn start(&self, dataset: &str, extra: &[(&str, &str)]) -> ExecutionInfo {
        self.start_definition(&definition(), dataset, extra)
    }

    fn start_definition(
        &self,
        definition: &str,
        dataset: &str,
        extra: &[(&str, &str)],
    ) -> ExecutionInfo {
        let uri = self.upload(dataset, &csv("a,b,CLASS", 30));
        self.exec
            .start(PIPELINE, definition, params(dataset, &uri, extra), None)
            .unwrap()
    }

    fn finish(&self, id: &str) -> (ExecutionInfo, Vec<StepInfo>) {
        let info = self.exec.wait(id, WAIT).unwrap();
        assert!(
            info.status.is_terminal(),
            "still {:?} after {WAIT:?}",
            info.status
        );
        (info, self.exec.steps(id).unwrap())
    }

    fn object(&self, uri: &str) -> Vec<u8> {
        let key = uri.strip_prefix(&format!("s3://{BUCKET}/")).unwrap();
        std::fs::read(self.bucket().join(key)).unwrap()
    }
}

fn params(dataset: &str, uri: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::from([
        (p::DATASET_NAME.to_string(), dataset.to_string()),
        (p::INPUT_DATA_URI.to_string(), uri.to_string()),
        (p::MAX_TUNING_JOBS.to_string(), "6".to_string()),
        (p::MAX_TUNING_PARALLEL_JOBS.to_string(), "3".to_string()),
    ]);
    for (k, v) in extra {
        m.insert(k.to_string(), v.to_string());
    }
    m
}

fn step<'a>(steps: &'a [StepInfo], name: &str) -> &'a StepInfo {
    steps.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no step {name} in {:?}",
            steps.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

fn names(steps: &[StepInfo]) -> Vec<&str> {
    steps.iter().map(|s| s.name.as_str()).collect()
}

fn untar(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut body = String::new();
            e.read_to_string(&mut body).unwrap();
            (name, body)
        })
        .collect()
}

#[test]
fn the_real_definition_runs_to_a_registered_model() {
    let h = harness(4, &[]);
    let info = h.start("breast-cancer", &[]);
    assert_eq!(info.status, ExecutionStatus::Executing);
    assert_eq!(
        info.arn,
        format!(
            "arn:aws:sagemaker:us-east-1:000000000000:pipeline/mmp/execution/{}",
            info.id
        )
    );
    let (info, steps) = h.finish(&info.id);
    assert_eq!(
        info.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        info.failure_reason
    );
    assert!(info.ended.is_some());
    assert_eq!(h.exec.describe(&info.arn).unwrap(), info, "by ARN as by id");
    assert_eq!(info.last_modified(), info.ended.unwrap());
    assert_eq!(
        info.parameters[p::TARGET_COLUMN],
        "CLASS",
        "defaults are listed"
    );
    assert_eq!(
        names(&steps),
        [
            p::STEP_PREPROCESS,
            p::STEP_TUNING,
            p::STEP_REFIT,
            p::STEP_EVALUATE,
            p::STEP_CONDITION,
            p::STEP_REGISTER
        ]
    );
    assert!(steps
        .iter()
        .all(|s| s.status == StepStatus::Succeeded && s.ended.is_some()));

    // Preprocess wrote both splits under the execution's prefix.
    let train_uri = step(&steps, p::STEP_PREPROCESS).outputs["ProcessingOutputConfig"]["Outputs"]
        ["train"]["S3Output"]["S3Uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        train_uri,
        format!(
            "s3://{BUCKET}/pipelines/{PIPELINE}/{}/PreprocessData/train",
            info.id
        )
    );
    let train = String::from_utf8(h.object(&format!("{train_uri}/dataset.csv"))).unwrap();
    assert_eq!(train.lines().count(), 1 + 24);

    // Six trials, one per algorithm, each with its log; the best has the highest score.
    let tuning = step(&steps, p::STEP_TUNING);
    assert_eq!(tuning.jobs.len(), 6);
    assert_eq!(
        tuning.outputs["HyperParameterTuningJobArn"],
        format!(
            "arn:aws:sagemaker:us-east-1:000000000000:hyper-parameter-tuning-job/tuningwithcrossvalidation-{}",
            info.id
        )
    );
    let algorithms: std::collections::BTreeSet<_> = tuning
        .jobs
        .iter()
        .map(|j| j.definition_name.clone().unwrap())
        .collect();
    assert_eq!(algorithms.len(), 6);
    for job in &tuning.jobs {
        assert_eq!(job.status, JobStatus::Completed);
        let log = std::fs::read_to_string(&job.log_path).unwrap();
        assert!(log.contains("mmp-val-score: "), "{log}");
        assert!(job
            .log_path
            .starts_with(h.dir.path().join("jobs").join(&info.id)));
    }
    let best = tuning
        .jobs
        .iter()
        .max_by(|a, b| {
            a.objective
                .unwrap()
                .partial_cmp(&b.objective.unwrap())
                .unwrap()
        })
        .unwrap();
    let best_props = &tuning.outputs["BestTrainingJob"];
    assert_eq!(best_props["TrainingJobName"], best.name.as_str());
    assert_eq!(
        best_props["TrainingJobDefinitionName"],
        best.definition_name.as_deref().unwrap()
    );
    assert_eq!(
        best_props["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        best.objective.unwrap()
    );

    // The refit got the best trial's algorithm and archive, and its model is archived.
    let refit = step(&steps, p::STEP_REFIT);
    let hp = refit.jobs[0].hyperparameters.as_ref().unwrap();
    assert_eq!(hp["algorithm"], best.definition_name.as_deref().unwrap());
    assert_eq!(hp["cross-validation"], "false");
    let artifact = refit.outputs["ModelArtifacts"]["S3ModelArtifacts"]
        .as_str()
        .unwrap();
    assert_eq!(
        artifact,
        format!(
            "s3://{BUCKET}/pipelines/{PIPELINE}/{}/RefitBestModel/{}/output/model.tar.gz",
            info.id, refit.jobs[0].name
        )
    );
    let model = untar(&h.object(artifact));
    assert!(model["model.json"].contains(best.definition_name.as_deref().unwrap()));

    // The condition read the property file; the hook got every argument resolved.
    assert_eq!(
        step(&steps, p::STEP_EVALUATE).outputs["PropertyFiles"]["EvaluationReport"]
            ["register_metric"]["value"],
        0.9
    );
    assert_eq!(step(&steps, p::STEP_CONDITION).outputs["Outcome"], true);
    let registered = h.hooks.registered.lock().unwrap();
    assert_eq!(registered.len(), 1);
    let (exec_info, args) = &registered[0];
    assert_eq!(exec_info.id, info.id);
    assert!(!args.to_string().contains("\"Get\""), "unresolved: {args}");
    assert_eq!(args["ModelPackageGroupName"], "mmp-breast-cancer");
    assert_eq!(args["ModelApprovalStatus"], "PendingManualApproval");
    assert_eq!(
        args["InferenceSpecification"]["Containers"][0]["ModelDataUrl"],
        artifact
    );
    assert_eq!(
        args["CustomerMetadataProperties"]["pipeline_execution"],
        info.arn.as_str()
    );
    assert_eq!(
        args["CustomerMetadataProperties"]["algorithm"],
        best.definition_name.as_deref().unwrap()
    );
    let report_uri = args["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        .as_str()
        .unwrap();
    let report: Value = serde_json::from_slice(&h.object(report_uri)).unwrap();
    assert_eq!(report["register_metric"]["value"], 0.9);
    assert_eq!(
        step(&steps, p::STEP_REGISTER).outputs["ModelPackageArn"],
        "arn:aws:sagemaker:us-east-1:000000000000:model-package/x/1"
    );

    let step_changes = h.hooks.step_changes.lock().unwrap();
    assert_eq!(step_changes.len(), 12, "{step_changes:?}");
    let preprocess: Vec<_> = step_changes
        .iter()
        .filter(|c| c.0 == p::STEP_PREPROCESS)
        .collect();
    assert_eq!(
        preprocess,
        [
            &(p::STEP_PREPROCESS.to_string(), StepStatus::Executing),
            &(p::STEP_PREPROCESS.to_string(), StepStatus::Succeeded)
        ]
    );
    let changes = h.hooks.changes.lock().unwrap();
    assert_eq!(
        *changes,
        [
            (info.id.clone(), None, ExecutionStatus::Executing),
            (
                info.id.clone(),
                Some(ExecutionStatus::Executing),
                ExecutionStatus::Succeeded
            )
        ]
    );
    drop(changes);

    // Ended: each job folder kept its log and dropped what the bucket holds already.
    let jobs: Vec<_> = std::fs::read_dir(h.dir.path().join("jobs").join(&info.id))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(jobs.len() > 5, "{jobs:?}");
    for job in &jobs {
        assert!(
            job.join("job.log").is_file(),
            "{} lost its log",
            job.display()
        );
        for dropped in mmp_executor::retention::DROPPED {
            assert!(
                !job.join(dropped).exists(),
                "{} kept {dropped}",
                job.display()
            );
        }
    }
}

#[test]
fn a_metric_below_the_threshold_ends_in_the_fail_step_with_the_original_message() {
    let h = harness(4, &[("FAKE_REGISTER_METRIC", "0.65")]);
    let info = h.start("wine", &[(p::METRIC_FOR_REGISTRATION_THRESHOLD, "f1")]);
    let (info, steps) = h.finish(&info.id);
    assert_eq!(info.status, ExecutionStatus::Failed);
    let message = "Execution failed because f1 value is less than the required 0.7";
    assert_eq!(info.failure_reason.as_deref(), Some(message));
    let fail = step(&steps, p::STEP_FAIL);
    assert_eq!(fail.status, StepStatus::Failed);
    assert_eq!(fail.failure_reason.as_deref(), Some(message));
    assert_eq!(step(&steps, p::STEP_CONDITION).outputs["Outcome"], false);
    assert!(!names(&steps).contains(&p::STEP_REGISTER));
    assert!(h.hooks.registered.lock().unwrap().is_empty());
}

#[test]
fn an_unusable_csv_fails_the_execution_with_the_jobs_reason() {
    let h = harness(2, &[]);
    let uri = h.upload("broken", &csv("a,b,label", 10));
    let info = h
        .exec
        .start(PIPELINE, &definition(), params("broken", &uri, &[]), None)
        .unwrap();
    let (info, steps) = h.finish(&info.id);
    assert_eq!(info.status, ExecutionStatus::Failed);
    let reason = info.failure_reason.unwrap();
    assert!(
        reason.starts_with("Step PreprocessData failed: job PreprocessData-"),
        "{reason}"
    );
    assert!(
        reason.contains("AlgorithmError: target column CLASS is not in the CSV header (a,b,label)"),
        "{reason}"
    );
    assert_eq!(names(&steps), [p::STEP_PREPROCESS]);
    let job = &steps[0].jobs[0];
    assert_eq!(job.status, JobStatus::Failed);
    assert!(std::fs::read_to_string(&job.log_path)
        .unwrap()
        .contains("error: target column CLASS"));
    let changes = h.hooks.changes.lock().unwrap();
    assert_eq!(changes.last().unwrap().2, ExecutionStatus::Failed);
}

#[test]
fn a_missing_input_object_fails_the_job_with_a_client_error() {
    let h = harness(2, &[]);
    let uri = format!("s3://{BUCKET}/datasets/none/none.csv");
    let info = h
        .exec
        .start(PIPELINE, &definition(), params("none", &uri, &[]), None)
        .unwrap();
    let (info, _) = h.finish(&info.id);
    let reason = info.failure_reason.unwrap();
    assert!(reason.contains("ClientError: input data: no S3 objects found under S3 URL s3://mmp-local/datasets/none/none.csv"), "{reason}");
}

/// Runs the pipeline with every algorithm failing except `survivor`.
fn run_with_only(survivor: Option<&str>) -> (ExecutionInfo, Vec<StepInfo>) {
    let failing: Vec<&str> = Algorithm::ALL
        .map(Algorithm::as_str)
        .into_iter()
        .filter(|a| Some(*a) != survivor)
        .collect();
    let h = harness(3, &[("FAKE_FAIL_ALGORITHMS", &failing.join(","))]);
    let info = h.start("wine", &[]);
    h.finish(&info.id)
}

#[test]
fn failed_trials_are_ignored_while_one_succeeds() {
    let (info, steps) = run_with_only(Some("XGBoost"));
    assert_eq!(
        info.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        info.failure_reason
    );
    let tuning = step(&steps, p::STEP_TUNING);
    assert_eq!(
        tuning.outputs["BestTrainingJob"]["TrainingJobDefinitionName"],
        "XGBoost"
    );
    assert_eq!(tuning.outputs["TrainingJobStatusCounters"]["Failed"], 5);
    let failed: Vec<_> = tuning
        .jobs
        .iter()
        .filter(|j| j.status == JobStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 5);
    let reason = failed[0].failure_reason.as_deref().unwrap();
    assert!(reason.contains("cannot fit this data"), "{reason}");
}

#[test]
fn a_tuning_step_whose_trials_all_fail_fails_with_their_reasons() {
    let (info, steps) = run_with_only(None);
    assert_eq!(info.status, ExecutionStatus::Failed);
    let reason = info.failure_reason.unwrap();
    assert!(
        reason.starts_with(
            "Step TuningWithCrossValidation failed: all 6 training jobs of the tuning job failed"
        ),
        "{reason}"
    );
    assert!(reason.contains("cannot fit this data"), "{reason}");
    assert_eq!(names(&steps), [p::STEP_PREPROCESS, p::STEP_TUNING]);
}

fn max_seen(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("seen-"))
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .max()
        .unwrap()
}

#[test]
fn trials_run_in_parallel_up_to_the_smaller_bound() {
    for (cores, max_parallel, expected) in [(2, "6", 2), (8, "3", 3)] {
        let markers = tempfile::tempdir().unwrap();
        let dir = markers.path().to_str().unwrap();
        let h = harness(
            cores,
            &[("FAKE_SLEEP_MS", "800"), ("FAKE_PARALLEL_DIR", dir)],
        );
        assert_eq!(
            most_trials_at_once(&h, max_parallel, markers.path()),
            expected,
            "cores {cores}, MaxTuningParallelJobs {max_parallel}"
        );
    }
}

#[test]
fn trials_run_at_once_only_as_far_as_memory_allows() {
    // Room for two trials' estimates (their inputs are a few hundred bytes) but not three,
    // on four workers.
    let markers = tempfile::tempdir().unwrap();
    let h = within_two_trials_memory(&markers, &[("FAKE_SLEEP_MS", "500")]);
    assert_eq!(most_trials_at_once(&h, "4", markers.path()), 2);
}

#[test]
fn trials_of_many_classes_are_admitted_by_what_their_classes_hold() {
    // Room for two trials by their inputs, but each names 2,000 classes: 5 folds × 142 rows
    // × 2,000 classes × 56 bytes is 79 MB more than the inputs alone, so one runs at a time.
    let markers = tempfile::tempdir().unwrap();
    let env = [("FAKE_SLEEP_MS", "300"), ("FAKE_CLASSES", "2000")];
    let h = within_two_trials_memory(&markers, &env);
    assert_eq!(most_trials_at_once(&h, "4", markers.path()), 1);
}

/// An executor of four workers whose memory budget holds two small trials' estimates, its
/// jobs given `env` and recording in `markers` how many run at once.
fn within_two_trials_memory(markers: &tempfile::TempDir, env: &[(&str, &str)]) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut job_env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    job_env.push((
        "FAKE_PARALLEL_DIR".into(),
        markers.path().display().to_string(),
    ));
    let config = ExecutorConfig {
        memory_budget: 2 * mmp_pipeline::memory::BASE_BYTES + (1 << 20),
        job_env,
        ..config(dir.path(), 4, &[])
    };
    let hooks = Arc::new(Hooks::default());
    Harness {
        exec: Executor::open(config, hooks.clone()).unwrap(),
        hooks,
        dir,
    }
}

/// Runs a wine execution to success; returns the most trials the fake container saw at once.
fn most_trials_at_once(h: &Harness, max_parallel: &str, markers: &Path) -> usize {
    let info = h.start("wine", &[(p::MAX_TUNING_PARALLEL_JOBS, max_parallel)]);
    let (info, _) = h.finish(&info.id);
    assert_eq!(
        info.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        info.failure_reason
    );
    max_seen(markers)
}

fn trials(steps: &[StepInfo]) -> Vec<(String, BTreeMap<String, String>)> {
    step(steps, p::STEP_TUNING)
        .jobs
        .iter()
        .map(|j| {
            (
                j.definition_name.clone().unwrap(),
                j.hyperparameters.clone().unwrap(),
            )
        })
        .collect()
}

#[test]
fn concurrent_executions_draw_the_same_trials_from_the_same_seed() {
    let h = harness(4, &[]);
    let uri = h.upload("wine", &csv("a,b,CLASS", 30));
    let start = |extra: &[(&str, &str)]| {
        h.exec
            .start(PIPELINE, &definition(), params("wine", &uri, extra), None)
            .unwrap()
    };
    let a = start(&[(p::MAX_TUNING_JOBS, "12")]);
    let b = start(&[(p::MAX_TUNING_JOBS, "12")]);
    let c = start(&[(p::MAX_TUNING_JOBS, "12"), (p::RANDOM_STATE, "7")]);
    let (a_info, a_steps) = h.finish(&a.id);
    let (b_info, b_steps) = h.finish(&b.id);
    let (c_info, c_steps) = h.finish(&c.id);
    for info in [&a_info, &b_info, &c_info] {
        assert_eq!(
            info.status,
            ExecutionStatus::Succeeded,
            "{:?}",
            info.failure_reason
        );
    }
    let (ta, tb, tc) = (trials(&a_steps), trials(&b_steps), trials(&c_steps));
    assert_eq!(ta.len(), 12);
    assert_eq!(ta, tb);
    assert_ne!(
        ta.iter()
            .map(|(_, h)| h.get("C").or(h.get("n-estimators")).cloned())
            .collect::<Vec<_>>(),
        tc.iter()
            .map(|(_, h)| h.get("C").or(h.get("n-estimators")).cloned())
            .collect::<Vec<_>>()
    );
    let best = |s: &[StepInfo]| {
        step(s, p::STEP_TUNING).outputs["BestTrainingJob"]["TrainingJobDefinitionName"].clone()
    };
    assert_eq!(best(&a_steps), best(&b_steps));
    assert_eq!(h.exec.list(Some(PIPELINE)).unwrap().len(), 3);
}

#[test]
fn a_repeated_client_request_token_returns_the_same_execution() {
    let h = harness(2, &[]);
    let uri = h.upload("wine", &csv("a,b,CLASS", 30));
    let token = "0123456789abcdef0123456789abcdef";
    let start = |pipeline: &str| {
        let given = params("wine", &uri, &[]);
        let options = StartOptions {
            client_request_token: Some(token),
            display_name: Some("upload-1"),
            description: Some("wine.csv arrived"),
        };
        h.exec
            .start_with(pipeline, &definition(), given, &options)
            .unwrap()
    };
    let first = start(PIPELINE);
    let again = start(PIPELINE);
    assert_eq!(first.id, again.id);
    assert_eq!(again.client_request_token.as_deref(), Some(token));
    let described = h.exec.describe(&first.id).unwrap();
    assert_eq!(described.display_name.as_deref(), Some("upload-1"));
    assert_eq!(described.description.as_deref(), Some("wine.csv arrived"));
    let other = start("other");
    assert_ne!(other.id, first.id);
    assert_eq!(h.exec.list(Some(PIPELINE)).unwrap().len(), 1);
    let all = h.exec.list(None).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].id, other.id, "newest first");
    h.finish(&first.id);
    h.finish(&other.id);
    let started = h
        .hooks
        .changes
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.1.is_none())
        .count();
    assert_eq!(started, 2);
}

#[test]
fn bad_parameters_are_refused_naming_the_parameter() {
    let h = harness(2, &[]);
    let uri = h.upload("wine", &csv("a,b,CLASS", 30));
    let refused = |extra: &[(&str, &str)], drop: Option<&str>| {
        let mut given = params("wine", &uri, extra);
        if let Some(d) = drop {
            given.remove(d);
        }
        match h.exec.start(PIPELINE, &definition(), given, None) {
            Err(ExecutorError::InvalidParameter { name, reason }) => format!("{name}: {reason}"),
            other => panic!("{other:?}"),
        }
    };
    assert!(refused(&[("Colour", "red")], None)
        .starts_with("Colour: the pipeline has no such parameter"));
    assert!(refused(&[], Some(p::DATASET_NAME)).starts_with("DatasetName: required"));
    assert!(refused(&[(p::MAX_TUNING_JOBS, "many")], None)
        .starts_with("MaxTuningJobs: \"many\" is not an Integer"));
    assert!(refused(&[(p::TEST_SET_SIZE, "a fifth")], None).starts_with("TestSetSize"));
    assert!(refused(&[(p::CROSS_VALIDATION_SCORER, "vibes")], None)
        .starts_with("CrossValidationScorer: \"vibes\" is not one of accuracy"));
    let e = h
        .exec
        .start(PIPELINE, "{\"Steps\": 3}", BTreeMap::new(), None)
        .unwrap_err();
    assert!(matches!(e, ExecutorError::Definition(_)), "{e}");
    assert!(h.exec.list(None).unwrap().is_empty());
    assert!(matches!(
        h.exec.describe("nope"),
        Err(ExecutorError::NotFound(_))
    ));
}

#[test]
fn an_unresolvable_expression_fails_its_step_with_the_reason() {
    let h = harness(2, &[]);
    let definition = serde_json::json!({
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Size", "Type": "Float", "DefaultValue": 0.5}],
        "Steps": [
            {"Name": "Gate", "Type": "Condition", "Arguments": {"Conditions": [
                {"Type": "GreaterThan", "LeftValue": {"Get": "Parameters.Size"}, "RightValue": 0.1}],
                "IfSteps": [{"Name": "Boom", "Type": "Fail", "Arguments": {"ErrorMessage":
                    {"Std:Join": {"On": " ", "Values": ["size", {"Get": "Execution.Nope"}]}}}}],
                "ElseSteps": []}},
        ]
    });
    let info = h
        .exec
        .start("custom", &definition.to_string(), BTreeMap::new(), None)
        .unwrap();
    let (info, steps) = h.finish(&info.id);
    assert_eq!(info.status, ExecutionStatus::Failed);
    assert_eq!(
        info.failure_reason.as_deref(),
        Some("Step Boom failed: Get Execution.Nope: unknown execution property Nope")
    );
    assert_eq!(names(&steps), ["Gate", "Boom"]);
}

#[test]
fn a_stopped_execution_kills_its_jobs_and_ends_stopped() {
    let h = harness(2, &[("FAKE_SLEEP_MS", "30000")]);
    let info = h.start("wine", &[]);
    let running = h.exec.wait(&info.id, Duration::from_millis(300)).unwrap();
    assert_eq!(
        running.status,
        ExecutionStatus::Executing,
        "wait returns at its timeout"
    );
    let started = std::time::Instant::now();
    while !h
        .exec
        .steps(&info.id)
        .unwrap()
        .iter()
        .any(|s| s.name == p::STEP_TUNING)
    {
        assert!(started.elapsed() < WAIT);
        std::thread::sleep(Duration::from_millis(20));
    }
    h.exec.stop(&info.id).unwrap();
    let (info, steps) = h.finish(&info.id);
    assert_eq!(info.status, ExecutionStatus::Stopped);
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the sleeping jobs were killed"
    );
    assert_eq!(step(&steps, p::STEP_TUNING).status, StepStatus::Stopped);
}

/// Not a test of its own: the child process of `a_killed_process_leaves_its_executions_failed`.
#[test]
#[ignore]
fn crash_child() {
    let Ok(dir) = std::env::var("MMP_EXECUTOR_CRASH_DIR") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let exec = Executor::open(
        config(&dir, 2, &[("FAKE_SLEEP_MS", "20000")]),
        Arc::new(Hooks::default()),
    )
    .unwrap();
    let h = Harness {
        dir: tempfile::tempdir().unwrap(),
        hooks: Arc::new(Hooks::default()),
        exec,
    };
    let uri = format!("s3://{BUCKET}/datasets/wine/wine.csv");
    let info = h
        .exec
        .start(PIPELINE, &definition(), params("wine", &uri, &[]), None)
        .unwrap();
    println!("started {}", info.id);
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_killed_process_leaves_its_executions_failed_and_new_ones_run() {
    let h = harness(2, &[]);
    h.upload("wine", &csv("a,b,CLASS", 30));
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MMP_EXECUTOR_CRASH_DIR", h.dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the child's execution is in its tuning step, with jobs running.
    let started = std::time::Instant::now();
    let id = loop {
        assert!(
            started.elapsed() < WAIT,
            "the child never got to its tuning step"
        );
        std::thread::sleep(Duration::from_millis(50));
        let Some(e) = h.exec.list(None).unwrap().into_iter().next() else {
            continue;
        };
        let steps = h.exec.steps(&e.id).unwrap();
        if steps
            .iter()
            .any(|s| s.name == p::STEP_TUNING && !s.jobs.is_empty())
        {
            break e.id;
        }
    };
    // A live process's executions are left alone by another executor opening the database.
    let other = Executor::open(config(h.dir.path(), 2, &[]), Arc::new(Hooks::default())).unwrap();
    assert_eq!(
        other.describe(&id).unwrap().status,
        ExecutionStatus::Executing
    );

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let hooks = Arc::new(Hooks::default());
    let reopened = Executor::open(config(h.dir.path(), 2, &[]), hooks.clone()).unwrap();
    let info = reopened.describe(&id).unwrap();
    assert_eq!(info.status, ExecutionStatus::Failed);
    let reason = info.failure_reason.unwrap();
    assert!(
        reason.starts_with("interrupted: the process running this execution (pid "),
        "{reason}"
    );
    let steps = reopened.steps(&id).unwrap();
    assert!(
        steps
            .iter()
            .all(|s| matches!(s.status, StepStatus::Succeeded | StepStatus::Failed)),
        "{steps:?}"
    );
    assert!(steps
        .iter()
        .flat_map(|s| &s.jobs)
        .all(|j| j.status != JobStatus::InProgress));
    assert_eq!(
        hooks.changes.lock().unwrap().as_slice(),
        [(
            id.clone(),
            Some(ExecutionStatus::Executing),
            ExecutionStatus::Failed
        )]
    );

    let conn = rusqlite::Connection::open(h.dir.path().join("state/mmp.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");

    let uri = format!("s3://{BUCKET}/datasets/wine/wine.csv");
    let next = reopened
        .start(PIPELINE, &definition(), params("wine", &uri, &[]), None)
        .unwrap();
    let done = reopened.wait(&next.id, WAIT).unwrap();
    assert_eq!(
        done.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        done.failure_reason
    );
}

#[test]
fn stop_all_ends_every_running_execution_as_stopped() {
    let h = harness(2, &[("FAKE_SLEEP_MS", "30000")]);
    let a = h.start("wine", &[]);
    let b = h.start("diabetes", &[]);
    let mut stopped = h.exec.stop_all();
    stopped.sort();
    let mut expected = vec![a.id.clone(), b.id.clone()];
    expected.sort();
    assert_eq!(stopped, expected);
    for id in [&a.id, &b.id] {
        let (info, _) = h.finish(id);
        assert_eq!(info.status, ExecutionStatus::Stopped);
    }
    assert!(h.exec.stop_all().is_empty());
}

fn training_step(name: &str) -> Value {
    serde_json::json!({"Name": name, "Type": "Training", "Arguments": {
        "AlgorithmSpecification": {"TrainingImage": "i", "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "val_score", "Regex": mmp_pipeline::contract::METRIC_REGEX}]},
        "HyperParameters": {"algorithm": name, "train-file": "data.csv", "cross-validation": "true"},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": format!("s3://{BUCKET}/datasets/custom/")}}}],
        "OutputDataConfig": {"S3OutputPath": format!("s3://{BUCKET}/out/{name}")},
    }})
}

#[test]
fn independent_steps_run_at_once_and_dependents_wait_for_both() {
    let h = harness(2, &[("FAKE_SLEEP_MS", "700")]);
    h.upload("custom", "a,CLASS\n1,0\n");
    std::fs::rename(
        h.bucket().join("datasets/custom/custom.csv"),
        h.bucket().join("datasets/custom/data.csv"),
    )
    .unwrap();
    let definition = serde_json::json!({"Version": "2020-12-01", "Parameters": [], "Steps": [
        training_step("A"),
        training_step("B"),
        {"Name": "Done", "Type": "Fail", "DependsOn": ["A", "B"], "Arguments": {"ErrorMessage":
            {"Std:Join": {"On": " ", "Values": ["A's model is",
                {"Get": "Steps.A.ModelArtifacts.S3ModelArtifacts"}]}}}},
    ]});
    let info = h
        .exec
        .start("custom", &definition.to_string(), BTreeMap::new(), None)
        .unwrap();
    let (info, steps) = h.finish(&info.id);
    let a_job = &step(&steps, "A").jobs[0];
    assert_eq!(
        info.failure_reason.unwrap(),
        format!(
            "A's model is s3://{BUCKET}/out/A/{}/output/model.tar.gz",
            a_job.name
        )
    );
    let (a, b, done) = (step(&steps, "A"), step(&steps, "B"), step(&steps, "Done"));
    assert!(
        a.started.unwrap() < b.ended.unwrap() && b.started.unwrap() < a.ended.unwrap(),
        "A and B overlapped"
    );
    assert!(done.started.unwrap() >= a.ended.unwrap().max(b.ended.unwrap()));
    assert_eq!(
        a.outputs["FinalMetricDataList"][0]["MetricName"],
        "val_score"
    );
}

/// A job printing one metric value per epoch (per fold, for mmp-container): the final
/// metric is the last, as SageMaker keeps the latest value it scrapes.
#[test]
fn a_job_printing_a_value_per_epoch_reports_the_last() {
    let h = harness(1, &[("FAKE_EPOCH_MS", "50")]);
    h.upload("custom", "a,CLASS\n1,0\n");
    std::fs::rename(
        h.bucket().join("datasets/custom/custom.csv"),
        h.bucket().join("datasets/custom/data.csv"),
    )
    .unwrap();
    let mut train = training_step("A");
    train["Arguments"]["HyperParameters"]["n-epochs"] = "3".into();
    let definition =
        serde_json::json!({"Version": "2020-12-01", "Parameters": [], "Steps": [train]});
    let info = h
        .exec
        .start("custom", &definition.to_string(), BTreeMap::new(), None)
        .unwrap();
    let (info, steps) = h.finish(&info.id);
    assert_eq!(info.status, ExecutionStatus::Succeeded, "{info:?}");
    let a = step(&steps, "A");
    let log = std::fs::read_to_string(&a.jobs[0].log_path).unwrap();
    let re = regex::Regex::new(mmp_pipeline::contract::METRIC_REGEX).unwrap();
    let values: Vec<f64> = re
        .captures_iter(&log)
        .map(|c| c[1].parse().unwrap())
        .collect();
    assert_eq!(values.len(), 3, "{log}");
    assert!(
        values[0] <= values[1] && values[1] <= values[2],
        "{values:?}"
    );
    assert_eq!(a.outputs["FinalMetricDataList"][0]["Value"], values[2]);
}

#[test]
fn a_failed_execution_retried_once_its_cause_is_fixed_succeeds_keeping_its_succeeded_steps() {
    let every_algorithm = Algorithm::known().replace(", ", ",");
    let h = harness(3, &[("FAKE_FAIL_ALGORITHMS", &every_algorithm)]);
    let info = h.start("wine", &[]);
    let (failed, steps) = h.finish(&info.id);
    assert_eq!(failed.status, ExecutionStatus::Failed);
    let preprocess = step(&steps, p::STEP_PREPROCESS).clone();
    assert_eq!(preprocess.status, StepStatus::Succeeded);
    assert_eq!(step(&steps, p::STEP_TUNING).status, StepStatus::Failed);

    // The cause fixed: the same state, now run by an executor whose trials succeed.
    let hooks = Arc::new(Hooks::default());
    let fixed = Executor::open(config(h.dir.path(), 3, &[]), hooks.clone()).unwrap();
    let retried = fixed.retry(&failed.arn).unwrap();
    assert_eq!(
        (retried.id.as_str(), retried.arn.as_str(), retried.status),
        (
            info.id.as_str(),
            info.arn.as_str(),
            ExecutionStatus::Executing
        )
    );
    assert_eq!(retried.failure_reason, None);
    let ended = fixed.wait(&info.id, WAIT).unwrap();
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    let steps = fixed.steps(&info.id).unwrap();
    assert_eq!(
        step(&steps, p::STEP_PREPROCESS),
        &preprocess,
        "the succeeded step is kept, not run again"
    );
    assert_eq!(step(&steps, p::STEP_TUNING).status, StepStatus::Succeeded);
    assert_eq!(step(&steps, p::STEP_REGISTER).status, StepStatus::Succeeded);
    assert_eq!(hooks.registered.lock().unwrap().len(), 1);
    let changes = hooks.changes.lock().unwrap().clone();
    assert_eq!(
        changes.first(),
        Some(&(
            info.id.clone(),
            Some(ExecutionStatus::Failed),
            ExecutionStatus::Executing
        ))
    );
    assert_eq!(
        changes.last().map(|c| c.2),
        Some(ExecutionStatus::Succeeded)
    );

    let refused = fixed.retry(&info.id).unwrap_err();
    assert!(
        matches!(&refused, ExecutorError::NotRetryable { status, .. } if status == "Succeeded"),
        "{refused}"
    );
    assert!(refused
        .to_string()
        .contains("only a Failed or Stopped execution can be retried"));
}

#[test]
fn a_running_execution_is_not_retried_and_a_stopped_one_resumes() {
    let h = harness(2, &[("FAKE_SLEEP_MS", "30000")]);
    let info = h.start("wine", &[]);
    let started = std::time::Instant::now();
    while !h
        .exec
        .steps(&info.id)
        .unwrap()
        .iter()
        .any(|s| s.name == p::STEP_TUNING)
    {
        assert!(started.elapsed() < WAIT);
        std::thread::sleep(Duration::from_millis(20));
    }
    let refused = h.exec.retry(&info.id).unwrap_err();
    assert!(
        matches!(&refused, ExecutorError::NotRetryable { status, .. } if status == "Executing"),
        "{refused}"
    );
    h.exec.stop(&info.id).unwrap();
    let (stopped, _) = h.finish(&info.id);
    assert_eq!(stopped.status, ExecutionStatus::Stopped);

    let resumed = Executor::open(config(h.dir.path(), 2, &[]), Arc::new(Hooks::default())).unwrap();
    resumed.retry(&info.id).unwrap();
    let ended = resumed.wait(&info.id, WAIT).unwrap();
    assert_eq!(ended.status, ExecutionStatus::Succeeded, "{ended:?}");
    let steps = resumed.steps(&info.id).unwrap();
    assert_eq!(step(&steps, p::STEP_TUNING).status, StepStatus::Succeeded);
    assert!(step(&steps, p::STEP_TUNING)
        .jobs
        .iter()
        .all(|j| j.status == JobStatus::Completed));
}

#[test]
fn a_retry_the_moment_the_stop_shows_can_itself_be_stopped() {
    // The ended run's thread still drops its job folders and leaves the live set after its
    // status shows; a retry in that window must not lose its own stop flag to it.
    let h = harness(2, &[("FAKE_SLEEP_MS", "30000")]);
    let info = h.start("wine", &[]);
    for round in 0..5 {
        let started = std::time::Instant::now();
        h.exec.stop(&info.id).unwrap();
        while !h.exec.describe(&info.id).unwrap().status.is_terminal() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "round {round}: never stopped"
            );
            h.exec.stop(&info.id).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        h.exec.retry(&info.id).unwrap();
        // Whatever the ended run's thread had left to do is done by now.
        std::thread::sleep(Duration::from_millis(200));
    }
    h.exec.stop(&info.id).unwrap();
    let (ended, _) = h.finish(&info.id);
    assert_eq!(ended.status, ExecutionStatus::Stopped);
}

#[test]
fn retrying_an_unknown_execution_is_not_found() {
    let h = harness(1, &[]);
    assert!(matches!(
        h.exec.retry("nosuchexecut"),
        Err(ExecutorError::NotFound(_))
    ));
}

#[test]
fn bayesian_trials_depend_on_the_seed_not_on_how_many_run_at_once() {
    let bayesian = |workers: usize, seed: &str| {
        let h = harness(workers, &[]);
        let info = h.start(
            "wine",
            &[
                (p::TUNING_STRATEGY, "Bayesian"),
                (p::MAX_TUNING_JOBS, "14"),
                (p::MAX_TUNING_PARALLEL_JOBS, "3"),
                (p::RANDOM_STATE, seed),
            ],
        );
        let (info, steps) = h.finish(&info.id);
        assert_eq!(info.status, ExecutionStatus::Succeeded, "{info:?}");
        trials(&steps)
    };
    let one_at_a_time = bayesian(1, "5");
    assert_eq!(one_at_a_time.len(), 14);
    let distinct: std::collections::BTreeSet<_> = one_at_a_time.iter().collect();
    assert_eq!(distinct.len(), 14, "no configuration twice");
    assert_eq!(one_at_a_time, bayesian(4, "5"), "timing does not matter");
    assert_ne!(one_at_a_time, bayesian(4, "6"), "the seed does");
}

#[test]
fn completion_criteria_end_the_search_before_its_budget() {
    let h = harness(2, &[]);
    let not_improving = h.start(
        "wine",
        &[
            (p::MAX_TUNING_JOBS, "40"),
            (p::TUNING_MAX_TRIALS_NOT_IMPROVING, "3"),
        ],
    );
    let target = h.start(
        "iris",
        &[
            (p::MAX_TUNING_JOBS, "40"),
            (p::TUNING_TARGET_OBJECTIVE, "0"),
        ],
    );
    for (id, reason) in [
        (&not_improving.id, "BestObjectiveNotImproving"),
        (&target.id, "TargetObjectiveMetricValue reached"),
    ] {
        let (info, steps) = h.finish(id);
        assert_eq!(info.status, ExecutionStatus::Succeeded, "{info:?}");
        let tuning = step(&steps, p::STEP_TUNING);
        assert!(
            tuning.jobs.len() < 40,
            "{reason}: {} trials",
            tuning.jobs.len()
        );
        assert_eq!(
            tuning.outputs["TuningJobCompletionDetails"]["Reason"], reason,
            "{}",
            tuning.outputs
        );
    }
}

/// The real definition with its tuning step's arguments changed by `edit`.
fn with_tuning_arguments(edit: impl FnOnce(&mut Value)) -> String {
    let mut definition: Value = serde_json::from_str(&definition()).unwrap();
    let steps = definition["Steps"].as_array_mut().unwrap();
    let tuning = steps
        .iter_mut()
        .find(|s| s["Name"] == p::STEP_TUNING)
        .unwrap();
    edit(&mut tuning["Arguments"]);
    definition.to_string()
}

/// The real definition with its tuning job's early stopping set to `Auto`, over its first
/// `families` training job definitions only.
fn auto_early_stopping_definition(families: usize) -> String {
    with_tuning_arguments(|arguments| {
        arguments["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Auto".into();
        arguments["TrainingJobDefinitions"]
            .as_array_mut()
            .unwrap()
            .truncate(families);
    })
}

#[test]
fn early_stopping_auto_or_warm_start_over_several_algorithms_is_refused_as_sagemaker_does() {
    let h = harness(1, &[]);
    let info = h.start_definition(&auto_early_stopping_definition(2), "wine", &[]);
    let (info, steps) = h.finish(&info.id);
    assert_eq!(info.status, ExecutionStatus::Failed);
    let reason = step(&steps, p::STEP_TUNING).failure_reason.clone().unwrap();
    assert!(
        reason.contains("TrainingJobEarlyStoppingType Auto")
            && reason.contains("one algorithm")
            && reason.contains("has 2 training job definitions"),
        "{reason}"
    );
    // A warm start over the real definition's six families: refused the same way.
    let definition = with_tuning_arguments(|arguments| {
        arguments["WarmStartConfig"] = serde_json::json!({
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "earlier"}],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        });
    });
    let info = h.start_definition(&definition, "wine", &[]);
    let (info, steps) = h.finish(&info.id);
    assert_eq!(info.status, ExecutionStatus::Failed);
    let reason = step(&steps, p::STEP_TUNING).failure_reason.clone().unwrap();
    assert!(
        reason.contains("WarmStartConfig") && reason.contains("one algorithm"),
        "{reason}"
    );
}

#[test]
fn early_stopping_auto_stops_trials_that_trail_the_median() {
    // The executor looks at a running trial's log every 100 ms: epochs 120 ms apart.
    let h = harness(1, &[("FAKE_EPOCH_MS", "120")]);
    let info = h.start_definition(
        &auto_early_stopping_definition(1),
        "wine",
        &[(p::MAX_TUNING_JOBS, "10")],
    );
    let (info, steps) = h.finish(&info.id);
    assert_eq!(info.status, ExecutionStatus::Succeeded, "{info:?}");
    let tuning = step(&steps, p::STEP_TUNING);
    let stopped: Vec<_> = tuning
        .jobs
        .iter()
        .filter(|j| j.status == JobStatus::Stopped)
        .collect();
    assert!(!stopped.is_empty(), "some trial trails the median");
    assert!(
        stopped.iter().all(|j| j.objective.is_some()),
        "a stopped trial keeps its last value"
    );
    assert_eq!(
        tuning.outputs["TrainingJobStatusCounters"]["Stopped"],
        stopped.len()
    );
    let best = tuning.outputs["BestTrainingJob"]["TrainingJobName"]
        .as_str()
        .unwrap();
    let best_job = tuning.jobs.iter().find(|j| j.name == best).unwrap();
    assert_eq!(
        best_job.status,
        JobStatus::Completed,
        "the best ran to its end"
    );
}
