//! Lambda handler: metrics-reporter. On a pipeline execution's terminal status change it
//! describes the execution and its steps, reads the registered version's evaluation report,
//! emits CloudWatch EMF metrics and writes `reports/<dataset>.json` and
//! `reports/leaderboard.json` with conditional writes (replays and late events converge: an
//! execution is recorded once, and the newest execution stays `latest`).
#![warn(missing_docs)]

pub mod report;

use mmp_common::config::{self, CommonConfig, ConfigError, Env};
use mmp_common::emf::{now_ms, EmfDocument, Unit};
use mmp_common::events::{pipeline_name_of_arn, EventBridgeEvent, PipelineExecutionStatusChange};
use mmp_common::naming;
use mmp_common::ports::{
    ExecutionStatus, MetricSink, ModelRegistry, ObjectStore, ObjectUri, PipelineRunner, StepStatus,
};
use mmp_common::PortError;
use mmp_pipeline::parameters::{DATASET_NAME, STEP_REGISTER};

pub use report::{ExecutionRecord, Quality};

/// CloudWatch namespace of the metrics.
pub const ENV_METRICS_NAMESPACE: &str = "MMP_METRICS_NAMESPACE";
/// Default of [`ENV_METRICS_NAMESPACE`].
pub const DEFAULT_METRICS_NAMESPACE: &str = "mmp";

/// Every environment variable this function reads.
pub const ENV_VARS: &[&str] = &[
    config::ENV_BUCKET,
    config::ENV_PIPELINE_NAME,
    config::ENV_REPORTS_PREFIX,
    ENV_METRICS_NAMESPACE,
    config::ENV_S3_FORCE_PATH_STYLE,
    config::ENV_LOG,
];

/// Every AWS API action this function's adapters call.
pub const IAM_ACTIONS: &[&str] = &[
    "s3:GetObject",
    // Without ListBucket, S3 answers a missing key with 403 instead of 404.
    "s3:ListBucket",
    "s3:PutObject",
    "sagemaker:DescribePipelineExecution",
    "sagemaker:ListPipelineParametersForExecution",
    "sagemaker:ListPipelineExecutionSteps",
    "sagemaker:DescribeModelPackage",
];

/// The reporter's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReporterConfig {
    /// Path-style S3 addressing (emulators only).
    pub s3_path_style: bool,
    /// The bucket reports are written to.
    pub bucket: String,
    /// Only this pipeline's executions are reported.
    pub pipeline_name: String,
    /// Where the reports go (`<prefix><dataset>.json`, `<prefix>leaderboard.json`).
    pub reports_prefix: String,
    /// The metrics' CloudWatch namespace.
    pub namespace: String,
}

impl ReporterConfig {
    /// Reads [`ENV_VARS`]; fails naming the first missing or bad variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let (common, pipeline_name) = CommonConfig::with_pipeline(env)?;
        Ok(ReporterConfig {
            s3_path_style: common.s3_path_style,
            bucket: common.bucket,
            pipeline_name,
            reports_prefix: env
                .prefix(config::ENV_REPORTS_PREFIX, naming::DEFAULT_REPORTS_PREFIX)?,
            namespace: env.optional(ENV_METRICS_NAMESPACE, DEFAULT_METRICS_NAMESPACE),
        })
    }
}

/// What one event produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Reported {
    /// Metrics emitted and reports written for this execution.
    Recorded(Box<ExecutionRecord>),
    /// Not a terminal status, or another pipeline's execution.
    Ignored {
        /// Why.
        reason: String,
    },
}

/// Why reporting failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("execution {0} has no {DATASET_NAME} parameter")]
    /// The execution has no dataset to report under.
    NoDataset(String),
    #[error("gave up after repeated lost races on {0}")]
    /// A report kept changing under its conditional writes.
    Contention(String),
    #[error(transparent)]
    /// A port failed.
    Port(#[from] PortError),
}

/// Handles one pipeline execution status change.
pub async fn handle_event<S, P, R>(
    store: &S,
    pipelines: &P,
    registry: &R,
    metrics: &dyn MetricSink,
    config: &ReporterConfig,
    event: &EventBridgeEvent<PipelineExecutionStatusChange>,
) -> Result<Reported, ReportError>
where
    S: ObjectStore + ?Sized,
    P: PipelineRunner + ?Sized,
    R: ModelRegistry + ?Sized,
{
    let detail = &event.detail;
    let arn = &detail.pipeline_execution_arn;
    if pipeline_name_of_arn(arn) != Some(config.pipeline_name.as_str()) {
        return Ok(Reported::Ignored {
            reason: format!(
                "execution {arn} is not of pipeline {}",
                config.pipeline_name
            ),
        });
    }
    if !detail.is_terminal() {
        return Ok(Reported::Ignored {
            reason: format!(
                "status {} is not terminal",
                detail.current_pipeline_execution_status
            ),
        });
    }
    let record = collect(store, pipelines, registry, arn).await?;
    for document in emf_documents(&config.namespace, &record) {
        metrics.emit(&document.to_value(now_ms()));
    }
    report::write_dataset_report(store, &config.reports_prefix, &record).await?;
    report::write_leaderboard(store, &config.reports_prefix, &record).await?;
    tracing::info!(dataset = %record.dataset, status = %record.status, "execution reported");
    Ok(Reported::Recorded(Box::new(record)))
}

/// Everything known about one finished execution.
pub async fn collect<S, P, R>(
    store: &S,
    pipelines: &P,
    registry: &R,
    arn: &str,
) -> Result<ExecutionRecord, ReportError>
where
    S: ObjectStore + ?Sized,
    P: PipelineRunner + ?Sized,
    R: ModelRegistry + ?Sized,
{
    let execution = pipelines.describe_execution(arn).await?;
    let parameters = pipelines.execution_parameters(arn).await?;
    let dataset = parameters
        .iter()
        .find(|parameter| parameter.name == DATASET_NAME)
        .map(|parameter| parameter.value.clone())
        .ok_or_else(|| ReportError::NoDataset(arn.to_string()))?;
    let steps = pipelines.execution_steps(arn).await?;
    let registered = steps
        .iter()
        .find(|step| step.name == STEP_REGISTER)
        .and_then(|step| step.registered_model_package_arn.clone());
    let mut quality = None;
    let mut model_version = None;
    if let Some(package) = &registered {
        let version = registry.describe_version(package).await?;
        model_version = Some(version.summary.version);
        if let Some(uri) = version.evaluation_uri.as_deref().and_then(ObjectUri::parse) {
            quality = read_quality(store, &uri).await?;
        }
    }
    let duration_seconds = match (execution.created_at_ms, execution.last_modified_at_ms) {
        (Some(start), Some(end)) if end >= start => Some((end - start) as f64 / 1000.0),
        _ => None,
    };
    Ok(ExecutionRecord {
        execution_arn: arn.to_string(),
        dataset,
        status: execution.status,
        failure_reason: execution.failure_reason,
        started_at_ms: execution.created_at_ms,
        ended_at_ms: execution.last_modified_at_ms,
        duration_seconds,
        failed_steps: steps
            .iter()
            .filter(|s| s.status == StepStatus::Failed)
            .map(|s| s.name.clone())
            .collect(),
        model_package_arn: registered,
        model_version,
        quality,
    })
}

/// The largest evaluation report read. The evaluate step's are a few hundred KB at most (its
/// curves hold at most 10,000 points, and beyond 100 classes its confusion matrix only the
/// cells that are not zero); a larger one, read and parsed whole, could take the function's
/// memory, and a function that dies on an event is retried on it.
pub const MAX_REPORT_BYTES: u64 = 8 << 20;

/// Reads an evaluation report from the store's bucket (another bucket is skipped, logged, as
/// is one over [`MAX_REPORT_BYTES`], whose size is asked before its body is read).
async fn read_quality<S: ObjectStore + ?Sized>(
    store: &S,
    uri: &ObjectUri,
) -> Result<Option<Quality>, PortError> {
    if uri.bucket != store.bucket() {
        tracing::warn!(%uri, "evaluation report is in another bucket; quality not reported");
        return Ok(None);
    }
    let size = match store.head(&uri.key).await {
        Ok(meta) => meta.size,
        Err(PortError::NotFound(_)) => {
            tracing::warn!(%uri, "evaluation report missing; quality not reported");
            return Ok(None);
        }
        Err(error) => return Err(error),
    };
    if size > MAX_REPORT_BYTES {
        tracing::warn!(
            %uri,
            size,
            max = MAX_REPORT_BYTES,
            "evaluation report too large to read; quality not reported"
        );
        return Ok(None);
    }
    match store.get(&uri.key).await {
        Ok(object) => match Quality::from_report(&object.body) {
            Ok(quality) => Ok(Some(quality)),
            Err(reason) => {
                tracing::warn!(%uri, %reason, "evaluation report unreadable; quality not reported");
                Ok(None)
            }
        },
        Err(PortError::NotFound(_)) => {
            tracing::warn!(%uri, "evaluation report missing; quality not reported");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// The EMF documents of one execution: outcome and duration per dataset; model quality per
/// dataset and algorithm.
pub fn emf_documents(namespace: &str, record: &ExecutionRecord) -> Vec<EmfDocument> {
    let succeeded = record.status == ExecutionStatus::Succeeded;
    let mut outcome = EmfDocument::new(namespace)
        .dimension("Dataset", record.dataset.clone())
        .metric(
            "ExecutionSucceeded",
            if succeeded { 1.0 } else { 0.0 },
            Unit::Count,
        )
        .metric(
            "ExecutionFailed",
            if succeeded { 0.0 } else { 1.0 },
            Unit::Count,
        )
        .property("ExecutionArn", record.execution_arn.clone())
        .property("Status", record.status.as_str());
    if let Some(duration) = record.duration_seconds {
        outcome = outcome.metric("ExecutionDuration", duration, Unit::Seconds);
    }
    let mut documents = vec![outcome];
    if let Some(quality) = &record.quality {
        let mut document = EmfDocument::new(namespace)
            .dimension("Dataset", record.dataset.clone())
            .dimension("Algorithm", quality.algorithm.clone())
            .property("ExecutionArn", record.execution_arn.clone());
        for (name, value) in &quality.metrics {
            document = document.metric(name.clone(), *value, Unit::None);
        }
        if document.has_metrics() {
            documents.push(document);
        }
    }
    documents
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn config_reads_exactly_env_vars() {
        let _parsed = mmp_common::contract::config_reads_exactly(
            ReporterConfig::from_env,
            &[
                (config::ENV_BUCKET, "b"),
                (config::ENV_PIPELINE_NAME, "mmp"),
            ],
            ENV_VARS,
        );
    }
}
