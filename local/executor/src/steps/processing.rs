//! The Processing step: inputs copied in, the container run, outputs copied out, property
//! files read.

use std::fs;
use std::path::{Path, PathBuf};

use mmp_pipeline::contract;
use serde_json::{json, Value};

use super::{bad_arguments, client_error, max_runtime, reroot, resolved_arguments, str_field, Job};
use crate::definition::StepDef;
use crate::error::StepError;
use crate::execution::{Run, StepEnd};
use crate::expr::text;
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
        download_inputs(run, &job, &args)?;
        outputs = prepare_outputs(&job, &output_list)?;
        match job.exec(&command, max_runtime(&args)) {
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
fn download_inputs(run: &Run, job: &Job, args: &Value) -> Result<(), JobEnd> {
    let inputs = args.get("ProcessingInputs").and_then(Value::as_array);
    for input in inputs.into_iter().flatten() {
        let name = input.get("InputName").map(text).unwrap_or_default();
        let field = |k: &str| {
            str_field(
                input,
                &format!("/S3Input/{k}"),
                &format!("input {name}: {k}"),
            )
            .map_err(client_error)
        };
        let (uri, local) = (field("S3Uri")?, field("LocalPath")?);
        let dest = reroot(&job.dir, local).map_err(client_error)?;
        check_input_type(input, &name)?;
        run.inner
            .store
            .download_prefix(uri, &dest)
            .map_err(|e| client_error(format!("input {name}: {e}")))?;
    }
    Ok(())
}

/// Creates each output's re-rooted `LocalPath`, so the container finds it.
fn prepare_outputs(job: &Job, outputs: &[Value]) -> Result<Vec<Output>, JobEnd> {
    let mut prepared = Vec::new();
    for output in outputs {
        let name =
            str_field(output, "/OutputName", "an output's OutputName").map_err(client_error)?;
        let field = |k: &str| {
            str_field(
                output,
                &format!("/S3Output/{k}"),
                &format!("output {name}: {k}"),
            )
            .map_err(client_error)
        };
        let (uri, local) = (field("S3Uri")?, field("LocalPath")?);
        let dir = reroot(&job.dir, local).map_err(client_error)?;
        fs::create_dir_all(&dir).map_err(client_error)?;
        prepared.push(Output {
            name: name.to_string(),
            dir,
            uri: uri.to_string(),
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
