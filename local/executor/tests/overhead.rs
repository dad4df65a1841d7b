//! Benchmark (not run by default): what the executor adds to the trials it runs.
//!
//! `cargo test -p mmp-executor --all-features --release --test overhead -- --ignored --nocapture`
//!
//! Side by side in one run: the tuning step of the real definition (60 trials, as by default)
//! with the no-ML `fake-container`, then the very same trials run again as bare processes in
//! the job folders the executor laid out, on as many lanes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of a benchmark

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mmp_executor::{
    ExecutionInfo, ExecutionStatus, Executor, ExecutorConfig, ExecutorHooks, RegisterError,
};
use mmp_pipeline::definition::{render, Placeholders};
use mmp_pipeline::parameters as p;
use serde_json::Value;

struct NoHooks;

impl ExecutorHooks for NoHooks {
    fn register_model(&self, _: &ExecutionInfo, _: &Value) -> Result<String, RegisterError> {
        Ok("arn:aws:sagemaker:us-east-1:000000000000:model-package/g/1".into())
    }
    fn execution_status_changed(&self, _: &ExecutionInfo, _: Option<ExecutionStatus>) {}
}

const LANES: usize = 2;
const RUNS: usize = 5;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fake-container"))
}

/// Wall time of running `fake-container train` again in each of `job_dirs` (already laid out
/// by the executor) on `LANES` threads: the trials' own work, without the executor.
fn bare_trials(job_dirs: &[PathBuf]) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for lane in 0..LANES {
            s.spawn(move || {
                for dir in job_dirs.iter().skip(lane).step_by(LANES) {
                    let out = std::process::Command::new(bin())
                        .arg("train")
                        .env("MMP_ML_ROOT", dir)
                        .current_dir(dir)
                        .output()
                        .unwrap();
                    assert!(out.status.success());
                }
            });
        }
    });
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
#[ignore]
fn executor_overhead() {
    let dir = tempfile::tempdir().unwrap();
    let exec = Executor::open(
        ExecutorConfig {
            db_path: dir.path().join("mmp.db"),
            bucket_root: dir.path().join("bucket"),
            bucket_name: "bench".into(),
            jobs_root: dir.path().join("jobs"),
            container_bin: bin(),
            max_parallel_jobs: LANES,
            ..ExecutorConfig::default()
        },
        Arc::new(NoHooks),
    )
    .unwrap();
    let key = "datasets/breast-cancer/breast-cancer.csv";
    let csv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(&key[9..]);
    std::fs::create_dir_all(dir.path().join("bucket/datasets/breast-cancer")).unwrap();
    std::fs::copy(csv, dir.path().join("bucket").join(key)).unwrap();
    let definition = render(&Placeholders {
        image_uri: "i",
        role_arn: "r",
        bucket: "bench",
        pipeline_name: "bench",
    });
    let parameters = BTreeMap::from([
        (p::DATASET_NAME.to_string(), "breast-cancer".to_string()),
        (p::INPUT_DATA_URI.to_string(), format!("s3://bench/{key}")),
    ]);
    let mut tuning = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..RUNS {
        let info = exec
            .start("bench", &definition, parameters.clone(), None)
            .unwrap();
        let info = exec.wait(&info.id, Duration::from_secs(600)).unwrap();
        assert_eq!(
            info.status,
            ExecutionStatus::Succeeded,
            "{:?}",
            info.failure_reason
        );
        let steps = exec.steps(&info.id).unwrap();
        let step = steps.iter().find(|s| s.name == p::STEP_TUNING).unwrap();
        tuning.push(
            step.ended
                .unwrap()
                .duration_since(step.started.unwrap())
                .unwrap(),
        );
        let trial_dirs: Vec<PathBuf> = step.jobs.iter().map(|j| j.job_dir.clone()).collect();
        assert_eq!(trial_dirs.len(), 60);
        bare.push(bare_trials(&trial_dirs));
    }
    let (e, b) = (median(tuning), median(bare));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("60 trials on {LANES} lanes, median of {RUNS} runs, alternating");
    println!("tuning step, executor:           {:.0} ms", ms(e));
    println!("the same trials, bare processes: {:.0} ms", ms(b));
    println!(
        "executor overhead per trial: {:.2} ms of lane time; ratio {:.2}",
        (ms(e) - ms(b)) * LANES as f64 / 60.0,
        e.as_secs_f64() / b.as_secs_f64()
    );
}
