//! The Processing step: inputs copied in, the container run, outputs copied out, property
//! files read.

use std::fs;
use std::path::{Path, PathBuf};

use mmp_pipeline::contract;
use serde_json::{json, Value};

use super::arguments::{
    self, ProcessingInput, ProcessingJob, ProcessingOutput, ProcessingProgram, S3Input, Text,
};
use super::{bad_arguments, client_error, reroot, resolved_arguments, Job};
use crate::definition::StepDef;
use crate::error::StepError;
use crate::execution::{Run, StepEnd};
use crate::jobs::JobEnd;

/// A processing output: where the job writes it and where it goes.
struct Output {
    name: String,
    dir: PathBuf,
    uri: String,
}

pub(super) fn processing_step(run: &Run, step: &StepDef) -> Result<Value, StepEnd> {
    let args = resolved_arguments(run, step)?;
    let command = container_command(&args).map_err(bad_arguments)?;
    let job = Job::start(run, &step.name, run.job_name(&step.name, None), None, None)
        .map_err(StepEnd::Failed)?;
    let output_list: Vec<Value> = args
        .pointer("/ProcessingOutputConfig/Outputs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut outputs = Vec::new();
    let outcome = (|| -> Result<Option<f64>, JobEnd> {
        let io: ProcessingJob = arguments::parse(&args).map_err(client_error)?;
        download_inputs(run, &job, &io.processing_inputs)?;
        let declared = io.processing_output_config.unwrap_or_default().outputs;
        outputs = prepare_outputs(&job, &declared)?;
        match job.exec(&command, io.stopping_condition.max_runtime()) {
            JobEnd::Completed => {}
            other => return Err(other),
        }
        for o in &outputs {
            run.inner
                .store
                .upload_dir(&o.dir, &o.uri)
                .map_err(|e| client_error(format!("output {}: {e}", o.name)))?;
        }
        Ok(None)
    })();
    job.end(outcome)?;
    let by_name: serde_json::Map<String, Value> = output_list
        .iter()
        .filter_map(|o| Some((o.get("OutputName")?.as_str()?.to_string(), o.clone())))
        .collect();
    let mut props = json!({
        "ProcessingJobName": job.name,
        "ProcessingJobArn": run.arn("processing-job", &job.name),
        "ProcessingJobStatus": "Completed",
        "ProcessingOutputConfig": { "Outputs": by_name },
    });
    if !step.property_files.is_empty() {
        props["PropertyFiles"] = read_property_files(step, &outputs)
            .map_err(|e| StepEnd::Failed(StepError::Files(e)))?;
    }
    Ok(props)
}

/// Copies each `ProcessingInputs[].S3Input` into its re-rooted `LocalPath`.
fn download_inputs(run: &Run, job: &Job, inputs: &[ProcessingInput]) -> Result<(), JobEnd> {
    for input in inputs {
        let name = input.input_name.clone().unwrap_or_default().0;
        let dest = reroot(&job.dir, &input.s3.local_path).map_err(client_error)?;
        check_input_type(&input.s3, &name)?;
        run.inner
            .store
            .download_prefix(&input.s3.uri, &dest)
            .map_err(|e| client_error(format!("input {name}: {e}")))?;
    }
    Ok(())
}

/// Creates each output's re-rooted `LocalPath`, so the container finds it.
fn prepare_outputs(job: &Job, outputs: &[ProcessingOutput]) -> Result<Vec<Output>, JobEnd> {
    let mut prepared = Vec::new();
    for output in outputs {
        let dir = reroot(&job.dir, &output.s3.local_path).map_err(client_error)?;
        fs::create_dir_all(&dir).map_err(client_error)?;
        prepared.push(Output {
            name: output.output_name.clone(),
            dir,
            uri: output.s3.uri.clone(),
        });
    }
    Ok(prepared)
}

/// The step's `PropertyFiles`, each read as JSON from the output it names.
fn read_property_files(step: &StepDef, outputs: &[Output]) -> Result<Value, String> {
    let mut files = serde_json::Map::new();
    for pf in &step.property_files {
        let Some(output) = outputs.iter().find(|o| o.name == pf.output_name) else {
            return Err(format!(
                "property file {}: the step has no output named {}",
                pf.name, pf.output_name
            ));
        };
        let text = fs::read_to_string(output.dir.join(&pf.file_path)).map_err(|e| {
            format!(
                "property file {}: cannot read {}: {e}",
                pf.name, pf.file_path
            )
        })?;
        let content: Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "property file {}: {} is not JSON: {e}",
                pf.name, pf.file_path
            )
        })?;
        files.insert(pf.name.clone(), content);
    }
    Ok(Value::Object(files))
}

/// `ContainerEntrypoint` (whose program must be mmp-container) without the program, then
/// `ContainerArguments`.
pub(super) fn container_command(args: &Value) -> Result<Vec<String>, String> {
    let program: ProcessingProgram = arguments::parse(args)?;
    let texts = |list: Vec<Text>| list.into_iter().map(|Text(t)| t);
    let mut entrypoint = texts(program.app_specification.container_entrypoint);
    let Some(program_path) = entrypoint.next() else {
        return Err("AppSpecification.ContainerEntrypoint is empty: the local executor runs only mmp-container".into());
    };
    let program_name = Path::new(&program_path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if program_name != contract::CONTAINER_BINARY {
        return Err(format!(
            "ContainerEntrypoint runs {program_path}; the local executor runs only {}",
            contract::CONTAINER_BINARY
        ));
    }
    let mut command: Vec<String> = entrypoint.collect();
    command.extend(texts(program.app_specification.container_arguments));
    Ok(command)
}

/// Only uncompressed S3Prefix inputs are run locally.
fn check_input_type(input: &S3Input, name: &str) -> Result<(), JobEnd> {
    if let Some(Text(t)) = input.data_type.as_ref().filter(|t| t.0 != "S3Prefix") {
        return Err(client_error(format!(
            "input {name}: S3DataType {t} is not supported locally (only S3Prefix)"
        )));
    }
    if let Some(Text(c)) = input.compression_type.as_ref().filter(|c| c.0 != "None") {
        return Err(client_error(format!(
            "input {name}: S3CompressionType {c} is not supported locally"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
