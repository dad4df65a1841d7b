//! The resolved step arguments the executor reads, as serde structs in SageMaker's API shapes
//! (CreateTrainingJob, CreateHyperParameterTuningJob, CreateProcessingJob). Fields the local
//! executor does not use are ignored, as SageMaker would use them and nothing here needs them.
//!
//! Resolved expressions may turn a number into text (`Std:Join`, a String parameter), so numbers
//! are read from either form ([`Lenient`]) and values that SageMaker sends as strings from any
//! scalar ([`Text`]).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::expr::text;

/// Deserializes the arguments into `T`; the error names the field (`A.B[0].C: …`).
pub(crate) fn parse<T: DeserializeOwned>(arguments: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(arguments).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        }
    })
}

/// Any scalar as SageMaker's string form (numbers as the executor prints them).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Text(text(&Value::deserialize(d)?)))
    }
}

/// A number given as a JSON number or as its text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Lenient<T>(pub T);

impl<'de, T: FromStr + DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let parsed = match &value {
            Value::String(s) => s.trim().parse().ok(),
            other => serde_json::from_value(other.clone()).ok(),
        };
        parsed
            .map(Lenient)
            .ok_or_else(|| D::Error::custom(format!("not a number of the expected kind: {value}")))
    }
}

/// `StoppingCondition`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StoppingCondition {
    pub max_runtime_in_seconds: Option<Lenient<u64>>,
}

impl StoppingCondition {
    pub fn max_runtime(&self) -> Option<Duration> {
        self.max_runtime_in_seconds
            .map(|Lenient(s)| Duration::from_secs(s))
    }
}

/// `InputDataConfig[]`: a training channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Channel {
    pub channel_name: String,
    pub data_source: DataSource,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DataSource {
    #[serde(rename = "S3DataSource")]
    pub s3: S3DataSource,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct S3DataSource {
    #[serde(rename = "S3Uri")]
    pub uri: String,
    #[serde(rename = "S3DataType", default)]
    pub data_type: Option<Text>,
}

/// `AlgorithmSpecification.MetricDefinitions[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MetricDefinition {
    pub name: String,
    pub regex: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AlgorithmSpecification {
    #[serde(default)]
    pub metric_definitions: Vec<MetricDefinition>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct OutputDataConfig {
    #[serde(rename = "S3OutputPath")]
    pub s3_output_path: String,
}

/// What a training job needs besides its hyperparameters: the Training step's arguments, and
/// each training job definition of a tuning step.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TrainingJob {
    #[serde(default)]
    pub algorithm_specification: AlgorithmSpecification,
    #[serde(default)]
    pub input_data_config: Vec<Channel>,
    pub output_data_config: OutputDataConfig,
    #[serde(default)]
    pub stopping_condition: StoppingCondition,
}

/// The Training step's arguments (CreateTrainingJob).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TrainingStep {
    /// `null` reads as none, as an absent map.
    pub hyper_parameters: Option<BTreeMap<String, Text>>,
    #[serde(flatten)]
    pub job: TrainingJob,
}

/// The Tuning step's arguments (CreateHyperParameterTuningJob).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TuningStep {
    pub hyper_parameter_tuning_job_config: TuningJobConfig,
    pub training_job_definitions: Option<Vec<TrainingJobDefinition>>,
    pub training_job_definition: Option<TrainingJobDefinition>,
    /// Read only to refuse it: local executions keep no parent tuning jobs to start from.
    pub warm_start_config: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TuningJobConfig {
    pub strategy: Option<String>,
    pub strategy_config: Option<StrategyConfig>,
    pub resource_limits: ResourceLimits,
    pub random_seed: Option<Lenient<i64>>,
    pub training_job_early_stopping_type: Option<String>,
    pub tuning_job_completion_criteria: Option<CompletionCriteria>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StrategyConfig {
    pub hyperband_strategy_config: Option<HyperbandStrategyConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HyperbandStrategyConfig {
    pub min_resource: Option<Lenient<i64>>,
    pub max_resource: Option<Lenient<i64>>,
}

/// `TuningJobCompletionCriteria`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CompletionCriteria {
    pub target_objective_metric_value: Option<Lenient<f64>>,
    pub best_objective_not_improving: Option<BestObjectiveNotImproving>,
    pub convergence_detected: Option<ConvergenceDetected>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BestObjectiveNotImproving {
    pub max_number_of_training_jobs_not_improving: Option<Lenient<i64>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConvergenceDetected {
    pub complete_on_convergence: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResourceLimits {
    pub max_number_of_training_jobs: Lenient<i64>,
    pub max_parallel_training_jobs: Lenient<i64>,
}

/// `TrainingJobDefinitions[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TrainingJobDefinition {
    pub definition_name: Option<Text>,
    pub tuning_objective: TuningObjective,
    #[serde(default)]
    pub hyper_parameter_ranges: ParameterRanges,
    pub static_hyper_parameters: Option<BTreeMap<String, Text>>,
    #[serde(flatten)]
    pub job: TrainingJob,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TuningObjective {
    #[serde(rename = "Type")]
    pub kind: ObjectiveType,
    pub metric_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum ObjectiveType {
    Maximize,
    Minimize,
}

/// `HyperParameterRanges`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ParameterRanges {
    #[serde(default)]
    pub categorical_parameter_ranges: Vec<CategoricalRange>,
    #[serde(default)]
    pub integer_parameter_ranges: Vec<NumericRange<i64>>,
    #[serde(default)]
    pub continuous_parameter_ranges: Vec<NumericRange<f64>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CategoricalRange {
    pub name: String,
    #[serde(default)]
    pub values: Vec<Text>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", bound = "T: FromStr + DeserializeOwned")]
pub(crate) struct NumericRange<T> {
    pub name: String,
    pub min_value: Lenient<T>,
    pub max_value: Lenient<T>,
    pub scaling_type: Option<String>,
}

impl<T> NumericRange<T> {
    pub fn logarithmic(&self) -> bool {
        self.scaling_type.as_deref() == Some("Logarithmic")
    }
}

/// The Processing step's program (CreateProcessingJob's `AppSpecification`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProcessingProgram {
    pub app_specification: AppSpecification,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AppSpecification {
    #[serde(default)]
    pub container_entrypoint: Vec<Text>,
    #[serde(default)]
    pub container_arguments: Vec<Text>,
}

/// What the Processing step's job reads and writes (CreateProcessingJob's inputs, outputs and
/// stopping condition); a mistake here fails the job with a `ClientError`, as SageMaker's would.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProcessingJob {
    #[serde(default)]
    pub processing_inputs: Vec<ProcessingInput>,
    pub processing_output_config: Option<ProcessingOutputConfig>,
    #[serde(default)]
    pub stopping_condition: StoppingCondition,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProcessingInput {
    pub input_name: Option<Text>,
    #[serde(rename = "S3Input")]
    pub s3: S3Input,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct S3Input {
    #[serde(rename = "S3Uri")]
    pub uri: String,
    pub local_path: String,
    #[serde(rename = "S3DataType")]
    pub data_type: Option<Text>,
    #[serde(rename = "S3CompressionType")]
    pub compression_type: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProcessingOutputConfig {
    #[serde(default)]
    pub outputs: Vec<ProcessingOutput>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ProcessingOutput {
    pub output_name: String,
    #[serde(rename = "S3Output")]
    pub s3: S3Output,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct S3Output {
    #[serde(rename = "S3Uri")]
    pub uri: String,
    pub local_path: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_come_as_numbers_or_text_and_errors_name_the_field() {
        let limits: ResourceLimits =
            parse(&json!({"MaxNumberOfTrainingJobs": "12", "MaxParallelTrainingJobs": 3})).unwrap();
        assert_eq!(limits.max_number_of_training_jobs, Lenient(12));
        assert_eq!(limits.max_parallel_training_jobs, Lenient(3));
        let error = parse::<TuningStep>(&json!({"HyperParameterTuningJobConfig": {
            "ResourceLimits": {"MaxNumberOfTrainingJobs": "x", "MaxParallelTrainingJobs": 1}}}))
        .unwrap_err();
        assert!(
            error.starts_with(
                "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs: "
            ),
            "{error}"
        );
        let error = parse::<TrainingStep>(&json!({"OutputDataConfig": {}})).unwrap_err();
        assert!(error.contains("S3OutputPath"), "{error}");
    }

    #[test]
    fn values_are_read_as_sagemaker_strings() {
        let step: TrainingStep = parse(&json!({
            "HyperParameters": {"a": 1, "b": 0.5, "c": "x", "d": 2.0},
            "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
            "StoppingCondition": {"MaxRuntimeInSeconds": "60"}
        }))
        .unwrap();
        let values = step.hyper_parameters.unwrap_or_default();
        let texts: Vec<&str> = values.values().map(|t| t.0.as_str()).collect();
        assert_eq!(texts, ["1", "0.5", "x", "2.0"]);
        assert_eq!(
            step.job.stopping_condition.max_runtime(),
            Some(Duration::from_secs(60))
        );
    }
}
