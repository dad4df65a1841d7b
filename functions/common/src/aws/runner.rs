//! [`PipelineRunner`] and [`ExecutionHistory`] over SageMaker Pipelines.

use async_trait::async_trait;
use aws_sdk_sagemaker::types::{SortOrder, SortPipelineExecutionsBy, TrainingJobSortByOptions};

use super::error::classify;
use super::millis;
use crate::ports::{
    ExecutionDescription, ExecutionHistory, ExecutionStep, ExecutionSummary, Parameter,
    PipelineRunner, StartExecution, StepJob, STEP_JOBS_LISTED,
};
use crate::PortError;

/// A status SageMaker reported, as its enum; a missing or unknown one (an API newer than this
/// code) is an error naming the call rather than a value nobody can match on.
fn status<T>(name: Option<&str>, context: &str) -> Result<T, PortError>
where
    T: std::str::FromStr<Err = mmp_pipeline::status::UnknownStatus>,
{
    let name = name.ok_or_else(|| PortError::Other(format!("{context}: no status returned")))?;
    name.parse()
        .map_err(|e| PortError::Other(format!("{context}: {e}")))
}

/// Pipeline executions through the SageMaker API.
#[derive(Debug, Clone)]
pub struct SageMakerPipelines {
    client: aws_sdk_sagemaker::Client,
}

impl SageMakerPipelines {
    /// The pipelines behind `client`.
    pub fn new(client: aws_sdk_sagemaker::Client) -> Self {
        SageMakerPipelines { client }
    }
}

#[async_trait]
impl PipelineRunner for SageMakerPipelines {
    async fn start_execution(&self, request: &StartExecution) -> Result<String, PortError> {
        let context = format!("StartPipelineExecution {}", request.pipeline_name);
        let mut call = self
            .client
            .start_pipeline_execution()
            .pipeline_name(&request.pipeline_name)
            .client_request_token(&request.client_request_token)
            .set_pipeline_execution_display_name(request.display_name.clone())
            .set_pipeline_execution_description(request.description.clone());
        for parameter in &request.parameters {
            call = call.pipeline_parameters(
                aws_sdk_sagemaker::types::Parameter::builder()
                    .name(&parameter.name)
                    .value(&parameter.value)
                    .build(),
            );
        }
        let output = call.send().await.map_err(|e| classify(e, &context))?;
        output
            .pipeline_execution_arn
            .ok_or_else(|| PortError::Other(format!("{context}: no execution ARN returned")))
    }

    async fn describe_execution(&self, arn: &str) -> Result<ExecutionDescription, PortError> {
        let context = format!("DescribePipelineExecution {arn}");
        let output = self
            .client
            .describe_pipeline_execution()
            .pipeline_execution_arn(arn)
            .send()
            .await
            .map_err(|e| classify(e, &context))?;
        Ok(ExecutionDescription {
            arn: output
                .pipeline_execution_arn
                .clone()
                .unwrap_or_else(|| arn.to_string()),
            status: status(
                output
                    .pipeline_execution_status
                    .as_ref()
                    .map(|s| s.as_str()),
                &context,
            )?,
            display_name: output.pipeline_execution_display_name.clone(),
            failure_reason: output
                .failure_reason
                .clone()
                .filter(|reason| !reason.is_empty()),
            created_at_ms: millis(output.creation_time.as_ref()),
            last_modified_at_ms: millis(output.last_modified_time.as_ref()),
        })
    }

    async fn execution_parameters(&self, arn: &str) -> Result<Vec<Parameter>, PortError> {
        let context = format!("ListPipelineParametersForExecution {arn}");
        let mut pages = self
            .client
            .list_pipeline_parameters_for_execution()
            .pipeline_execution_arn(arn)
            .into_paginator()
            .send();
        let mut parameters = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, &context))?;
            parameters.extend(
                page.pipeline_parameters
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| {
                        Some(Parameter {
                            name: p.name?,
                            value: p.value.unwrap_or_default(),
                        })
                    }),
            );
        }
        Ok(parameters)
    }

    async fn execution_steps(&self, arn: &str) -> Result<Vec<ExecutionStep>, PortError> {
        let context = format!("ListPipelineExecutionSteps {arn}");
        let mut pages = self
            .client
            .list_pipeline_execution_steps()
            .pipeline_execution_arn(arn)
            .into_paginator()
            .send();
        let mut steps = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, &context))?;
            for step in page.pipeline_execution_steps.unwrap_or_default() {
                steps.push(ExecutionStep {
                    name: step.step_name.unwrap_or_default(),
                    status: status(step.step_status.as_ref().map(|s| s.as_str()), &context)?,
                    started_at_ms: millis(step.start_time.as_ref()),
                    ended_at_ms: millis(step.end_time.as_ref()),
                    failure_reason: step.failure_reason.filter(|reason| !reason.is_empty()),
                    registered_model_package_arn: step
                        .metadata
                        .as_ref()
                        .and_then(|metadata| metadata.register_model.as_ref())
                        .and_then(|register| register.arn.clone()),
                    tuning_job_arn: step
                        .metadata
                        .and_then(|metadata| metadata.tuning_job)
                        .and_then(|tuning| tuning.arn),
                });
            }
        }
        Ok(steps)
    }
}

/// The SDK reads SageMaker's objective values as `f32`: widened through their shortest decimal
/// form, 0.54 stays 0.54 (not 0.5400000214576721).
fn shortest_f64(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(f64::from(value))
}

/// The most ListPipelineExecutions answers in one page.
const PAGE_SIZE: usize = 100;

#[async_trait]
impl ExecutionHistory for SageMakerPipelines {
    // SageMaker sorts and pages (newest first); pages are read until `limit` executions are in.
    // moto 5.2 ignores SortBy, SortOrder and MaxResults and answers every execution, oldest
    // first, in one page: so the summaries read are sorted again (stable, newest first,
    // keeping SageMaker's order between equal start times) before the cut at `limit`.
    async fn list_executions(
        &self,
        pipeline_name: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionSummary>, PortError> {
        let context = format!("ListPipelineExecutions {pipeline_name}");
        let page_size = i32::try_from(limit.clamp(1, PAGE_SIZE)).unwrap_or(1);
        let mut pages = self
            .client
            .list_pipeline_executions()
            .pipeline_name(pipeline_name)
            .sort_by(SortPipelineExecutionsBy::CreationTime)
            .sort_order(SortOrder::Descending)
            .max_results(page_size)
            .into_paginator()
            .send();
        let mut executions = Vec::new();
        // One page at least, so that an unknown pipeline is NotFound whatever the limit.
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, &context))?;
            for summary in page.pipeline_execution_summaries.unwrap_or_default() {
                executions.push(ExecutionSummary {
                    arn: summary.pipeline_execution_arn.unwrap_or_default(),
                    status: status(
                        summary
                            .pipeline_execution_status
                            .as_ref()
                            .map(|s| s.as_str()),
                        &context,
                    )?,
                    display_name: summary.pipeline_execution_display_name,
                    started_at_ms: millis(summary.start_time.as_ref()),
                    ended_at_ms: None,
                    failure_reason: summary
                        .pipeline_execution_failure_reason
                        .filter(|reason| !reason.is_empty()),
                });
            }
            if executions.len() >= limit {
                break;
            }
        }
        executions.sort_by_key(|summary| std::cmp::Reverse(summary.started_at_ms));
        executions.truncate(limit);
        Ok(executions)
    }

    // A tuning step's trials: ListTrainingJobsForHyperParameterTuningJob of the tuning job its
    // metadata names. SageMaker's other steps run one job, which the step itself describes.
    async fn step_jobs(
        &self,
        _execution_arn: &str,
        step: &ExecutionStep,
    ) -> Result<Vec<StepJob>, PortError> {
        let Some(tuning_arn) = &step.tuning_job_arn else {
            return Ok(Vec::new());
        };
        let name = tuning_arn.rsplit('/').next().unwrap_or(tuning_arn);
        let context = format!("ListTrainingJobsForHyperParameterTuningJob {name}");
        let mut pages = self
            .client
            .list_training_jobs_for_hyper_parameter_tuning_job()
            .hyper_parameter_tuning_job_name(name)
            .sort_by(TrainingJobSortByOptions::CreationTime)
            .sort_order(SortOrder::Ascending)
            .into_paginator()
            .send();
        let mut jobs = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, &context))?;
            for trial in page.training_job_summaries.unwrap_or_default() {
                jobs.push(StepJob {
                    name: trial.training_job_name.unwrap_or_default(),
                    status: trial
                        .training_job_status
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    definition_name: trial.training_job_definition_name,
                    objective: trial
                        .final_hyper_parameter_tuning_job_objective_metric
                        .and_then(|metric| metric.value)
                        .map(shortest_f64),
                    hyperparameters: trial
                        .tuned_hyper_parameters
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                    started_at_ms: millis(
                        trial
                            .training_start_time
                            .as_ref()
                            .or(trial.creation_time.as_ref()),
                    ),
                    ended_at_ms: millis(trial.training_end_time.as_ref()),
                    failure_reason: trial.failure_reason.filter(|reason| !reason.is_empty()),
                });
            }
            if jobs.len() >= STEP_JOBS_LISTED {
                break;
            }
        }
        jobs.truncate(STEP_JOBS_LISTED);
        Ok(jobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{ExecutionStatus, StepStatus};

    #[test]
    fn statuses_are_read_as_sagemaker_names_them() {
        let read: ExecutionStatus = status(Some("Succeeded"), "Describe x").unwrap();
        assert_eq!(read, ExecutionStatus::Succeeded);
        let read: StepStatus = status(Some("Starting"), "List x").unwrap();
        assert_eq!(read, StepStatus::Starting);
        let missing = status::<StepStatus>(None, "List x").unwrap_err();
        assert_eq!(missing.to_string(), "List x: no status returned");
        let unknown = status::<ExecutionStatus>(Some("Paused"), "Describe x").unwrap_err();
        assert!(unknown.to_string().contains("\"Paused\""), "{unknown}");
    }
}
