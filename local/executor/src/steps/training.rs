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
}

pub(crate) struct TrainingResult {
    pub job_name: String,
    pub artifact_uri: String,
    pub metrics: Vec<(String, f64)>,
    pub objective: Option<f64>,
}

/// Lays out `/opt/ml` for training, runs `mmp-container train`, archives `model/` to
/// `<output path>/<job name>/output/model.tar.gz`.
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
        match job.exec(&[contract::CMD_TRAIN.to_string()], spec.max_runtime) {
            JobEnd::Completed => {}
            other => return Err(other),
        }
        let log = fs::read_to_string(jobs::log_path(&job.dir)).unwrap_or_default();
        metrics = jobs::scrape_metrics(&log, spec.metric_definitions);
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
        store
            .put_tar_gz(&artifact_uri, &job.dir.join(contract::MODEL_DIR))
            .map_err(client_error)?;
        Ok(objective)
    })();
    let objective = job.end(outcome)?;
    Ok(TrainingResult {
        job_name: job.name,
        artifact_uri,
        metrics,
        objective,
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
