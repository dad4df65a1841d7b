//! The local runtime's implementations of the handlers' ports: the same traits the Lambda
//! binaries implement with the AWS SDK, over the local store, registry, executor and endpoint.
//! Both pass `mmp_common::contract`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use mmp_common::ports::{
    ApprovalStatus, ExecutionDescription, ExecutionHistory, ExecutionStep, ExecutionSummary,
    Invocation, InvocationOutput, ModelEndpoint, ModelRegistry, ModelRegistryOperator,
    ModelVersion, ModelVersionSummary, ObjectMeta, ObjectStore, ObjectUri, Parameter,
    PipelineRunner, PutCondition, SourceVersion, StartExecution, StepJob, StoredObject,
    STEP_JOBS_LISTED,
};
#[cfg(feature = "contract-tests")]
use mmp_common::registry_admin::{ModelRegistryAdmin, NewModelVersion};
use mmp_common::PortError;
use mmp_executor::{ExecutionInfo, Executor, ExecutorError, StartOptions};
use mmp_object_store::{LocalStore, ObjectInfo, StoreError};

use crate::db;
use crate::endpoint::{EndpointError, LocalEndpoint};
use crate::registry::{ModelPackage, Registry, RegistryError};

fn store_error(e: StoreError) -> PortError {
    match e {
        StoreError::NotFound(k) => PortError::NotFound(k),
        StoreError::PreconditionFailed(k) => PortError::PreconditionFailed(k),
        StoreError::InvalidKey(k) => PortError::Rejected(format!("invalid key {k:?}")),
        e @ StoreError::NameTooLong { .. } => PortError::Rejected(e.to_string()),
        other => PortError::Other(other.to_string()),
    }
}

/// The port's shape of what the store answers from beside the object.
fn meta(info: ObjectInfo) -> ObjectMeta {
    ObjectMeta {
        key: info.key,
        etag: info.etag,
        size: info.size,
    }
}

/// [`ObjectStore`] over the bucket folder. File operations run on the blocking pool.
#[derive(Clone)]
pub struct StoreAdapter(pub Arc<LocalStore>);

impl StoreAdapter {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&LocalStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, PortError> {
        let store = self.0.clone();
        db::blocking(move || f(&store))
            .await
            .map_err(|e| PortError::Other(e.to_string()))?
            .map_err(store_error)
    }
}

#[async_trait]
impl ObjectStore for StoreAdapter {
    fn bucket(&self) -> &str {
        self.0.bucket_name()
    }

    async fn get(&self, key: &str) -> Result<StoredObject, PortError> {
        let key = key.to_string();
        let o = self.blocking(move |s| s.get(&key)).await?;
        Ok(StoredObject {
            body: o.body,
            etag: o.etag,
        })
    }

    async fn head(&self, key: &str) -> Result<ObjectMeta, PortError> {
        let key = key.to_string();
        Ok(meta(self.blocking(move |s| s.head(&key)).await?))
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<String, PortError> {
        let key = key.to_string();
        self.blocking(move |s| s.put(&key, &body, condition)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, PortError> {
        let prefix = prefix.to_string();
        let listed = self.blocking(move |s| s.list_objects(&prefix)).await?;
        Ok(listed.into_iter().map(meta).collect())
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let key = key.to_string();
        self.blocking(move |s| s.delete(&key)).await
    }

    async fn copy(&self, source: &ObjectUri, dest_key: &str) -> Result<String, PortError> {
        if source.bucket != self.0.bucket_name() {
            return Err(PortError::NotFound(format!(
                "{source}: only bucket {} exists locally",
                self.0.bucket_name()
            )));
        }
        let (from, to) = (source.key.clone(), dest_key.to_string());
        self.blocking(move |s| s.copy(&from, &to)).await
    }

    // The local bucket keeps no versions: the ETag condition alone makes the copy exact.
    async fn copy_version(
        &self,
        source: &ObjectUri,
        version: &SourceVersion,
        dest_key: &str,
    ) -> Result<String, PortError> {
        if source.bucket != self.0.bucket_name() {
            return Err(PortError::NotFound(format!(
                "{source}: only bucket {} exists locally",
                self.0.bucket_name()
            )));
        }
        let (from, etag, to) = (
            source.key.clone(),
            version.etag.clone(),
            dest_key.to_string(),
        );
        self.blocking(move |s| s.copy_if_match(&from, &etag, &to))
            .await
    }
}

fn registry_error(e: RegistryError) -> PortError {
    match e {
        RegistryError::NoSuchGroup(g) => PortError::NotFound(format!("model package group {g}")),
        RegistryError::NoSuchVersion(g, v) => PortError::NotFound(format!("model package {g}/{v}")),
        RegistryError::BadStatus(_) | RegistryError::BadRequest(_) => {
            PortError::Rejected(e.to_string())
        }
        RegistryError::Db(e) => PortError::Other(e.to_string()),
    }
}

/// `arn:…:model-package/<group>/<version>` → (group, version).
pub fn parse_package_arn(arn: &str) -> Option<(&str, i64)> {
    let (_, rest) = arn.split_once(":model-package/")?;
    let (group, version) = rest.rsplit_once('/')?;
    Some((group, version.parse().ok()?))
}

fn summary(p: &ModelPackage) -> ModelVersionSummary {
    ModelVersionSummary {
        arn: p.arn.clone(),
        group: p.group.clone(),
        version: u32::try_from(p.version).unwrap_or(u32::MAX),
        status: p.approval_status,
        created_at_ms: Some(p.created_ms),
    }
}

/// [`ModelRegistry`] over the SQLite registry. Its calls run on the blocking pool.
#[derive(Clone)]
pub struct RegistryAdapter(pub Arc<Registry>);

impl RegistryAdapter {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Registry) -> Result<T, RegistryError> + Send + 'static,
    ) -> Result<T, PortError> {
        let registry = self.0.clone();
        db::blocking(move || f(&registry))
            .await
            .map_err(|e| PortError::Other(e.to_string()))?
            .map_err(registry_error)
    }
}

#[async_trait]
impl ModelRegistry for RegistryAdapter {
    async fn list_versions(
        &self,
        group: &str,
        status: Option<ApprovalStatus>,
    ) -> Result<Vec<ModelVersionSummary>, PortError> {
        let group = group.to_string();
        let list = self.blocking(move |r| r.list(&group, status)).await?;
        Ok(list.iter().map(summary).collect())
    }

    async fn describe_version(&self, arn: &str) -> Result<ModelVersion, PortError> {
        let (group, version) = parse_package_arn(arn)
            .ok_or_else(|| PortError::NotFound(format!("model package {arn}")))?;
        let group = group.to_string();
        let p = self.blocking(move |r| r.describe(&group, version)).await?;
        Ok(ModelVersion {
            summary: summary(&p),
            model_data_url: p.model_data_url,
            evaluation_uri: p.metrics_url,
            // CustomerMetadataProperties: a map of strings, as SageMaker keeps it.
            metadata: p
                .metadata
                .as_object()
                .map(|object| {
                    object
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().map_or_else(|| v.to_string(), str::to_string),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

#[async_trait]
impl ModelRegistryOperator for RegistryAdapter {
    async fn list_groups(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        let prefix = prefix.to_string();
        let mut groups = self
            .blocking(move |r| {
                r.groups().map(|groups| {
                    groups
                        .into_iter()
                        .filter(|name| name.starts_with(&prefix))
                        .collect::<Vec<_>>()
                })
            })
            .await?;
        // SQLite's ORDER BY compares bytes as `str` does; sorted here so the port's order
        // does not rest on a collation.
        groups.sort();
        Ok(groups)
    }

    // Through the registry's listener, as `mmp approve` and the console: the change emits the
    // state-change event the deployer receives.
    async fn set_status(&self, arn: &str, status: ApprovalStatus) -> Result<(), PortError> {
        let (group, version) = parse_package_arn(arn)
            .ok_or_else(|| PortError::NotFound(format!("model package {arn}")))?;
        let group = group.to_string();
        self.blocking(move |r| r.set_approval(&group, version, status).map(|_| ()))
            .await
    }
}

// Test support only (see `mmp_common::registry_admin`).
#[cfg(feature = "contract-tests")]
#[async_trait]
impl ModelRegistryAdmin for RegistryAdapter {
    async fn ensure_group(&self, group: &str) -> Result<(), PortError> {
        let group = group.to_string();
        self.blocking(move |r| r.ensure_group(&group)).await
    }

    async fn register_version(
        &self,
        v: &NewModelVersion,
    ) -> Result<ModelVersionSummary, PortError> {
        let group = v.group.clone();
        if !self.blocking(move |r| r.group_exists(&group)).await? {
            return Err(PortError::NotFound(format!(
                "model package group {}",
                v.group
            )));
        }
        let mut input = serde_json::json!({
            "ModelPackageGroupName": v.group,
            "ModelApprovalStatus": v.status.as_str(),
            "InferenceSpecification": {"Containers": [{"Image": v.image_uri, "ModelDataUrl": v.model_data_url}]},
            "CustomerMetadataProperties": v.metadata,
        });
        if let Some(uri) = &v.evaluation_uri {
            input["ModelMetrics"] = serde_json::json!({"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}});
        }
        let p = self.blocking(move |r| r.create_package(&input)).await?;
        Ok(summary(&p))
    }
}

fn executor_error(e: ExecutorError) -> PortError {
    match e {
        ExecutorError::NotFound(_) => PortError::NotFound(e.to_string()),
        ExecutorError::InvalidParameter { .. } | ExecutorError::Definition(_) => {
            PortError::Rejected(e.to_string())
        }
        other => PortError::Other(other.to_string()),
    }
}

fn ms(t: std::time::SystemTime) -> Option<i64> {
    t.duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_millis() as i64)
}

/// [`PipelineRunner`] over the local executor, with the pipelines "created" in this runtime.
#[derive(Clone)]
pub struct PipelinesAdapter {
    /// The executor that runs the executions.
    pub executor: Executor,
    /// Pipeline name → rendered definition.
    pub pipelines: Arc<HashMap<String, String>>,
}

impl PipelinesAdapter {
    /// Runs `f` on the blocking pool: the executor keeps its state in SQLite.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Executor) -> Result<T, ExecutorError> + Send + 'static,
    ) -> Result<T, PortError> {
        let executor = self.executor.clone();
        db::blocking(move || f(&executor))
            .await
            .map_err(|e| PortError::Other(e.to_string()))?
            .map_err(executor_error)
    }

    fn describe(info: &ExecutionInfo) -> ExecutionDescription {
        ExecutionDescription {
            arn: info.arn.clone(),
            status: info.status,
            display_name: info.display_name.clone(),
            failure_reason: info.failure_reason.clone(),
            created_at_ms: ms(info.created),
            last_modified_at_ms: info.ended.and_then(ms).or_else(|| ms(info.created)),
        }
    }
}

#[async_trait]
impl PipelineRunner for PipelinesAdapter {
    async fn start_execution(&self, request: &StartExecution) -> Result<String, PortError> {
        let definition = self
            .pipelines
            .get(&request.pipeline_name)
            .ok_or_else(|| PortError::NotFound(format!("pipeline {}", request.pipeline_name)))?
            .clone();
        let parameters: BTreeMap<String, String> = request
            .parameters
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect();
        let request = request.clone();
        let info = self
            .blocking(move |e| {
                // StartPipelineExecution's optional fields, kept as SageMaker keeps them.
                let options = StartOptions {
                    client_request_token: Some(&request.client_request_token),
                    display_name: request.display_name.as_deref(),
                    description: request.description.as_deref(),
                };
                e.start_with(&request.pipeline_name, &definition, parameters, &options)
            })
            .await?;
        Ok(info.arn)
    }

    async fn describe_execution(&self, arn: &str) -> Result<ExecutionDescription, PortError> {
        let arn = arn.to_string();
        let info = self.blocking(move |e| e.describe(&arn)).await?;
        Ok(Self::describe(&info))
    }

    async fn execution_parameters(&self, arn: &str) -> Result<Vec<Parameter>, PortError> {
        let arn = arn.to_string();
        let info = self.blocking(move |e| e.describe(&arn)).await?;
        Ok(info
            .parameters
            .iter()
            .map(|(k, v)| Parameter::new(k.clone(), v.clone()))
            .collect())
    }

    async fn execution_steps(&self, arn: &str) -> Result<Vec<ExecutionStep>, PortError> {
        let arn = arn.to_string();
        let steps = self.blocking(move |e| e.steps(&arn)).await?;
        Ok(steps
            .into_iter()
            .map(|s| ExecutionStep {
                registered_model_package_arn: s.outputs["ModelPackageArn"]
                    .as_str()
                    .map(str::to_string),
                name: s.name,
                status: s.status,
                started_at_ms: s.started.and_then(ms),
                ended_at_ms: s.ended.and_then(ms),
                failure_reason: s.failure_reason,
                tuning_job_arn: None,
            })
            .collect())
    }
}

#[async_trait]
impl ExecutionHistory for PipelinesAdapter {
    // A pipeline is known when this runtime created it (as `start_execution` decides): an
    // unknown one is NotFound, as SageMaker answers it.
    async fn list_executions(
        &self,
        pipeline_name: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionSummary>, PortError> {
        if !self.pipelines.contains_key(pipeline_name) {
            return Err(PortError::NotFound(format!("pipeline {pipeline_name}")));
        }
        let name = pipeline_name.to_string();
        // Newest first, ties broken by start order (`mmp executions` lists the same).
        let list = self.blocking(move |e| e.list(Some(&name))).await?;
        Ok(list
            .into_iter()
            .take(limit)
            .map(|info| ExecutionSummary {
                started_at_ms: ms(info.created),
                ended_at_ms: info.ended.and_then(ms),
                arn: info.arn,
                status: info.status,
                display_name: info.display_name,
                failure_reason: info.failure_reason,
            })
            .collect())
    }

    // Every job the step ran (the local executor keeps each one's record, trials in order).
    async fn step_jobs(
        &self,
        execution_arn: &str,
        step: &ExecutionStep,
    ) -> Result<Vec<StepJob>, PortError> {
        let arn = execution_arn.to_string();
        let steps = self.blocking(move |e| e.steps(&arn)).await?;
        Ok(steps
            .into_iter()
            .find(|s| s.name == step.name)
            .map(|s| s.jobs)
            .unwrap_or_default()
            .into_iter()
            .take(STEP_JOBS_LISTED)
            .map(|job| StepJob {
                status: job.status.as_str().to_string(),
                definition_name: job.definition_name,
                objective: job.objective,
                hyperparameters: job.hyperparameters.unwrap_or_default(),
                started_at_ms: job.started.and_then(ms),
                ended_at_ms: job.ended.and_then(ms),
                failure_reason: job.failure_reason,
                name: job.name,
            })
            .collect())
    }
}

/// [`ModelEndpoint`] over the local multi-model endpoint.
#[derive(Clone)]
pub struct EndpointAdapter(pub Arc<LocalEndpoint>);

#[async_trait]
impl ModelEndpoint for EndpointAdapter {
    async fn invoke(&self, invocation: &Invocation) -> Result<InvocationOutput, PortError> {
        let answer = self
            .0
            .invoke(
                &invocation.target_model,
                &invocation.content_type,
                invocation.accept.as_deref().unwrap_or("application/json"),
                invocation.body.clone(),
            )
            .await
            .map_err(|e| match e {
                EndpointError::ModelNotFound(m) => PortError::NotFound(format!("target model {m}")),
                EndpointError::LoadFailed { .. } => PortError::Rejected(e.to_string()),
                EndpointError::Unavailable(_) => PortError::Throttled(e.to_string()),
                other => PortError::Other(other.to_string()),
            })?;
        match answer.status {
            200..=299 => Ok(InvocationOutput {
                body: answer.body,
                content_type: Some(answer.content_type),
            }),
            // SageMaker reports a container's 4xx as ModelError carrying its body: the rows
            // are at fault.
            400..=499 => Err(PortError::BadInput(
                String::from_utf8_lossy(&answer.body).into_owned(),
            )),
            _ => Err(PortError::Throttled(
                String::from_utf8_lossy(&answer.body).into_owned(),
            )),
        }
    }
}

/// The local runtime's ports for the operator's actions ([`crate::operator`]): what
/// `--target aws` gets from the AWS adapters, over this machine's store, registry and executor.
pub struct LocalPorts {
    pipeline_name: String,
    store: StoreAdapter,
    registry: RegistryAdapter,
    pipelines: PipelinesAdapter,
}

impl LocalPorts {
    /// The ports of `system`, with `executor` for its executions and `definition` as its
    /// pipeline's (rendered) definition.
    pub fn new(system: &crate::system::System, executor: Executor, definition: String) -> Self {
        LocalPorts {
            pipeline_name: system.pipeline_name.clone(),
            store: StoreAdapter(system.store.clone()),
            registry: RegistryAdapter(system.registry.clone()),
            pipelines: PipelinesAdapter {
                executor,
                pipelines: Arc::new(HashMap::from([(system.pipeline_name.clone(), definition)])),
            },
        }
    }

    /// The operator's view of this machine's deployment.
    pub fn deployment(&self) -> crate::operator::Deployment<'_> {
        crate::operator::Deployment {
            pipeline_name: &self.pipeline_name,
            store: &self.store,
            registry: &self.registry,
            history: &self.pipelines,
            routing_key: mmp_common::naming::DEFAULT_ROUTING_KEY,
            reports_prefix: mmp_common::naming::DEFAULT_REPORTS_PREFIX,
        }
    }
}
