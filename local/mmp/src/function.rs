//! What the event bus delivers to: the functions the rules and the bucket notification
//! target, and the executor's retry. Each has the name Terraform gives the Lambda function,
//! which is also how an outbox row names it, so rows queued by an older `mmp` still deliver.

use std::fmt;

/// A target of the event bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// Starts a pipeline execution for an uploaded dataset (S3 ObjectCreated).
    PipelineTrigger,
    /// Routes the endpoint to a version on approval or rejection (model package state change).
    ModelDeployer,
    /// Reports an ended execution's metrics (pipeline execution status change).
    MetricsReporter,
    /// Not a Lambda function: the executor's RetryPipelineExecution, queued by `mmp retry` in
    /// another process (see the `RetryRequest` of `actions`).
    RetryExecution,
}

impl Function {
    /// Every target, to read one back from its name.
    pub const ALL: [Function; 4] = [
        Function::PipelineTrigger,
        Function::ModelDeployer,
        Function::MetricsReporter,
        Function::RetryExecution,
    ];

    /// The name stored in outbox rows and shown in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Function::PipelineTrigger => "pipeline-trigger",
            Function::ModelDeployer => "model-deployer",
            Function::MetricsReporter => "metrics-reporter",
            Function::RetryExecution => "retry-pipeline-execution",
        }
    }

    /// The target named `name`, as [`Function::as_str`] spells it.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_those_outbox_rows_have_always_stored() {
        let names: Vec<&str> = Function::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "pipeline-trigger",
                "model-deployer",
                "metrics-reporter",
                "retry-pipeline-execution"
            ]
        );
        for function in Function::ALL {
            assert_eq!(Function::from_name(function.as_str()), Some(function));
        }
        assert_eq!(Function::from_name("endpoint-invoker"), None);
        assert_eq!(Function::from_name("Model-Deployer"), None);
    }
}
