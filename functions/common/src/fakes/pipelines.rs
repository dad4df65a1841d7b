//! [`PipelineRunner`] and [`ExecutionHistory`] over a list of executions in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::faults::{Call, Faults};
use super::{lock, now_ms};
use crate::ports::{
    ExecutionDescription, ExecutionHistory, ExecutionStep, ExecutionSummary, Parameter,
    PipelineRunner, StartExecution, StepJob,
};
use crate::PortError;

/// One execution the fake holds; tests change it through [`MemoryPipelines::update`].
#[derive(Debug, Clone, PartialEq)]
pub struct FakeExecution {
    /// The request that started it.
    pub request: StartExecution,
    /// What `describe_execution` answers (status `Executing` until a test changes it).
    pub description: ExecutionDescription,
    /// What `execution_steps` answers (none until a test adds them).
    pub steps: Vec<ExecutionStep>,
    /// What `step_jobs` answers, by step name (none until a test adds them).
    pub step_jobs: BTreeMap<String, Vec<StepJob>>,
}

/// Pipelines by name and their executions. As SageMaker does, a start with a
/// `client_request_token` seen before returns the earlier execution instead of a new one.
#[derive(Debug, Default)]
pub struct MemoryPipelines {
    pipelines: BTreeSet<String>,
    executions: Mutex<Vec<FakeExecution>>,
    faults: Faults,
}

impl MemoryPipelines {
    /// Pipelines named `names`, with no executions.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        MemoryPipelines {
            pipelines: names.into_iter().map(str::to_string).collect(),
            ..MemoryPipelines::default()
        }
    }

    /// Makes the next `call` fail with `error` (once; failures queue).
    pub fn fail_next(&self, call: Call, error: PortError) {
        self.faults.fail_next(call, error);
    }

    /// How many times `call` was made, failed ones included.
    pub fn calls(&self, call: Call) -> usize {
        self.faults.count(call)
    }

    /// Every execution, in the order they were started.
    pub fn executions(&self) -> Vec<FakeExecution> {
        lock(&self.executions).clone()
    }

    /// Changes the execution `arn` (its status, times, steps); `NotFound` if there is none.
    pub fn update(
        &self,
        arn: &str,
        change: impl FnOnce(&mut FakeExecution),
    ) -> Result<(), PortError> {
        self.with_execution(arn, change)
    }

    fn with_execution<T>(
        &self,
        arn: &str,
        action: impl FnOnce(&mut FakeExecution) -> T,
    ) -> Result<T, PortError> {
        let mut executions = lock(&self.executions);
        executions
            .iter_mut()
            .find(|execution| execution.description.arn == arn)
            .map(action)
            .ok_or_else(|| PortError::NotFound(format!("pipeline execution {arn}")))
    }
}

/// `Executing`, in whatever type the port spells statuses with.
fn executing<T: std::str::FromStr>() -> Result<T, PortError> {
    "Executing"
        .parse()
        .map_err(|_| PortError::Other("`Executing` is not an execution status".into()))
}

#[async_trait]
impl PipelineRunner for MemoryPipelines {
    async fn start_execution(&self, request: &StartExecution) -> Result<String, PortError> {
        self.faults.check(Call::StartExecution)?;
        if !self.pipelines.contains(&request.pipeline_name) {
            return Err(PortError::NotFound(format!(
                "pipeline {}",
                request.pipeline_name
            )));
        }
        let mut executions = lock(&self.executions);
        let earlier = executions.iter().find(|execution| {
            execution.request.pipeline_name == request.pipeline_name
                && execution.request.client_request_token == request.client_request_token
        });
        if let Some(earlier) = earlier {
            return Ok(earlier.description.arn.clone());
        }
        let arn = format!(
            "arn:aws:sagemaker:us-east-1:000000000000:pipeline/{}/execution/fake{:08}",
            request.pipeline_name,
            executions.len() + 1
        );
        let started = now_ms();
        executions.push(FakeExecution {
            request: request.clone(),
            description: ExecutionDescription {
                arn: arn.clone(),
                status: executing()?,
                display_name: request.display_name.clone(),
                failure_reason: None,
                created_at_ms: Some(started),
                last_modified_at_ms: Some(started),
            },
            steps: Vec::new(),
            step_jobs: BTreeMap::new(),
        });
        Ok(arn)
    }

    async fn describe_execution(&self, arn: &str) -> Result<ExecutionDescription, PortError> {
        self.faults.check(Call::DescribeExecution)?;
        self.with_execution(arn, |execution| execution.description.clone())
    }

    async fn execution_parameters(&self, arn: &str) -> Result<Vec<Parameter>, PortError> {
        self.faults.check(Call::ExecutionParameters)?;
        self.with_execution(arn, |execution| execution.request.parameters.clone())
    }

    async fn execution_steps(&self, arn: &str) -> Result<Vec<ExecutionStep>, PortError> {
        self.faults.check(Call::ExecutionSteps)?;
        self.with_execution(arn, |execution| execution.steps.clone())
    }
}

#[async_trait]
impl ExecutionHistory for MemoryPipelines {
    async fn list_executions(
        &self,
        pipeline_name: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionSummary>, PortError> {
        self.faults.check(Call::ListExecutions)?;
        if !self.pipelines.contains(pipeline_name) {
            return Err(PortError::NotFound(format!("pipeline {pipeline_name}")));
        }
        // Kept in start order: newest first is the reverse, whatever the clock's resolution.
        Ok(lock(&self.executions)
            .iter()
            .rev()
            .filter(|execution| execution.request.pipeline_name == pipeline_name)
            .take(limit)
            .map(|execution| ExecutionSummary {
                arn: execution.description.arn.clone(),
                status: execution.description.status,
                display_name: execution.description.display_name.clone(),
                started_at_ms: execution.description.created_at_ms,
                ended_at_ms: None,
                failure_reason: execution.description.failure_reason.clone(),
            })
            .collect())
    }

    async fn step_jobs(
        &self,
        execution_arn: &str,
        step: &ExecutionStep,
    ) -> Result<Vec<StepJob>, PortError> {
        self.faults.check(Call::ExecutionSteps)?;
        self.with_execution(execution_arn, |execution| {
            execution
                .step_jobs
                .get(&step.name)
                .cloned()
                .unwrap_or_default()
        })
    }
}
