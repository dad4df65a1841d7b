//! The ports (traits) the handlers use, and the two an operator's commands use on top
//! ([`ModelRegistryOperator`], [`ExecutionHistory`]: `mmp models|approve|reject|executions`,
//! locally or against AWS). Every method is async through `async_trait`, so that the
//! traits stay dyn-compatible (`Arc<dyn ObjectStore>` works) and every future is `Send` (the
//! local runtime can `tokio::spawn` handlers). Implementations: the AWS SDK adapters in
//! the `aws` module (feature `aws`) and the local runtime's own; both must pass the `contract`
//! suite. (Named, not linked: those modules depend on this one, never the reverse.)

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::PortError;

// ---------------------------------------------------------------- object store

/// An object read from the store, with its entity tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The object's bytes.
    pub body: Vec<u8>,
    /// Opaque: pass it back unchanged in [`PutCondition::IfMatch`]. Equal for equal versions.
    pub etag: String,
}

/// A listed or inspected object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: String,
    /// Its ETag (as [`StoredObject::etag`]).
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
}

// One parser and one condition for every store: they live with the pipeline contract.
pub use mmp_pipeline::object::{ObjectUri, PutCondition};

/// Which bytes of a copy's source must be copied: the version an event named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceVersion {
    /// The ETag the source must have (`x-amz-copy-source-if-match`), quoted or not.
    pub etag: String,
    /// The version to read in a versioned bucket (`?versionId=`); `None` reads the current one.
    pub version_id: Option<String>,
}

/// One bucket (S3) or one folder tree (local): keys are `/`-separated, with no leading `/`.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// The bucket this store reads and writes (`s3://<bucket>/<key>` names its objects).
    fn bucket(&self) -> &str;
    /// The object's bytes and ETag; [`PortError::NotFound`] if there is none.
    async fn get(&self, key: &str) -> Result<StoredObject, PortError>;
    /// The object's ETag and size, without the body; `NotFound` if there is none.
    async fn head(&self, key: &str) -> Result<ObjectMeta, PortError>;
    /// Writes the object under `condition` and returns its new ETag.
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<String, PortError>;
    /// Every object whose key starts with `prefix`, sorted by key (all pages).
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, PortError>;
    /// Deletes the object; deleting a missing key succeeds.
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// Copies `source` to `dest_key` in this store and returns the copy's ETag;
    /// `NotFound` if the source does not exist.
    async fn copy(&self, source: &ObjectUri, dest_key: &str) -> Result<String, PortError>;
    /// Copies exactly `version` of `source` to `dest_key` and returns the copy's ETag:
    /// [`PortError::PreconditionFailed`] if the source read no longer has `version.etag` (it
    /// was overwritten), `NotFound` if it does not exist. A store without versions ignores
    /// `version_id`; the ETag condition alone makes the copy exact.
    async fn copy_version(
        &self,
        source: &ObjectUri,
        version: &SourceVersion,
        dest_key: &str,
    ) -> Result<String, PortError>;
}

// ---------------------------------------------------------------- model registry

// The statuses live with the pipeline contract, which the executor shares.
pub use mmp_pipeline::status::{ApprovalStatus, ExecutionStatus, StepStatus};

/// One version of a model package group, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersionSummary {
    /// The model package ARN.
    pub arn: String,
    /// The model package group.
    pub group: String,
    /// 1, 2, 3… in registration order.
    pub version: u32,
    /// The version's approval status.
    pub status: ApprovalStatus,
    /// Registration time, milliseconds since the Unix epoch, if known.
    pub created_at_ms: Option<i64>,
}

/// One version, described: what the deployer copies and the reporter reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// The version as listed.
    pub summary: ModelVersionSummary,
    /// `s3://…/model.tar.gz` of the inference container.
    pub model_data_url: String,
    /// `s3://…/evaluation.json` (model quality statistics), if registered with one.
    pub evaluation_uri: Option<String>,
    /// The version's `CustomerMetadataProperties` (the pipeline records the algorithm and the
    /// execution that registered it).
    pub metadata: BTreeMap<String, String>,
}

/// The model registry (SageMaker model package groups, or the local SQLite registry).
#[async_trait]
pub trait ModelRegistry: Send + Sync {
    /// The group's versions, newest (highest version number) first, only those with `status`
    /// if given. An unknown group has no versions: an empty list, not an error.
    async fn list_versions(
        &self,
        group: &str,
        status: Option<ApprovalStatus>,
    ) -> Result<Vec<ModelVersionSummary>, PortError>;
    /// One version by ARN; `NotFound` if there is none.
    async fn describe_version(&self, arn: &str) -> Result<ModelVersion, PortError>;
}

/// What an operator does to the registry beyond what the handlers read: list the pipeline's
/// groups, approve and reject.
#[async_trait]
pub trait ModelRegistryOperator: ModelRegistry {
    /// The names of the model package groups whose name starts with `prefix`, sorted by name.
    async fn list_groups(&self, prefix: &str) -> Result<Vec<String>, PortError>;
    /// Changes a version's approval status (`NotFound` if there is no such version). On AWS
    /// this is UpdateModelPackage, whose state-change event reaches the deployer.
    async fn set_status(&self, arn: &str, status: ApprovalStatus) -> Result<(), PortError>;
}

// ---------------------------------------------------------------- pipeline executor

/// A pipeline parameter, name and value as strings (SageMaker's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameter {
    /// The parameter's name, as the pipeline definition declares it.
    pub name: String,
    /// Its value.
    pub value: String,
}

impl Parameter {
    /// A parameter `name` = `value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Parameter {
        Parameter {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A request to start one execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartExecution {
    /// The pipeline to run.
    pub pipeline_name: String,
    /// Idempotency token (SageMaker deduplicates on it; max 128 characters).
    pub client_request_token: String,
    /// A name shown in consoles and listings.
    pub display_name: Option<String>,
    /// A free-text description (the trigger names the upload).
    pub description: Option<String>,
    /// The parameters; those not given take the definition's defaults.
    pub parameters: Vec<Parameter>,
}

/// An execution as described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionDescription {
    /// The execution's ARN.
    pub arn: String,
    /// Its current status.
    pub status: ExecutionStatus,
    /// Its display name, if it has one.
    pub display_name: Option<String>,
    /// Why it failed, if it did.
    pub failure_reason: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: Option<i64>,
    /// When its status last changed, milliseconds since the Unix epoch.
    pub last_modified_at_ms: Option<i64>,
}

/// An execution as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionSummary {
    /// The execution's ARN.
    pub arn: String,
    /// Its current status.
    pub status: ExecutionStatus,
    /// Its display name, if it has one.
    pub display_name: Option<String>,
    /// When it started, milliseconds since the Unix epoch.
    pub started_at_ms: Option<i64>,
    /// When it ended, milliseconds since the Unix epoch: the local executor knows; SageMaker's
    /// list does not say (`None`).
    pub ended_at_ms: Option<i64>,
    /// Why it failed, if it did.
    pub failure_reason: Option<String>,
}

/// One step of an execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionStep {
    /// The step's name in the pipeline definition.
    pub name: String,
    /// Its status.
    pub status: StepStatus,
    /// When it started, milliseconds since the Unix epoch.
    pub started_at_ms: Option<i64>,
    /// When it ended, milliseconds since the Unix epoch.
    pub ended_at_ms: Option<i64>,
    /// Why it failed, if it did.
    pub failure_reason: Option<String>,
    /// The register step's model package ARN (step metadata `RegisterModel.Arn`).
    pub registered_model_package_arn: Option<String>,
    /// A tuning step's hyperparameter tuning job (step metadata `TuningJob.Arn`).
    pub tuning_job_arn: Option<String>,
}

/// One job a step ran: a tuning step's training jobs (its trials), or on the local executor
/// also a processing or training step's one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepJob {
    /// The job's name.
    pub name: String,
    /// SageMaker's status of the job (`InProgress`, `Completed`, `Failed`, `Stopping`, `Stopped`).
    pub status: String,
    /// A trial's training job definition (the algorithm family it tried).
    pub definition_name: Option<String>,
    /// A trial's final objective metric value.
    pub objective: Option<f64>,
    /// A trial's tuned hyperparameters (the job's hyperparameters on the local executor).
    pub hyperparameters: BTreeMap<String, String>,
    /// When it started, milliseconds since the Unix epoch.
    pub started_at_ms: Option<i64>,
    /// When it ended, milliseconds since the Unix epoch.
    pub ended_at_ms: Option<i64>,
    /// Why it failed, if it did.
    pub failure_reason: Option<String>,
}

/// The pipeline executor (SageMaker Pipelines, or the local executor).
#[async_trait]
pub trait PipelineRunner: Send + Sync {
    /// Starts an execution and returns its ARN; `NotFound` if the pipeline does not exist.
    async fn start_execution(&self, request: &StartExecution) -> Result<String, PortError>;
    /// `NotFound` if there is no such execution.
    async fn describe_execution(&self, arn: &str) -> Result<ExecutionDescription, PortError>;
    /// The parameters the execution runs with (defaults included where the executor reports them).
    async fn execution_parameters(&self, arn: &str) -> Result<Vec<Parameter>, PortError>;
    /// The execution's steps, in the order the executor reports them.
    async fn execution_steps(&self, arn: &str) -> Result<Vec<ExecutionStep>, PortError>;
}

/// Past executions of a pipeline.
#[async_trait]
pub trait ExecutionHistory: PipelineRunner {
    /// The pipeline's executions, newest first (at most `limit`).
    ///
    /// An unknown pipeline is `NotFound`, as SageMaker answers it (ResourceNotFound), even with
    /// `limit` 0; a known one without executions is an empty list.
    async fn list_executions(
        &self,
        pipeline_name: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionSummary>, PortError>;

    /// The jobs `step` of `execution_arn` ran, at most [`STEP_JOBS_LISTED`]: its tuning job's
    /// trials, in the order they started.
    async fn step_jobs(
        &self,
        execution_arn: &str,
        step: &ExecutionStep,
    ) -> Result<Vec<StepJob>, PortError>;
}

/// The most jobs [`ExecutionHistory::step_jobs`] lists (SageMaker runs at most 750 trials).
pub const STEP_JOBS_LISTED: usize = 1000;

// ---------------------------------------------------------------- endpoint

/// One request to the multi-model endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The artifact name relative to the multi-model prefix (`TargetModel`).
    pub target_model: String,
    /// The body's media type (`text/csv`).
    pub content_type: String,
    /// The media type asked for; the container's default if `None`.
    pub accept: Option<String>,
    /// The rows to predict.
    pub body: Vec<u8>,
}

/// The endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationOutput {
    /// The predictions, as the container answered them.
    pub body: Vec<u8>,
    /// Their media type, if the endpoint said.
    pub content_type: Option<String>,
}

/// The multi-model endpoint (SageMaker, or the local endpoint).
///
/// Errors: `NotFound` (no endpoint, or no such target model), `Throttled` (throttling,
/// service unavailable: retry), `Rejected` (the model container answered with an error).
#[async_trait]
pub trait ModelEndpoint: Send + Sync {
    /// Sends one invocation to its target model.
    async fn invoke(&self, invocation: &Invocation) -> Result<InvocationOutput, PortError>;
}

// ---------------------------------------------------------------- metrics

/// Where CloudWatch Embedded Metric Format documents go: stdout in Lambda (CloudWatch Logs
/// extracts them), anywhere the local runtime likes.
pub trait MetricSink: Send + Sync {
    /// Sends one EMF document.
    fn emit(&self, document: &serde_json::Value);
}

/// Writes each document as one line on stdout (what Lambda needs for EMF).
#[derive(Debug, Default, Clone, Copy)]
pub struct StdoutMetricSink;

impl MetricSink for StdoutMetricSink {
    fn emit(&self, document: &serde_json::Value) {
        println!("{document}");
    }
}

/// Keeps every document in memory (tests, and the local runtime if it wants them).
#[derive(Debug, Default)]
pub struct MemoryMetricSink {
    documents: std::sync::Mutex<Vec<serde_json::Value>>,
}

impl MemoryMetricSink {
    /// Every document emitted so far, in order.
    pub fn documents(&self) -> Vec<serde_json::Value> {
        match self.documents.lock() {
            Ok(documents) => documents.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl MetricSink for MemoryMetricSink {
    fn emit(&self, document: &serde_json::Value) {
        match self.documents.lock() {
            Ok(mut documents) => documents.push(document.clone()),
            Err(poisoned) => poisoned.into_inner().push(document.clone()),
        }
    }
}

// Blanket impls so handlers and the invoker can hold `&S`, `Arc<S>`, `Box<dyn Port>` alike.
macro_rules! forward_object_store {
    ($ty:ty) => {
        #[async_trait]
        impl<T: ObjectStore + ?Sized> ObjectStore for $ty {
            fn bucket(&self) -> &str {
                (**self).bucket()
            }
            async fn get(&self, key: &str) -> Result<StoredObject, PortError> {
                (**self).get(key).await
            }
            async fn head(&self, key: &str) -> Result<ObjectMeta, PortError> {
                (**self).head(key).await
            }
            async fn put(
                &self,
                key: &str,
                body: Vec<u8>,
                condition: PutCondition,
            ) -> Result<String, PortError> {
                (**self).put(key, body, condition).await
            }
            async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, PortError> {
                (**self).list(prefix).await
            }
            async fn delete(&self, key: &str) -> Result<(), PortError> {
                (**self).delete(key).await
            }
            async fn copy(&self, source: &ObjectUri, dest_key: &str) -> Result<String, PortError> {
                (**self).copy(source, dest_key).await
            }
            async fn copy_version(
                &self,
                source: &ObjectUri,
                version: &SourceVersion,
                dest_key: &str,
            ) -> Result<String, PortError> {
                (**self).copy_version(source, version, dest_key).await
            }
        }
    };
}
forward_object_store!(std::sync::Arc<T>);
forward_object_store!(Box<T>);
forward_object_store!(&T);

macro_rules! forward_registry {
    ($ty:ty) => {
        #[async_trait]
        impl<T: ModelRegistry + ?Sized> ModelRegistry for $ty {
            async fn list_versions(
                &self,
                group: &str,
                status: Option<ApprovalStatus>,
            ) -> Result<Vec<ModelVersionSummary>, PortError> {
                (**self).list_versions(group, status).await
            }
            async fn describe_version(&self, arn: &str) -> Result<ModelVersion, PortError> {
                (**self).describe_version(arn).await
            }
        }
    };
}
forward_registry!(std::sync::Arc<T>);
forward_registry!(Box<T>);
forward_registry!(&T);

macro_rules! forward_registry_operator {
    ($ty:ty) => {
        #[async_trait]
        impl<T: ModelRegistryOperator + ?Sized> ModelRegistryOperator for $ty {
            async fn list_groups(&self, prefix: &str) -> Result<Vec<String>, PortError> {
                (**self).list_groups(prefix).await
            }
            async fn set_status(&self, arn: &str, status: ApprovalStatus) -> Result<(), PortError> {
                (**self).set_status(arn, status).await
            }
        }
    };
}
forward_registry_operator!(std::sync::Arc<T>);
forward_registry_operator!(Box<T>);
forward_registry_operator!(&T);

macro_rules! forward_pipeline_runner {
    ($ty:ty) => {
        #[async_trait]
        impl<T: PipelineRunner + ?Sized> PipelineRunner for $ty {
            async fn start_execution(&self, request: &StartExecution) -> Result<String, PortError> {
                (**self).start_execution(request).await
            }
            async fn describe_execution(
                &self,
                arn: &str,
            ) -> Result<ExecutionDescription, PortError> {
                (**self).describe_execution(arn).await
            }
            async fn execution_parameters(&self, arn: &str) -> Result<Vec<Parameter>, PortError> {
                (**self).execution_parameters(arn).await
            }
            async fn execution_steps(&self, arn: &str) -> Result<Vec<ExecutionStep>, PortError> {
                (**self).execution_steps(arn).await
            }
        }
    };
}
forward_pipeline_runner!(std::sync::Arc<T>);
forward_pipeline_runner!(Box<T>);
forward_pipeline_runner!(&T);

macro_rules! forward_execution_history {
    ($ty:ty) => {
        #[async_trait]
        impl<T: ExecutionHistory + ?Sized> ExecutionHistory for $ty {
            async fn list_executions(
                &self,
                pipeline_name: &str,
                limit: usize,
            ) -> Result<Vec<ExecutionSummary>, PortError> {
                (**self).list_executions(pipeline_name, limit).await
            }
            async fn step_jobs(
                &self,
                execution_arn: &str,
                step: &ExecutionStep,
            ) -> Result<Vec<StepJob>, PortError> {
                (**self).step_jobs(execution_arn, step).await
            }
        }
    };
}
forward_execution_history!(std::sync::Arc<T>);
forward_execution_history!(Box<T>);
forward_execution_history!(&T);

macro_rules! forward_endpoint {
    ($ty:ty) => {
        #[async_trait]
        impl<T: ModelEndpoint + ?Sized> ModelEndpoint for $ty {
            async fn invoke(&self, invocation: &Invocation) -> Result<InvocationOutput, PortError> {
                (**self).invoke(invocation).await
            }
        }
    };
}
forward_endpoint!(std::sync::Arc<T>);
forward_endpoint!(Box<T>);
forward_endpoint!(&T);
