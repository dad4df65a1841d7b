//! Which handler gets which event: the EventBridge rule patterns Terraform deploys (the files
//! in `events/patterns/`, built in here) and the bucket's notification filter.

use anyhow::{Context, Result};
use mmp_common::pattern::Pattern;
use serde_json::Value;

pub const PIPELINE_TRIGGER: &str = "pipeline-trigger";
pub const MODEL_DEPLOYER: &str = "model-deployer";
pub const METRICS_REPORTER: &str = "metrics-reporter";

/// The rule files and the function each rule targets.
const RULES: [(&str, &str, &str); 2] = [
    (
        "model-package-state-change.json",
        include_str!("../../../events/patterns/model-package-state-change.json"),
        MODEL_DEPLOYER,
    ),
    (
        "pipeline-execution-status-change.json",
        include_str!("../../../events/patterns/pipeline-execution-status-change.json"),
        METRICS_REPORTER,
    ),
];

/// The bucket notification's filter (S3 filters by key prefix and suffix).
const NOTIFICATION_FILTER: &str = include_str!("../../../events/patterns/s3-dataset-upload.json");

pub struct Rules {
    rules: Vec<(Pattern, &'static str)>,
    prefix: String,
    suffix: String,
}

impl Rules {
    pub fn load() -> Result<Self> {
        let rules = RULES
            .iter()
            .map(|(file, text, target)| {
                Pattern::from_json(text)
                    .with_context(|| format!("events/patterns/{file}"))
                    .map(|p| (p, *target))
            })
            .collect::<Result<_>>()?;
        let filter: Value = serde_json::from_str(NOTIFICATION_FILTER)
            .context("events/patterns/s3-dataset-upload.json")?;
        let field = |name: &str| filter[name].as_str().unwrap_or_default().to_string();
        Ok(Self {
            rules,
            prefix: field("prefix"),
            suffix: field("suffix"),
        })
    }

    /// The functions whose rules match `event`.
    pub fn targets(&self, event: &Value) -> Vec<&'static str> {
        self.rules
            .iter()
            .filter(|(p, _)| p.matches(event))
            .map(|(_, t)| *t)
            .collect()
    }

    /// The function notified of a new object at `key`, if the filter selects it.
    pub fn object_created_target(&self, key: &str) -> Option<&'static str> {
        (key.starts_with(&self.prefix) && key.ends_with(&self.suffix)).then_some(PIPELINE_TRIGGER)
    }
}
