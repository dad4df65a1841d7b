//! Which handler gets which event: the EventBridge rule patterns Terraform deploys (the files
//! in `events/patterns/`, built in here) and the bucket's notification filter.

use anyhow::{Context, Result};
use mmp_common::pattern::Pattern;
use serde_json::Value;

use crate::function::Function;

/// The rule files and the function each rule targets.
const RULES: [(&str, &str, Function); 2] = [
    (
        "model-package-state-change.json",
        include_str!("../../../events/patterns/model-package-state-change.json"),
        Function::ModelDeployer,
    ),
    (
        "pipeline-execution-status-change.json",
        include_str!("../../../events/patterns/pipeline-execution-status-change.json"),
        Function::MetricsReporter,
    ),
];

/// The bucket notification's filter (S3 filters by key prefix and suffix).
const NOTIFICATION_FILTER: &str =
    include_str!("../../../events/patterns/dataset-object-created.json");

pub struct Rules {
    rules: Vec<(Pattern, Function)>,
    prefix: String,
    suffix: String,
}

impl Rules {
    pub fn load(pipeline_name: &str) -> Result<Self> {
        let rules = RULES
            .iter()
            .map(|(file, text, target)| {
                Pattern::from_rule_file(text, pipeline_name)
                    .with_context(|| format!("events/patterns/{file}"))
                    .map(|p| (p, *target))
            })
            .collect::<Result<_>>()?;
        let filter: Value = serde_json::from_str(NOTIFICATION_FILTER)
            .context("events/patterns/dataset-object-created.json")?;
        let field = |name: &str| filter[name].as_str().unwrap_or_default().to_string();
        Ok(Self {
            rules,
            prefix: field("filter_prefix"),
            suffix: field("filter_suffix"),
        })
    }

    /// The functions whose rules match `event`.
    pub fn targets(&self, event: &Value) -> Vec<Function> {
        self.rules
            .iter()
            .filter(|(p, _)| p.matches(event))
            .map(|(_, t)| *t)
            .collect()
    }

    /// The function notified of a new object at `key`, if the filter selects it.
    pub fn object_created_target(&self, key: &str) -> Option<Function> {
        (key.starts_with(&self.prefix) && key.ends_with(&self.suffix))
            .then_some(Function::PipelineTrigger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package_event(group: &str, status: &str) -> Value {
        json!({
            "source": "aws.sagemaker",
            "detail-type": "SageMaker Model Package State Change",
            "detail": {"ModelPackageGroupName": group, "ModelApprovalStatus": status},
        })
    }

    #[test]
    fn approvals_of_this_pipelines_groups_reach_the_deployer() {
        let rules = Rules::load("mmp").unwrap();
        assert_eq!(
            rules.targets(&package_event("mmp-wine", "Approved")),
            [Function::ModelDeployer]
        );
        assert_eq!(
            rules.targets(&package_event("mmp-wine", "Rejected")),
            [Function::ModelDeployer]
        );
        assert!(rules
            .targets(&package_event("mmp-wine", "PendingManualApproval"))
            .is_empty());
        assert!(rules
            .targets(&package_event("other-wine", "Approved"))
            .is_empty());
    }

    #[test]
    fn only_csv_uploads_under_datasets_start_the_trigger() {
        let rules = Rules::load("mmp").unwrap();
        assert_eq!(
            rules.object_created_target("datasets/wine/wine.csv"),
            Some(Function::PipelineTrigger)
        );
        assert_eq!(
            rules.object_created_target("datasets/wine/pipeline.json"),
            None
        );
        assert_eq!(rules.object_created_target("endpoint/routing.json"), None);
    }
}
