//! What the executor asks of the rest of mmp: registering a model, hearing status changes.

use crate::error::RegisterError;
use crate::model::{ExecutionInfo, ExecutionStatus, StepInfo};

/// What the executor asks of the rest of mmp.
pub trait ExecutorHooks: Send + Sync + 'static {
    /// RegisterModel step: create a model package version in the group and return its ARN.
    /// `arguments` are the step's Arguments with every expression resolved (the shape of
    /// CreateModelPackage's input). An `Err` fails the step with its text as the reason.
    fn register_model(
        &self,
        execution: &ExecutionInfo,
        arguments: &serde_json::Value,
    ) -> Result<String, RegisterError>;

    /// Every execution status change (start: `previous` is `None`), for the "SageMaker Model
    /// Building Pipeline Execution Status Change" event.
    fn execution_status_changed(
        &self,
        execution: &ExecutionInfo,
        previous: Option<ExecutionStatus>,
    );

    /// Every step status change: when the step starts (Executing) and when it ends, for the
    /// "SageMaker Model Building Pipeline Execution Step Status Change" event. `execution` is
    /// the execution as it started. Does nothing unless implemented.
    fn step_status_changed(&self, execution: &ExecutionInfo, step: &StepInfo) {
        let _ = (execution, step);
    }
}
