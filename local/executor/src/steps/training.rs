//! Training jobs: the Training step's one job, and every tuning trial.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use mmp_pipeline::contract;
use serde_json::{json, Value};

use super::arguments::{self, Channel, MetricDefinition, Text, TrainingJob, TrainingStep};
use super::{bad_arguments, client_error, resolved_arguments, Job};
use crate::definition::StepDef;
use crate::execution::{Run, StepEnd};
use crate::jobs::{self, JobEnd};

pub(crate) struct TrainingSpec<'a> {
    pub step: &'a str,
    pub job_name: String,
    pub definition_name: Option<&'a str>,
    pub hyperparameters: BTreeMap<String, String>,
    /// (channel name, S3 URI)
    pub channels: Vec<(String, String)>,
    pub output_path: String,
    pub metric_definitions: &'a [(String, regex::Regex)],
    /// Tuning trials: the metric whose final value is the objective (missing → failed trial).
    pub objective_metric: Option<&'a str>,
    pub max_runtime: Option<Duration>,
    /// Tuning trials under Hyperband: given every value of the objective metric so far (each
    /// regex match in the log, in order), `true` stops the job now. Asked once per new value
    /// while the job runs.
    pub early_stop: Option<jobs::StopNow<'a>>,
}

pub(crate) struct TrainingResult {
    pub job_name: String,
    /// Where the model archive is, or would be: an early-stopped job uploads none.
    pub artifact_uri: String,
    pub metrics: Vec<(String, f64)>,
    pub objective: Option<f64>,
    /// Every value of the objective metric in the log, in order (intermediate ones first).
    pub objective_values: Vec<f64>,
    /// `early_stop` stopped the job: its status is `Stopped`, its objective the last value
    /// it printed, and it has no model archive.
    pub early_stopped: bool,
}

/// Lays out `/opt/ml` for training, runs `mmp-container train`, archives `model/` to
/// `<output path>/<job name>/output/model.tar.gz`. A job `early_stop` stops ends `Stopped`
/// with the objective's last value and no archive, and is a result, not a step's end.
pub(crate) fn run_training_job(run: &Run, spec: TrainingSpec) -> Result<TrainingResult, StepEnd> {
    let job = Job::start(
        run,
        spec.step,
        spec.job_name,
        spec.definition_name,
        Some(&spec.hyperparameters),
    )
    .map_err(StepEnd::Failed)?;
    let store = &run.inner.store;
    let artifact_uri = format!(
        "{}/{}/output/{}",
        spec.output_path.trim_end_matches('/'),
        job.name,
        contract::MODEL_ARCHIVE
    );
    let mut metrics = Vec::new();
    let mut objective_values = Vec::new();
    let mut early_stopped = false;
    let outcome = (|| -> Result<Option<f64>, JobEnd> {
        // Only what the contract reads: SageMaker's inputdataconfig.json and
        // resourceconfig.json would cost two more files per trial and nobody reads them.
        let hyperparameters = job.dir.join(contract::HYPERPARAMETERS_FILE);
        if let Some(dir) = hyperparameters.parent() {
            fs::create_dir_all(dir).map_err(client_error)?;
        }
        fs::write(&hyperparameters, json!(spec.hyperparameters).to_string())
            .map_err(client_error)?;
        for (channel, uri) in &spec.channels {
            let dest = job.dir.join(contract::CHANNELS_DIR).join(channel);
            fs::create_dir_all(&dest).map_err(client_error)?;
            store
                .download_prefix(uri, &dest)
                .map_err(|e| client_error(format!("channel {channel}: {e}")))?;
        }
        fs::create_dir_all(job.dir.join(contract::MODEL_DIR)).map_err(client_error)?;
        let objective_regex = spec.objective_metric.and_then(|name| {
            spec.metric_definitions
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, re)| re)
        });
        let watch = match (spec.early_stop, objective_regex) {
            (Some(stop_now), Some(regex)) => Some(jobs::Watch { regex, stop_now }),
            _ => None,
        };
        let args = [contract::CMD_TRAIN.to_string()];
        match job.exec_watched(&args, spec.max_runtime, watch) {
            JobEnd::Completed => {}
            JobEnd::EarlyStopped => early_stopped = true,
            other => return Err(other),
        }
        let log = fs::read_to_string(jobs::log_path(&job.dir)).unwrap_or_default();
        metrics = jobs::scrape_metrics(&log, spec.metric_definitions);
        if let Some(regex) = objective_regex {
            objective_values = jobs::metric_values(&log, regex);
        }
        let objective = match spec.objective_metric {
            None => None,
            Some(name) => Some(
                metrics
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| {
                        client_error(format!(
                            "the objective metric {name} was not found in the job's log"
                        ))
                    })?,
            ),
        };
        if !early_stopped {
            store
                .put_tar_gz(&artifact_uri, &job.dir.join(contract::MODEL_DIR))
                .map_err(client_error)?;
        }
        Ok(objective)
    })();
    let objective = match outcome {
        Ok(objective) if early_stopped => job.end_stopped_early(objective),
        outcome => job.end(outcome)?,
    };
    Ok(TrainingResult {
        job_name: job.name,
        artifact_uri,
        metrics,
        objective,
        objective_values,
        early_stopped,
    })
}

/// The channels of `InputDataConfig`: (name, S3 URI); only S3Prefix inputs run locally.
pub(crate) fn channels(job: &TrainingJob) -> Result<Vec<(String, String)>, String> {
    let channel = |c: &Channel| {
        let s3 = &c.data_source.s3;
        match s3.data_type.as_ref().filter(|t| t.0 != "S3Prefix") {
            Some(Text(t)) => Err(format!(
                "channel {}: S3DataType {t} is not supported locally (only S3Prefix)",
                c.channel_name
            )),
            None => Ok((c.channel_name.clone(), s3.uri.clone())),
        }
    };
    job.input_data_config.iter().map(channel).collect()
}

/// `AlgorithmSpecification.MetricDefinitions` as compiled regexes.
pub(crate) fn metric_definitions(job: &TrainingJob) -> Result<Vec<(String, regex::Regex)>, String> {
    let compile = |m: &MetricDefinition| {
        regex::Regex::new(&m.regex)
            .map(|re| (m.name.clone(), re))
            .map_err(|e| format!("metric {}: bad Regex: {e}", m.name))
    };
    job.algorithm_specification
        .metric_definitions
        .iter()
        .map(compile)
        .collect()
}

/// SageMaker's string hyperparameters from their resolved values.
pub(crate) fn texts(values: Option<BTreeMap<String, Text>>) -> BTreeMap<String, String> {
    values
        .unwrap_or_default()
        .into_iter()
        .map(|(k, Text(v))| (k, v))
        .collect()
}

pub(super) fn training_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let parsed: TrainingStep = arguments::parse(&args).map_err(bad_arguments)?;
    let hyperparameters = texts(parsed.hyper_parameters);
    let channels = channels(&parsed.job).map_err(bad_arguments)?;
    let metric_definitions = metric_definitions(&parsed.job).map_err(bad_arguments)?;
    let output_path = parsed.job.output_data_config.s3_output_path.clone();
    let result = run_training_job(
        run,
        TrainingSpec {
            step: &step.name,
            job_name: run.job_name(&step.name, None),
            definition_name: None,
            hyperparameters: hyperparameters.clone(),
            channels,
            output_path: output_path.clone(),
            metric_definitions: &metric_definitions,
            objective_metric: None,
            max_runtime: parsed.job.stopping_condition.max_runtime(),
            early_stop: None,
        },
    )?;
    let metric_list: Vec<Value> = result
        .metrics
        .iter()
        .map(|(n, v)| json!({"MetricName": n, "Value": v}))
        .collect();
    Ok(json!({
        "TrainingJobName": result.job_name,
        "TrainingJobArn": run.arn("training-job", &result.job_name),
        "TrainingJobStatus": "Completed",
        "HyperParameters": hyperparameters,
        "OutputDataConfig": {"S3OutputPath": output_path},
        "ModelArtifacts": {"S3ModelArtifacts": result.artifact_uri},
        "FinalMetricDataList": metric_list,
    }))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    use super::*;
    use crate::db::NewExecution;
    use crate::definition::Pipeline;
    use crate::model::{ExecutionInfo, ExecutionStatus, JobStatus};
    use crate::{Executor, ExecutorConfig, ExecutorHooks, RegisterError};

    struct NoHooks;

    impl ExecutorHooks for NoHooks {
        fn register_model(&self, _: &ExecutionInfo, _: &Value) -> Result<String, RegisterError> {
            Err("no registry in this test".into())
        }

        fn execution_status_changed(&self, _: &ExecutionInfo, _: Option<ExecutionStatus>) {}
    }

    /// An execution of an empty pipeline whose jobs run `container`, with a Tune step begun.
    fn run_with(dir: &Path, container: PathBuf) -> Run {
        let config = ExecutorConfig {
            db_path: dir.join("mmp.db"),
            bucket_root: dir.join("bucket"),
            bucket_name: "b".into(),
            jobs_root: dir.join("jobs"),
            container_bin: container,
            max_parallel_jobs: 1,
            memory_budget: 1 << 30,
            ..ExecutorConfig::default()
        };
        let inner = Executor::open(config, Arc::new(NoHooks)).unwrap().inner;
        let definition = r#"{"Version": "2020-12-01", "Steps": []}"#;
        let (info, _) = inner
            .db
            .insert_execution(&NewExecution {
                id: "abcdef123456",
                arn: "arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/abcdef123456",
                pipeline_name: "p",
                parameters: &BTreeMap::new(),
                definition,
                client_request_token: None,
                display_name: None,
                description: None,
                owner: &inner.owner,
                created: SystemTime::now(),
            })
            .unwrap();
        inner.db.start_step(&info.id, "Tune", "Tuning").unwrap();
        let pipeline = Pipeline::parse(definition).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        Run::new(
            inner,
            info,
            pipeline,
            BTreeMap::new(),
            stop,
            BTreeMap::new(),
        )
    }

    #[test]
    fn a_trial_stopped_early_is_stopped_with_its_last_value_and_no_archive() {
        let dir = tempfile::tempdir().unwrap();
        let container = dir.path().join("container.sh");
        // The first run sleeps long after 0.4, so that it is killed there whenever the watch
        // looks; later runs go on to 0.2.
        let once = dir.path().join("ran-once");
        fs::write(
            &container,
            format!(
                "#!/bin/sh\necho 'mmp-val-score: 0.5'; sleep 0.1; echo 'mmp-val-score: 0.4'\n\
                 if [ ! -e '{once}' ]; then touch '{once}'; exec sleep 60; fi\n\
                 echo 'mmp-val-score: 0.3'; echo 'mmp-val-score: 0.2'\n",
                once = once.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&container, fs::Permissions::from_mode(0o755)).unwrap();
        let run = run_with(dir.path(), container);
        let definitions = [(
            contract::METRIC_NAME.to_string(),
            regex::Regex::new(contract::METRIC_REGEX).unwrap(),
        )];
        let spec = |name: &str, early_stop| TrainingSpec {
            step: "Tune",
            job_name: name.to_string(),
            definition_name: Some("d"),
            hyperparameters: BTreeMap::new(),
            channels: vec![],
            output_path: "s3://b/out".into(),
            metric_definitions: &definitions,
            objective_metric: Some(contract::METRIC_NAME),
            max_runtime: None,
            early_stop,
        };
        let asked = Mutex::new(Vec::new());
        let worse = |values: &[f64]| {
            asked.lock().unwrap().push(values.len());
            values.last() < values.first()
        };
        let stopped = run_training_job(&run, spec("t1", Some(&worse))).unwrap();
        assert!(stopped.early_stopped);
        assert_eq!(stopped.objective, Some(0.4));
        assert_eq!(stopped.metrics, [(contract::METRIC_NAME.to_string(), 0.4)]);
        assert_eq!(*asked.lock().unwrap(), [1, 2]);
        let archive = |job: &str| {
            dir.path()
                .join(format!("bucket/out/{job}/output/model.tar.gz"))
        };
        assert!(!archive("t1").exists());
        // A watch that lets it run: completed, archived, the final value.
        let never = |_: &[f64]| false;
        let completed = run_training_job(&run, spec("t2", Some(&never))).unwrap();
        assert!(!completed.early_stopped);
        assert_eq!(completed.objective, Some(0.2));
        assert!(archive("t2").is_file());
        // The trial is Stopped with its objective; the execution is not stopped.
        assert!(!run.stopped());
        let steps = run.inner.db.steps(&run.info.id).unwrap();
        let jobs: Vec<(JobStatus, Option<f64>)> = steps[0]
            .jobs
            .iter()
            .map(|j| (j.status, j.objective))
            .collect();
        assert_eq!(
            jobs,
            [
                (JobStatus::Stopped, Some(0.4)),
                (JobStatus::Completed, Some(0.2))
            ]
        );
    }
}
