//! What each step type does. Processing and Training steps run one job each; a Tuning step
//! runs many (see `tuning`); Condition, Fail and RegisterModel run none.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use mmp_pipeline::contract;
use serde_json::{json, Value};

use crate::condition;
use crate::db::NewJob;
use crate::definition::{StepDef, StepType};
use crate::expr::{resolve, string_map, text};
use crate::jobs::{self, JobEnd, JobSpec};
use crate::model::JobStatus;
use crate::run::{Run, StepEnd};
use crate::store::tar_gz_dir;
use crate::tuning;

pub(crate) fn run_step(run: &Run, step: &StepDef) -> StepEnd {
    if run.stopped() {
        return StepEnd::Stopped;
    }
    let result = match step.kind {
        StepType::Processing => processing(run, step),
        StepType::Training => training_step(run, step),
        StepType::Tuning => tuning::tuning_step(run, step),
        StepType::Condition => condition_step(run, step),
        StepType::Fail => fail_step(run, step),
        StepType::RegisterModel => register_step(run, step),
    };
    match result {
        Ok(props) => StepEnd::Succeeded(props),
        Err(end) => end,
    }
}

/// The step's arguments with every expression resolved.
pub(crate) fn resolved_arguments(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    resolve(&step.arguments, run).map_err(|e| StepEnd::Failed(e.0))
}

fn failed<T>(msg: impl Into<String>) -> Result<T, StepEnd> {
    Err(StepEnd::Failed(msg.into()))
}

/// The container path `/opt/ml/...` inside a job's folder.
fn reroot(job_dir: &Path, local_path: &str) -> Result<PathBuf, String> {
    let rest = Path::new(local_path)
        .strip_prefix(contract::DEFAULT_ML_ROOT)
        .map_err(|_| {
            format!(
                "LocalPath {local_path} is not under {}",
                contract::DEFAULT_ML_ROOT
            )
        })?;
    if rest
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(format!("LocalPath {local_path} is not a plain path"));
    }
    Ok(job_dir.join(rest))
}

fn max_runtime(args: &Value) -> Option<Duration> {
    args.pointer("/StoppingCondition/MaxRuntimeInSeconds")
        .and_then(|v| v.as_u64().or_else(|| text(v).parse().ok()))
        .map(Duration::from_secs)
}

fn str_field<'v>(v: &'v Value, pointer: &str, what: &str) -> Result<&'v str, String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{what} is missing or not a string"))
}

/// A job being run for a step: its row in the state database from start to end.
pub(crate) struct Job<'a> {
    run: &'a Run,
    pub name: String,
    pub dir: PathBuf,
}

impl<'a> Job<'a> {
    pub fn start(
        run: &'a Run,
        step: &str,
        name: String,
        definition_name: Option<&str>,
        hyperparameters: Option<&BTreeMap<String, String>>,
    ) -> Result<Self, String> {
        let dir = run.job_dir(&name);
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        run.inner
            .db
            .start_job(&NewJob {
                execution_id: &run.info.id,
                step_name: step,
                job_name: &name,
                job_dir: &dir,
                log_path: &jobs::log_path(&dir),
                definition_name,
                hyperparameters,
            })
            .map_err(|e| e.to_string())?;
        Ok(Self { run, name, dir })
    }

    /// Runs the container with `args` in the job's folder.
    pub fn exec(&self, args: &[String], max_runtime: Option<Duration>) -> JobEnd {
        let config = &self.run.inner.config;
        let spec = JobSpec {
            dir: &self.dir,
            program: &config.container_bin,
            args,
            env: &config.job_env,
            max_runtime,
            stop: &self.run.stop,
        };
        jobs::run(&spec, &self.run.inner.slots)
    }

    /// Records the job's end; returns the reason for a failure, `Stopped` for a stop.
    pub fn end(&self, outcome: Result<Option<f64>, JobEnd>) -> Result<Option<f64>, StepEnd> {
        let (status, reason, objective) = match &outcome {
            Ok(objective) => (JobStatus::Completed, None, *objective),
            Err(JobEnd::Stopped) => (JobStatus::Stopped, None, None),
            Err(JobEnd::Failed(r)) => (JobStatus::Failed, Some(r.as_str()), None),
            Err(JobEnd::Completed) => (JobStatus::Completed, None, None),
        };
        if let Err(e) =
            self.run
                .inner
                .db
                .end_job(&self.run.info.id, &self.name, status, reason, objective)
        {
            tracing::error!(job = %self.name, error = %e, "cannot record the job's end");
        }
        match outcome {
            Ok(objective) => Ok(objective),
            Err(JobEnd::Stopped) => Err(StepEnd::Stopped),
            Err(JobEnd::Failed(r)) => {
                Err(StepEnd::Failed(format!("job {} failed: {r}", self.name)))
            }
            Err(JobEnd::Completed) => Ok(None),
        }
    }
}

fn client_error(e: impl std::fmt::Display) -> JobEnd {
    JobEnd::Failed(format!("ClientError: {e}"))
}

fn processing(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let command = container_command(&args).map_err(StepEnd::Failed)?;
    let job = Job::start(run, &step.name, run.job_name(&step.name, None), None, None)
        .map_err(StepEnd::Failed)?;
    let store = &run.inner.store;
    let outputs = args
        .pointer("/ProcessingOutputConfig/Outputs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut output_props = serde_json::Map::new();
    let mut output_dirs = BTreeMap::new();
    let outcome = (|| -> Result<Option<f64>, JobEnd> {
        for input in args
            .get("ProcessingInputs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = input.get("InputName").map(text).unwrap_or_default();
            let uri = str_field(
                input,
                "/S3Input/S3Uri",
                &format!("input {name}: S3Input.S3Uri"),
            )
            .map_err(client_error)?;
            let local = str_field(
                input,
                "/S3Input/LocalPath",
                &format!("input {name}: LocalPath"),
            )
            .map_err(client_error)?;
            let dest = reroot(&job.dir, local).map_err(client_error)?;
            check_input_type(input, &name)?;
            store
                .download_prefix(uri, &dest)
                .map_err(|e| client_error(format!("input {name}: {e}")))?;
        }
        for output in &outputs {
            let name =
                str_field(output, "/OutputName", "an output's OutputName").map_err(client_error)?;
            let uri = str_field(output, "/S3Output/S3Uri", &format!("output {name}: S3Uri"))
                .map_err(client_error)?;
            let local = str_field(
                output,
                "/S3Output/LocalPath",
                &format!("output {name}: LocalPath"),
            )
            .map_err(client_error)?;
            let dir = reroot(&job.dir, local).map_err(client_error)?;
            fs::create_dir_all(&dir).map_err(client_error)?;
            output_dirs.insert(name.to_string(), (dir, uri.to_string()));
            output_props.insert(name.to_string(), output.clone());
        }
        match job.exec(&command, max_runtime(&args)) {
            JobEnd::Completed => {}
            other => return Err(other),
        }
        for (name, (dir, uri)) in &output_dirs {
            store
                .upload_dir(dir, uri)
                .map_err(|e| client_error(format!("output {name}: {e}")))?;
        }
        Ok(None)
    })();
    job.end(outcome)?;
    let mut props = json!({
        "ProcessingJobName": job.name,
        "ProcessingJobArn": run.arn("processing-job", &job.name),
        "ProcessingJobStatus": "Completed",
        "ProcessingOutputConfig": { "Outputs": output_props },
    });
    if !step.property_files.is_empty() {
        let mut files = serde_json::Map::new();
        for pf in &step.property_files {
            let Some((dir, _)) = output_dirs.get(&pf.output_name) else {
                return failed(format!(
                    "property file {}: the step has no output named {}",
                    pf.name, pf.output_name
                ));
            };
            let path = dir.join(&pf.file_path);
            let content = fs::read_to_string(&path)
                .map_err(|e| {
                    format!(
                        "property file {}: cannot read {}: {e}",
                        pf.name, pf.file_path
                    )
                })
                .and_then(|s| {
                    serde_json::from_str::<Value>(&s).map_err(|e| {
                        format!(
                            "property file {}: {} is not JSON: {e}",
                            pf.name, pf.file_path
                        )
                    })
                })
                .map_err(StepEnd::Failed)?;
            files.insert(pf.name.clone(), content);
        }
        props["PropertyFiles"] = Value::Object(files);
    }
    Ok(props)
}

/// `ContainerEntrypoint` (whose program must be mmp-container) without the program, then
/// `ContainerArguments`.
fn container_command(args: &Value) -> Result<Vec<String>, String> {
    let list = |p: &str| -> Vec<String> {
        args.pointer(p)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default()
    };
    let entrypoint = list("/AppSpecification/ContainerEntrypoint");
    let Some(program) = entrypoint.first() else {
        return Err("AppSpecification.ContainerEntrypoint is empty: the local executor runs only mmp-container".into());
    };
    let program_name = Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if program_name != contract::CONTAINER_BINARY {
        return Err(format!(
            "ContainerEntrypoint runs {program}; the local executor runs only {}",
            contract::CONTAINER_BINARY
        ));
    }
    let mut command: Vec<String> = entrypoint[1..].to_vec();
    command.extend(list("/AppSpecification/ContainerArguments"));
    Ok(command)
}

/// A training job's resolved inputs.
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
        let config_dir = job.dir.join(contract::HYPERPARAMETERS_FILE);
        let config_dir = config_dir.parent().unwrap_or(&job.dir);
        fs::create_dir_all(config_dir).map_err(client_error)?;
        let write_json = |name: &str, v: &Value| {
            fs::write(config_dir.join(name), v.to_string()).map_err(client_error)
        };
        write_json("hyperparameters.json", &json!(spec.hyperparameters))?;
        let channel_config: serde_json::Map<String, Value> = spec
            .channels
            .iter()
            .map(|(c, _)| {
                (c.clone(), json!({"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}))
            })
            .collect();
        write_json("inputdataconfig.json", &Value::Object(channel_config))?;
        write_json(
            "resourceconfig.json",
            &json!({"current_host": "algo-1", "hosts": ["algo-1"]}),
        )?;
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
        // Beside the ML root's folders, so the container never sees it.
        let archive = job.dir.join(contract::MODEL_ARCHIVE);
        tar_gz_dir(&job.dir.join(contract::MODEL_DIR), &archive).map_err(client_error)?;
        store
            .put_file_uri(&artifact_uri, &archive)
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

/// Only uncompressed S3Prefix inputs are run locally.
fn check_input_type(input: &Value, name: &str) -> Result<(), JobEnd> {
    let field = |k: &str| input.pointer(&format!("/S3Input/{k}")).map(text);
    if let Some(t) = field("S3DataType").filter(|t| t != "S3Prefix") {
        return Err(client_error(format!(
            "input {name}: S3DataType {t} is not supported locally (only S3Prefix)"
        )));
    }
    if let Some(c) = field("S3CompressionType").filter(|c| c != "None") {
        return Err(client_error(format!(
            "input {name}: S3CompressionType {c} is not supported locally"
        )));
    }
    Ok(())
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

fn training_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let hyperparameters = string_map(
        args.get("HyperParameters").unwrap_or(&Value::Null),
        "HyperParameters",
    )
    .map_err(StepEnd::Failed)?;
    let channels = channels(&args).map_err(StepEnd::Failed)?;
    let metric_definitions = metric_definitions(&args).map_err(StepEnd::Failed)?;
    let output_path = output_path(&args).map_err(StepEnd::Failed)?;
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

fn condition_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let outcome = condition::all_hold(args.get("Conditions").unwrap_or(&Value::Null))
        .map_err(StepEnd::Failed)?;
    Ok(json!({ "Outcome": outcome }))
}

fn fail_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let message = args.get("ErrorMessage").map(text).unwrap_or_default();
    Err(StepEnd::FailStep(message))
}

fn register_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    match run.inner.hooks.register_model(&run.info, &args) {
        Ok(arn) => Ok(json!({ "ModelPackageArn": arn })),
        Err(reason) => failed(format!("registering the model failed: {reason}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reroots_container_paths() {
        let dir = Path::new("/jobs/j");
        assert_eq!(
            reroot(dir, "/opt/ml/processing/train").unwrap(),
            dir.join("processing/train")
        );
        assert!(reroot(dir, "/tmp/x")
            .unwrap_err()
            .contains("not under /opt/ml"));
        assert!(reroot(dir, "/opt/ml/../etc").is_err());
    }

    #[test]
    fn builds_the_container_command() {
        let args = json!({"AppSpecification": {"ContainerEntrypoint": ["mmp-container", "preprocess"],
            "ContainerArguments": ["--random-state", 42, "--x", "y"]}});
        assert_eq!(
            container_command(&args).unwrap(),
            ["preprocess", "--random-state", "42", "--x", "y"]
        );
        let other = json!({"AppSpecification": {"ContainerEntrypoint": ["python3", "x.py"]}});
        assert!(container_command(&other)
            .unwrap_err()
            .contains("runs only mmp-container"));
    }
}
