//! Training jobs: the Training step's one job, and every tuning trial.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use mmp_pipeline::contract;
use serde_json::{json, Value};

use super::{bad_arguments, client_error, max_runtime, resolved_arguments, str_field, Job};
use crate::definition::StepDef;
use crate::execution::{Run, StepEnd};
use crate::expr::{string_map, text};
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

/// The channels of `InputDataConfig`: (name, S3 URI).
pub(crate) fn channels(args: &Value) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for c in args
        .get("InputDataConfig")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = str_field(c, "/ChannelName", "a channel's ChannelName")?;
        let uri = str_field(
            c,
            "/DataSource/S3DataSource/S3Uri",
            &format!("channel {name}: S3Uri"),
        )?;
        let data_type = c.pointer("/DataSource/S3DataSource/S3DataType").map(text);
        if let Some(t) = data_type.filter(|t| t != "S3Prefix") {
            return Err(format!(
                "channel {name}: S3DataType {t} is not supported locally (only S3Prefix)"
            ));
        }
        out.push((name.to_string(), uri.to_string()));
    }
    Ok(out)
}

/// `AlgorithmSpecification.MetricDefinitions` as compiled regexes.
pub(crate) fn metric_definitions(args: &Value) -> Result<Vec<(String, regex::Regex)>, String> {
    let mut out = Vec::new();
    for m in args
        .pointer("/AlgorithmSpecification/MetricDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = str_field(m, "/Name", "a metric definition's Name")?;
        let pattern = str_field(m, "/Regex", &format!("metric {name}: Regex"))?;
        let re =
            regex::Regex::new(pattern).map_err(|e| format!("metric {name}: bad Regex: {e}"))?;
        out.push((name.to_string(), re));
    }
    Ok(out)
}

pub(crate) fn output_path(args: &Value) -> Result<String, String> {
    str_field(
        args,
        "/OutputDataConfig/S3OutputPath",
        "OutputDataConfig.S3OutputPath",
    )
    .map(str::to_string)
}

pub(super) fn training_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let hyperparameters = string_map(
        args.get("HyperParameters").unwrap_or(&Value::Null),
        "HyperParameters",
    )
    .map_err(bad_arguments)?;
    let channels = channels(&args).map_err(bad_arguments)?;
    let metric_definitions = metric_definitions(&args).map_err(bad_arguments)?;
    let output_path = output_path(&args).map_err(bad_arguments)?;
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
            max_runtime: max_runtime(&args),
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
