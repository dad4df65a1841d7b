//! The SageMaker Pipeline definition, generated once: Terraform deploys it (through
//! `templatefile`) and `mmp` executes it. Image, role, bucket and pipeline name are
//! placeholders ([`Placeholders`]) that the deployer of each world fills in.

use serde_json::{json, Value};

use crate::algorithm::Algorithm;
use crate::contract as c;
use crate::parameters as p;
use crate::search_space::{search_space, Range};

/// The definition's placeholders, in Terraform `templatefile` syntax.
pub const IMAGE_URI: &str = "${image_uri}";
/// The execution role every job runs as.
pub const ROLE_ARN: &str = "${role_arn}";
/// The bucket uploads come from and job outputs go to.
pub const BUCKET: &str = "${bucket}";
/// The pipeline's name, which prefixes model package groups.
pub const PIPELINE_NAME: &str = "${pipeline_name}";

/// The sub-folder of the bucket under which every execution writes its jobs' output.
pub const PIPELINES_PREFIX: &str = "pipelines";
/// The file name the preprocess step gives both splits.
pub const SPLIT_FILE_NAME: &str = "dataset.csv";
const VOLUME_GB: u32 = 30;
const MAX_RUNTIME_SECONDS: u32 = 86_400;
/// Folds of every trial's cross-validation; also Hyperband's MaxResource (`n-epochs`).
const CV_FOLDS: u32 = 5;

/// Values for the placeholders.
#[derive(Debug, Clone)]
pub struct Placeholders<'a> {
    /// The `mmp-container` image every job runs.
    pub image_uri: &'a str,
    /// Fills [`ROLE_ARN`].
    pub role_arn: &'a str,
    /// Fills [`BUCKET`].
    pub bucket: &'a str,
    /// Fills [`PIPELINE_NAME`].
    pub pipeline_name: &'a str,
}

/// The definition with its placeholders in place, pretty-printed, newline-terminated.
pub fn template() -> String {
    let mut s = serde_json::to_string_pretty(&definition()).unwrap_or_default();
    s.push('\n');
    s
}

/// The definition with every placeholder replaced.
pub fn render(values: &Placeholders) -> String {
    template()
        .replace(IMAGE_URI, values.image_uri)
        .replace(ROLE_ARN, values.role_arn)
        .replace(BUCKET, values.bucket)
        .replace(PIPELINE_NAME, values.pipeline_name)
}

fn get(reference: &str) -> Value {
    json!({ "Get": reference })
}

fn param(name: &str) -> Value {
    get(&format!("Parameters.{name}"))
}

/// A number parameter as a string (container arguments and hyperparameters are strings).
fn param_str(name: &str) -> Value {
    json!({ "Std:Join": { "On": "", "Values": [param(name)] } })
}

fn join(on: &str, values: Vec<Value>) -> Value {
    json!({ "Std:Join": { "On": on, "Values": values } })
}

/// `s3://<bucket>/pipelines/<pipeline>/<execution id>/<step>/<rest...>`
fn execution_uri(step: &str, rest: &[&str]) -> Value {
    let mut values = vec![
        json!("s3:/"),
        json!(BUCKET),
        json!(PIPELINES_PREFIX),
        json!(PIPELINE_NAME),
        get("Execution.PipelineExecutionId"),
        json!(step),
    ];
    values.extend(rest.iter().map(|r| json!(r)));
    join("/", values)
}

fn local(path: &str) -> String {
    format!("{}/{path}", c::DEFAULT_ML_ROOT)
}

fn processing_resources(instance_param: &str) -> Value {
    json!({ "ClusterConfig": {
        "InstanceType": param(instance_param),
        "InstanceCount": 1,
        "VolumeSizeInGB": VOLUME_GB,
    }})
}

fn processing_input(name: &str, uri: Value, local_path: &str) -> Value {
    json!({
        "InputName": name,
        "AppManaged": false,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local(local_path),
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        }
    })
}

fn processing_output(step: &str, name: &str, local_path: &str) -> Value {
    json!({
        "OutputName": name,
        "AppManaged": false,
        "S3Output": {
            "S3Uri": execution_uri(step, &[name]),
            "LocalPath": local(local_path),
            "S3UploadMode": "EndOfJob",
        }
    })
}

fn output_uri(step: &str, output: &str) -> Value {
    get(&format!(
        "Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"
    ))
}

fn channel(name: &str, uri: Value) -> Value {
    json!({
        "ChannelName": name,
        "DataSource": { "S3DataSource": {
            "S3DataType": "S3Prefix",
            "S3Uri": uri,
            "S3DataDistributionType": "FullyReplicated",
        }}
    })
}

fn parameters() -> Value {
    let string = |name: &str, default: &str| json!({"Name": name, "Type": "String", "DefaultValue": default});
    json!([
        {"Name": p::DATASET_NAME, "Type": "String"},
        {"Name": p::INPUT_DATA_URI, "Type": "String"},
        // Lineage of the pinned upload; defaults for executions started by hand.
        string(p::INPUT_DATA_ETAG, "unknown"),
        string(p::INPUT_DATA_VERSION_ID, "null"),
        string(p::TARGET_COLUMN, p::DEFAULT_TARGET_COLUMN),
        {"Name": p::STRATIFY_SPLIT, "Type": "String", "DefaultValue": "True", "EnumValues": ["True", "False"]},
        {"Name": p::TEST_SET_SIZE, "Type": "Float", "DefaultValue": 0.2},
        {"Name": p::RANDOM_STATE, "Type": "Integer", "DefaultValue": 42},
        string(p::PREPROCESSING_INSTANCE, "ml.t3.xlarge"),
        string(p::TRAINING_INSTANCE, "ml.m5.large"),
        string(p::EVALUATION_INSTANCE, "ml.t3.xlarge"),
        {"Name": p::CROSS_VALIDATION_SCORER, "Type": "String", "DefaultValue": "roc_auc", "EnumValues": p::CV_SCORERS},
        {"Name": p::MAX_TUNING_JOBS, "Type": "Integer", "DefaultValue": 10 * Algorithm::ALL.len()},
        {"Name": p::MAX_TUNING_PARALLEL_JOBS, "Type": "Integer", "DefaultValue": Algorithm::ALL.len()},
        {"Name": p::TUNING_STRATEGY, "Type": "String", "DefaultValue": p::TUNING_STRATEGIES[0], "EnumValues": p::TUNING_STRATEGIES},
        {"Name": p::TUNING_TARGET_OBJECTIVE, "Type": "Float", "DefaultValue": p::NO_TARGET_OBJECTIVE},
        {"Name": p::TUNING_MAX_TRIALS_NOT_IMPROVING, "Type": "Integer", "DefaultValue": p::NO_MAX_TRIALS_NOT_IMPROVING},
        {"Name": p::TUNING_COMPLETE_ON_CONVERGENCE, "Type": "String", "DefaultValue": "Disabled", "EnumValues": ["Disabled", "Enabled"]},
        {"Name": p::METRIC_FOR_REGISTRATION_THRESHOLD, "Type": "String", "DefaultValue": "auc", "EnumValues": p::REGISTRATION_METRICS},
        {"Name": p::MIN_THRESHOLD_FOR_REGISTER_METRIC, "Type": "Float", "DefaultValue": 0.7},
        {"Name": p::REGISTER_MODEL_APPROVAL_STATUS, "Type": "String", "DefaultValue": "PendingManualApproval",
         "EnumValues": ["PendingManualApproval", "Approved"]},
    ])
}

fn preprocess_step() -> Value {
    json!({
        "Name": p::STEP_PREPROCESS,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": processing_resources(p::PREPROCESSING_INSTANCE),
            "AppSpecification": {
                "ImageUri": IMAGE_URI,
                "ContainerEntrypoint": [c::CONTAINER_BINARY, c::CMD_PREPROCESS],
                "ContainerArguments": [
                    c::ARG_TARGET, param(p::TARGET_COLUMN),
                    c::ARG_TEST_SIZE, param_str(p::TEST_SET_SIZE),
                    c::ARG_STRATIFY, param(p::STRATIFY_SPLIT),
                    c::ARG_RANDOM_STATE, param_str(p::RANDOM_STATE),
                    c::ARG_FILE_NAME, SPLIT_FILE_NAME,
                ],
            },
            "RoleArn": ROLE_ARN,
            "StoppingCondition": { "MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS },
            "ProcessingInputs": [
                processing_input("data", param(p::INPUT_DATA_URI), c::PROCESSING_INPUT_DATA),
            ],
            "ProcessingOutputConfig": { "Outputs": [
                processing_output(p::STEP_PREPROCESS, "train", c::PROCESSING_TRAIN),
                processing_output(p::STEP_PREPROCESS, "test", c::PROCESSING_TEST),
            ]},
        }
    })
}

fn ranges(algorithm: Algorithm) -> Value {
    let (mut categorical, mut integer) = (Vec::new(), Vec::new());
    for param in search_space(algorithm) {
        match param.range {
            Range::Categorical(values) => {
                categorical.push(json!({"Name": param.name, "Values": values}))
            }
            Range::Integer { min, max } => integer.push(json!({
                "Name": param.name,
                "MinValue": min.to_string(),
                "MaxValue": max.to_string(),
                "ScalingType": "Auto",
            })),
        }
    }
    json!({
        "CategoricalParameterRanges": categorical,
        "IntegerParameterRanges": integer,
        "ContinuousParameterRanges": [],
    })
}

fn static_hyperparameters(algorithm: Value, cross_validation: bool) -> Value {
    let mut statics = json!({
        c::HP_ALGORITHM: algorithm,
        c::HP_TARGET: param(p::TARGET_COLUMN),
        c::HP_TRAIN_FILE: SPLIT_FILE_NAME,
        c::HP_CROSS_VALIDATION: cross_validation.to_string(),
        c::HP_CV_SCORER: param(p::CROSS_VALIDATION_SCORER),
        c::HP_RANDOM_STATE: param_str(p::RANDOM_STATE),
    });
    if cross_validation {
        statics[c::HP_EPOCHS] = json!(CV_FOLDS.to_string());
    }
    statics
}

fn algorithm_specification() -> Value {
    json!({
        "TrainingImage": IMAGE_URI,
        "TrainingInputMode": "File",
        "MetricDefinitions": [{ "Name": c::METRIC_NAME, "Regex": c::METRIC_REGEX }],
    })
}

fn train_channel() -> Value {
    channel(c::TRAIN_CHANNEL, output_uri(p::STEP_PREPROCESS, "train"))
}

fn tuning_step() -> Value {
    let definitions: Vec<Value> = Algorithm::ALL
        .into_iter()
        .map(|alg| {
            json!({
                "DefinitionName": alg,
                "TuningObjective": { "Type": "Maximize", "MetricName": c::METRIC_NAME },
                "HyperParameterRanges": ranges(alg),
                "StaticHyperParameters": static_hyperparameters(json!(alg), true),
                "AlgorithmSpecification": algorithm_specification(),
                "RoleArn": ROLE_ARN,
                "InputDataConfig": [train_channel()],
                "OutputDataConfig": { "S3OutputPath": execution_uri(p::STEP_TUNING, &[]) },
                "HyperParameterTuningResourceConfig": {
                    "InstanceCount": 1,
                    "InstanceType": param(p::TRAINING_INSTANCE),
                    "VolumeSizeInGB": VOLUME_GB,
                },
                "StoppingCondition": { "MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS },
            })
        })
        .collect();
    json!({
        "Name": p::STEP_TUNING,
        "Type": "Tuning",
        "Arguments": {
            "HyperParameterTuningJobConfig": {
                // No StrategyConfig: it is refused unless the strategy is Hyperband, which
                // infers MaxResource from the static `n-epochs` (the folds) instead.
                "Strategy": param(p::TUNING_STRATEGY),
                "ResourceLimits": {
                    "MaxNumberOfTrainingJobs": param(p::MAX_TUNING_JOBS),
                    "MaxParallelTrainingJobs": param(p::MAX_TUNING_PARALLEL_JOBS),
                },
                // SageMaker stops trials early (Auto) and warm-starts only a tuning job over one
                // algorithm; this one tunes every family. Hyperband stops trials across them.
                "TrainingJobEarlyStoppingType": "Off",
                "TuningJobCompletionCriteria": {
                    "TargetObjectiveMetricValue": param(p::TUNING_TARGET_OBJECTIVE),
                    "BestObjectiveNotImproving": {
                        "MaxNumberOfTrainingJobsNotImproving": param(p::TUNING_MAX_TRIALS_NOT_IMPROVING),
                    },
                    "ConvergenceDetected": {
                        "CompleteOnConvergence": param(p::TUNING_COMPLETE_ON_CONVERGENCE),
                    },
                },
                "RandomSeed": param(p::RANDOM_STATE),
            },
            "TrainingJobDefinitions": definitions,
        },
        "DependsOn": [p::STEP_PREPROCESS],
    })
}

fn best_trial(property: &str) -> Value {
    get(&format!(
        "Steps.{}.BestTrainingJob.{property}",
        p::STEP_TUNING
    ))
}

fn refit_step() -> Value {
    // The best trial's archive: <tuning output path>/<job name>/output/model.tar.gz
    let mut best_archive = execution_uri(p::STEP_TUNING, &[]);
    if let Some(values) = best_archive["Std:Join"]["Values"].as_array_mut() {
        values.extend([
            best_trial("TrainingJobName"),
            json!("output"),
            json!(c::MODEL_ARCHIVE),
        ]);
    }
    json!({
        "Name": p::STEP_REFIT,
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": { "TrainingImage": IMAGE_URI, "TrainingInputMode": "File" },
            "HyperParameters": static_hyperparameters(
                join("", vec![best_trial("TrainingJobDefinitionName")]),
                false,
            ),
            "RoleArn": ROLE_ARN,
            "InputDataConfig": [train_channel(), channel(c::BEST_TRIAL_CHANNEL, best_archive)],
            "OutputDataConfig": { "S3OutputPath": execution_uri(p::STEP_REFIT, &[]) },
            "ResourceConfig": {
                "InstanceCount": 1,
                "InstanceType": param(p::TRAINING_INSTANCE),
                "VolumeSizeInGB": VOLUME_GB,
            },
            "StoppingCondition": { "MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS },
        },
        "DependsOn": [p::STEP_TUNING],
    })
}

fn refit_artifact() -> Value {
    get(&format!(
        "Steps.{}.ModelArtifacts.S3ModelArtifacts",
        p::STEP_REFIT
    ))
}

fn evaluate_step() -> Value {
    json!({
        "Name": p::STEP_EVALUATE,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": processing_resources(p::EVALUATION_INSTANCE),
            "AppSpecification": {
                "ImageUri": IMAGE_URI,
                "ContainerEntrypoint": [c::CONTAINER_BINARY, c::CMD_EVALUATE],
                "ContainerArguments": [
                    c::ARG_TARGET, param(p::TARGET_COLUMN),
                    c::ARG_FILE_NAME, SPLIT_FILE_NAME,
                    c::ARG_REGISTER_METRIC, param(p::METRIC_FOR_REGISTRATION_THRESHOLD),
                ],
            },
            "RoleArn": ROLE_ARN,
            "StoppingCondition": { "MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS },
            "ProcessingInputs": [
                processing_input("model", refit_artifact(), c::PROCESSING_MODEL),
                processing_input("test", output_uri(p::STEP_PREPROCESS, "test"), c::PROCESSING_TEST),
            ],
            "ProcessingOutputConfig": { "Outputs": [
                processing_output(p::STEP_EVALUATE, "evaluation", c::PROCESSING_EVALUATION),
            ]},
        },
        "DependsOn": [p::STEP_REFIT],
        "PropertyFiles": [{
            "PropertyFileName": p::EVALUATION_PROPERTY_FILE,
            "OutputName": "evaluation",
            "FilePath": c::EVALUATION_FILE,
        }],
    })
}

fn register_step() -> Value {
    let content_types = ["text/csv", "application/json"];
    json!({
        "Name": p::STEP_REGISTER,
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": join("-", vec![json!(PIPELINE_NAME), param(p::DATASET_NAME)]),
            "ModelPackageDescription": join(" ", vec![
                json!("Best of the tuning step:"), best_trial("TrainingJobDefinitionName"),
            ]),
            "ModelApprovalStatus": param(p::REGISTER_MODEL_APPROVAL_STATUS),
            "ModelMetrics": { "ModelQuality": { "Statistics": {
                "ContentType": "application/json",
                "S3Uri": join("/", vec![
                    output_uri(p::STEP_EVALUATE, "evaluation"), json!(c::EVALUATION_FILE),
                ]),
            }}},
            "InferenceSpecification": {
                "Containers": [{ "Image": IMAGE_URI, "ModelDataUrl": refit_artifact() }],
                "SupportedContentTypes": content_types,
                "SupportedResponseMIMETypes": content_types,
                "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large", "ml.c5.large", "ml.t2.medium"],
                "SupportedTransformInstanceTypes": ["ml.m5.large"],
            },
            "CustomerMetadataProperties": {
                "algorithm": join("", vec![best_trial("TrainingJobDefinitionName")]),
                "dataset": param(p::DATASET_NAME),
                "pipeline_execution": get("Execution.PipelineExecutionArn"),
                // Exactly which bytes it was trained on (the trigger's pinned copy).
                "input_data_uri": param(p::INPUT_DATA_URI),
                "input_data_etag": param(p::INPUT_DATA_ETAG),
                "input_data_version_id": param(p::INPUT_DATA_VERSION_ID),
            },
        },
    })
}

/// The original's message, word for word.
fn fail_step() -> Value {
    json!({
        "Name": p::STEP_FAIL,
        "Type": "Fail",
        "Arguments": { "ErrorMessage": join(" ", vec![
            json!("Execution failed because"),
            param(p::METRIC_FOR_REGISTRATION_THRESHOLD),
            json!("value is less than the required"),
            param(p::MIN_THRESHOLD_FOR_REGISTER_METRIC),
        ])},
    })
}

fn condition_step() -> Value {
    json!({
        "Name": p::STEP_CONDITION,
        "Type": "Condition",
        "Arguments": {
            "Conditions": [{
                "Type": "GreaterThanOrEqualTo",
                "LeftValue": { "Std:JsonGet": {
                    "PropertyFile": get(&format!(
                        "Steps.{}.PropertyFiles.{}", p::STEP_EVALUATE, p::EVALUATION_PROPERTY_FILE
                    )),
                    "Path": "register_metric.value",
                }},
                "RightValue": param(p::MIN_THRESHOLD_FOR_REGISTER_METRIC),
            }],
            "IfSteps": [register_step()],
            "ElseSteps": [fail_step()],
        },
        "DependsOn": [p::STEP_EVALUATE],
    })
}

/// The whole definition as JSON.
pub fn definition() -> Value {
    json!({
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": parameters(),
        "PipelineExperimentConfig": {
            "ExperimentName": get("Execution.PipelineName"),
            "TrialName": get("Execution.PipelineExecutionId"),
        },
        "Steps": [preprocess_step(), tuning_step(), refit_step(), evaluate_step(), condition_step()],
    })
}

#[cfg(test)]
mod lineage_tests {
    use super::*;

    #[test]
    fn registered_versions_name_the_exact_input_they_were_trained_on() {
        let args = &register_step()["Arguments"]["CustomerMetadataProperties"];
        for (key, parameter) in [
            ("input_data_uri", p::INPUT_DATA_URI),
            ("input_data_etag", p::INPUT_DATA_ETAG),
            ("input_data_version_id", p::INPUT_DATA_VERSION_ID),
        ] {
            assert_eq!(args[key], param(parameter), "{key}");
        }
        let declared = parameters();
        for name in [p::INPUT_DATA_ETAG, p::INPUT_DATA_VERSION_ID] {
            let declared = declared
                .as_array()
                .and_then(|all| all.iter().find(|d| d["Name"] == name));
            // SageMaker refuses empty metadata values: the defaults are words.
            let default = declared.and_then(|d| d["DefaultValue"].as_str());
            assert!(
                default.is_some_and(|d| !d.is_empty()),
                "{name}: {declared:?}"
            );
        }
    }
}
