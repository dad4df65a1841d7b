//! Failures a test asks a fake to answer with, once each, in the order they were queued.

use std::sync::Mutex;

use super::lock;
use crate::PortError;

/// A port method, to say which call an injected failure answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// [`crate::ports::ObjectStore::get`].
    Get,
    /// [`crate::ports::ObjectStore::head`].
    Head,
    /// [`crate::ports::ObjectStore::put`].
    Put,
    /// [`crate::ports::ObjectStore::list`].
    List,
    /// [`crate::ports::ObjectStore::delete`].
    Delete,
    /// [`crate::ports::ObjectStore::copy`].
    Copy,
    /// [`crate::ports::ObjectStore::copy_version`].
    CopyVersion,
    /// [`crate::ports::ModelRegistry::list_versions`].
    ListVersions,
    /// [`crate::ports::ModelRegistry::describe_version`].
    DescribeVersion,
    /// [`crate::ports::ModelRegistryOperator::list_groups`].
    ListGroups,
    /// [`crate::ports::ModelRegistryOperator::set_status`].
    SetStatus,
    /// [`crate::ports::PipelineRunner::start_execution`].
    StartExecution,
    /// [`crate::ports::PipelineRunner::describe_execution`].
    DescribeExecution,
    /// [`crate::ports::PipelineRunner::execution_parameters`].
    ExecutionParameters,
    /// [`crate::ports::PipelineRunner::execution_steps`].
    ExecutionSteps,
    /// [`crate::ports::ExecutionHistory::list_executions`].
    ListExecutions,
    /// [`crate::ports::ModelEndpoint::invoke`].
    Invoke,
}

/// Queued failures and a count of every call made.
#[derive(Debug, Default)]
pub(super) struct Faults {
    queued: Mutex<Vec<(Call, PortError)>>,
    calls: Mutex<Vec<Call>>,
}

impl Faults {
    pub(super) fn fail_next(&self, call: Call, error: PortError) {
        lock(&self.queued).push((call, error));
    }

    /// Records `call` and returns the first failure queued for it, if any.
    pub(super) fn check(&self, call: Call) -> Result<(), PortError> {
        lock(&self.calls).push(call);
        let mut queued = lock(&self.queued);
        match queued.iter().position(|(queued, _)| *queued == call) {
            Some(index) => Err(queued.remove(index).1),
            None => Ok(()),
        }
    }

    pub(super) fn count(&self, call: Call) -> usize {
        lock(&self.calls)
            .iter()
            .filter(|made| **made == call)
            .count()
    }
}
