//! A running execution as its steps see it: the [`Run`] they share (parameters, properties of
//! the steps before them, job names, the stop flag) and how each step ends ([`StepEnd`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::{json, Value};

use crate::definition::Pipeline;
use crate::error::StepError;
use crate::expr::Scope;
use crate::model::{rfc3339, ExecutionInfo};
use crate::shared::Inner;

/// How a step ended.
#[derive(Debug)]
pub(crate) enum StepEnd {
    Succeeded(Value),
    Failed(StepError),
    Stopped,
}

/// Everything a running execution's steps share.
pub(crate) struct Run {
    pub inner: Arc<Inner>,
    pub info: ExecutionInfo,
    pub pipeline: Pipeline,
    pub parameters: BTreeMap<String, Value>,
    pub stop: Arc<AtomicBool>,
    properties: Mutex<BTreeMap<String, Value>>,
}

impl Scope for Run {
    fn parameter(&self, name: &str) -> Option<Value> {
        self.parameters.get(name).cloned()
    }

    fn execution(&self, property: &str) -> Option<Value> {
        Some(match property {
            "PipelineExecutionId" => json!(self.info.id),
            "PipelineExecutionArn" => json!(self.info.arn),
            "PipelineName" => json!(self.info.pipeline_name),
            "StartDateTime" => json!(rfc3339(self.info.created)),
            "CurrentDateTime" => json!(rfc3339(SystemTime::now())),
            _ => return None,
        })
    }

    fn step_properties(&self, step: &str) -> Option<Value> {
        self.lock_properties().get(step).cloned()
    }
}

impl Run {
    pub fn new(
        inner: Arc<Inner>,
        info: ExecutionInfo,
        pipeline: Pipeline,
        parameters: BTreeMap<String, Value>,
        stop: Arc<AtomicBool>,
        kept: BTreeMap<String, Value>,
    ) -> Self {
        Self {
            inner,
            info,
            pipeline,
            parameters,
            stop,
            properties: Mutex::new(kept),
        }
    }

    pub fn lock_properties(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        self.properties.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A SageMaker-valid job name (at most 63 characters): `<step>-<execution id>[-<nnn>]`.
    pub fn job_name(&self, step: &str, trial: Option<usize>) -> String {
        let suffix = match trial {
            Some(n) => format!("-{}-{n:03}", self.info.id),
            None => format!("-{}", self.info.id),
        };
        let room = 63usize.saturating_sub(suffix.len());
        let step: String = step
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(room)
            .collect();
        format!("{step}{suffix}")
    }

    /// `<jobs_root>/<execution id>/<job name>`
    pub fn job_dir(&self, job_name: &str) -> PathBuf {
        self.inner
            .config
            .jobs_root
            .join(&self.info.id)
            .join(job_name)
    }

    pub fn arn(&self, kind: &str, name: &str) -> String {
        format!(
            "arn:aws:sagemaker:{}:{}:{kind}/{}",
            self.inner.config.region,
            self.inner.config.account,
            name.to_ascii_lowercase()
        )
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}
