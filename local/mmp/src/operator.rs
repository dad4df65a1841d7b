//! What an operator does to a deployment, written once over the ports: list executions and
//! their steps, list model versions with what is served, approve, reject, read the routing
//! table, upload a dataset. The local runtime's adapters or the AWS SDK's are underneath
//! (`mmp --target`), so a command means the same thing on both.

use std::collections::BTreeMap;

use mmp_common::naming::{self, NameError};
use mmp_common::ports::{
    ApprovalStatus, ExecutionHistory, ExecutionStep, ExecutionSummary, ModelRegistryOperator,
    ModelVersionSummary, ObjectStore, ObjectUri, PutCondition, StepJob,
};
use mmp_common::routing::{RoutingError, RoutingTable};
use mmp_common::PortError;
use pipeline_trigger::{DatasetSettings, RejectedUpload, SettingsError};
use serde::Serialize;

/// Every AWS API action the operator's commands call through the AWS adapters (and the
/// Function URL's), in IAM's spelling. `infra/operator.tf` grants exactly these, and the
/// emulated deployment's test holds the calls `mmp --target aws` makes against them.
pub const IAM_ACTIONS: &[&str] = &[
    // Uploads and the dataset's settings; reading the routing table, reports and evaluations.
    "s3:GetObject",
    "s3:PutObject",
    // Without ListBucket, S3 answers a missing key with 403 instead of 404.
    "s3:ListBucket",
    "sagemaker:ListPipelineExecutions",
    "sagemaker:ListPipelineExecutionSteps",
    "sagemaker:ListPipelineParametersForExecution",
    // A tuning step's trials and their objective values.
    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
    "sagemaker:ListModelPackageGroups",
    "sagemaker:ListModelPackages",
    "sagemaker:DescribeModelPackage",
    "sagemaker:UpdateModelPackage",
    "lambda:InvokeFunctionUrl",
];

/// Why an operator action failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// A dataset or group name the pipeline would refuse.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Settings the trigger would refuse.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// No such group, version or execution.
    #[error("{0}")]
    NotFound(String),
    /// The routing table could not be read.
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// A port failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// One deployment, seen through its ports.
pub struct Deployment<'a> {
    /// The pipeline; its groups are `<pipeline>-<dataset>`.
    pub pipeline_name: &'a str,
    /// The data bucket.
    pub store: &'a dyn ObjectStore,
    /// The model registry.
    pub registry: &'a dyn ModelRegistryOperator,
    /// The pipeline's executions.
    pub history: &'a dyn ExecutionHistory,
    /// The routing table's key in the bucket.
    pub routing_key: &'a str,
    /// Where the reports are (the trigger records rejected uploads under it).
    pub reports_prefix: &'a str,
}

/// A group's versions, newest first, and which one the endpoint serves.
#[derive(Debug, Clone, Serialize)]
pub struct GroupModels {
    /// The model package group.
    pub group: String,
    /// The dataset it belongs to.
    pub dataset: String,
    /// Its versions, newest first.
    pub versions: Vec<VersionView>,
    /// The version the routing table serves, if any.
    pub deployed_version: Option<u32>,
}

/// One version as an operator sees it: as listed, with what describing it adds.
#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    /// ARN, group, number, approval status, registration time.
    #[serde(flatten)]
    pub summary: ModelVersionSummary,
    /// `CustomerMetadataProperties` (`algorithm`, `pipeline_execution`, …).
    pub metadata: BTreeMap<String, String>,
    /// The artifact the endpoint loads.
    pub model_data_url: String,
    /// `evaluation.json`, if registered with one.
    pub evaluation_uri: Option<String>,
    /// The endpoint serves this version for its dataset.
    pub deployed: bool,
}

/// An execution as listed, with the dataset its display name names.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionView {
    /// ARN, status, times, failure reason.
    #[serde(flatten)]
    pub summary: ExecutionSummary,
    /// The ARN's last part, which `mmp executions ID` takes.
    pub id: String,
    /// The dataset it ran on.
    pub dataset: Option<String>,
}

impl From<ExecutionSummary> for ExecutionView {
    fn from(summary: ExecutionSummary) -> Self {
        ExecutionView {
            id: summary
                .arn
                .rsplit('/')
                .next()
                .unwrap_or(&summary.arn)
                .to_string(),
            dataset: summary
                .display_name
                .as_deref()
                .and_then(naming::dataset_of_display_name),
            summary,
        }
    }
}

/// One execution in full: its parameters and each step with the jobs it ran.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionDetail {
    /// The execution as listed.
    pub execution: ExecutionView,
    /// Every parameter with the value the execution used.
    pub parameters: BTreeMap<String, String>,
    /// The steps that started, as the executor reports them.
    pub steps: Vec<StepView>,
}

/// A step and the jobs it ran (a tuning step's trials).
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    /// Status, times, failure reason.
    #[serde(flatten)]
    pub step: ExecutionStep,
    /// Its jobs, trials in the order they started.
    pub jobs: Vec<StepJob>,
}

impl Deployment<'_> {
    /// The pipeline's executions, newest first (at most `limit`).
    pub async fn executions(&self, limit: usize) -> Result<Vec<ExecutionSummary>, OperatorError> {
        Ok(self
            .history
            .list_executions(self.pipeline_name, limit)
            .await?)
    }

    /// One execution with its parameters, steps and their jobs; `id` is its ARN or the ARN's
    /// last part.
    pub async fn execution(&self, id: &str) -> Result<ExecutionDetail, OperatorError> {
        let summary = self.execution_summary(id).await?;
        let parameters = self
            .history
            .execution_parameters(&summary.arn)
            .await?
            .into_iter()
            .map(|p| (p.name, p.value))
            .collect();
        let mut steps = Vec::new();
        for step in self.history.execution_steps(&summary.arn).await? {
            let jobs = self.history.step_jobs(&summary.arn, &step).await?;
            steps.push(StepView { step, jobs });
        }
        Ok(ExecutionDetail {
            execution: summary.into(),
            parameters,
            steps,
        })
    }

    async fn execution_summary(&self, id: &str) -> Result<ExecutionSummary, OperatorError> {
        self.executions(usize::MAX)
            .await?
            .into_iter()
            .find(|e| e.arn == id || e.arn.rsplit('/').next() == Some(id))
            .ok_or_else(|| {
                OperatorError::NotFound(format!(
                    "no execution {id} of pipeline {}",
                    self.pipeline_name
                ))
            })
    }

    /// Every group of the pipeline with its versions and what is served.
    pub async fn models(&self) -> Result<Vec<GroupModels>, OperatorError> {
        let routes = self.routing_table().await?;
        let prefix = format!("{}-", self.pipeline_name);
        let mut groups = Vec::new();
        for group in self.registry.list_groups(&prefix).await? {
            let Some(dataset) = naming::dataset_of_group(self.pipeline_name, &group) else {
                continue;
            };
            let deployed_version = routes
                .routes
                .get(&dataset)
                .filter(|route| route.group == group)
                .map(|route| route.version);
            let mut versions = Vec::new();
            for summary in self.registry.list_versions(&group, None).await? {
                let described = self.registry.describe_version(&summary.arn).await?;
                versions.push(VersionView {
                    deployed: deployed_version == Some(summary.version),
                    summary,
                    metadata: described.metadata,
                    model_data_url: described.model_data_url,
                    evaluation_uri: described.evaluation_uri,
                });
            }
            groups.push(GroupModels {
                group,
                dataset,
                versions,
                deployed_version,
            });
        }
        Ok(groups)
    }

    /// Sets the status of `version` (default: the newest) of a dataset's or group's models.
    /// The registry's state-change event is what deploys or withdraws it.
    pub async fn set_approval(
        &self,
        name: &str,
        version: Option<u32>,
        status: ApprovalStatus,
    ) -> Result<ModelVersionSummary, OperatorError> {
        let group = self.group_of(name).await?;
        let versions = self.registry.list_versions(&group, None).await?;
        let chosen = match version {
            Some(v) => versions.into_iter().find(|s| s.version == v),
            None => versions.into_iter().next(),
        };
        let mut chosen = chosen.ok_or_else(|| {
            OperatorError::NotFound(match version {
                Some(v) => format!("group {group} has no version {v}"),
                None => format!("group {group} has no versions"),
            })
        })?;
        self.registry.set_status(&chosen.arn, status).await?;
        chosen.status = status;
        Ok(chosen)
    }

    /// A version's evaluation report (`evaluation.json`), as the evaluate step wrote it; only
    /// from this deployment's bucket.
    pub async fn evaluation(&self, group: &str, version: u32) -> Result<Vec<u8>, OperatorError> {
        let summary = self
            .registry
            .list_versions(group, None)
            .await?
            .into_iter()
            .find(|s| s.version == version)
            .ok_or_else(|| OperatorError::NotFound(format!("{group} has no version {version}")))?;
        let described = self.registry.describe_version(&summary.arn).await?;
        let uri = described.evaluation_uri.ok_or_else(|| {
            OperatorError::NotFound(format!("{group} version {version} has no model metrics"))
        })?;
        let object = ObjectUri::parse(&uri)
            .filter(|object| object.bucket == self.store.bucket())
            .ok_or_else(|| {
                OperatorError::NotFound(format!(
                    "{uri} is not in the bucket {}",
                    self.store.bucket()
                ))
            })?;
        Ok(self.store.get(&object.key).await?.body)
    }

    /// The group a dataset or group name stands for, if the registry has it: `name` itself,
    /// else `<pipeline>-<name>`.
    pub async fn group_of(&self, name: &str) -> Result<String, OperatorError> {
        let groups = self
            .registry
            .list_groups(&format!("{}-", self.pipeline_name))
            .await?;
        if groups.iter().any(|g| g == name) {
            return Ok(name.to_string());
        }
        let group = naming::group_name(self.pipeline_name, name)?;
        if groups.contains(&group) {
            return Ok(group);
        }
        Err(OperatorError::NotFound(format!(
            "no model package group {name} or {group}: has the dataset's pipeline registered a model?"
        )))
    }

    /// Every upload the trigger refused (it started nothing), newest first: the records under
    /// `<reports>rejected-uploads/`.
    pub async fn rejected_uploads(&self) -> Result<Vec<RejectedUpload>, OperatorError> {
        let prefix = pipeline_trigger::rejected_uploads_prefix(self.reports_prefix);
        let mut all = Vec::new();
        for listed in self.store.list(&prefix).await? {
            let object = match self.store.get(&listed.key).await {
                Ok(object) => object,
                // Deleted since it was listed.
                Err(PortError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            match serde_json::from_slice::<RejectedUpload>(&object.body) {
                Ok(rejected) => all.push(rejected),
                Err(e) => {
                    tracing::warn!(key = %listed.key, error = %e, "not a rejected-upload record")
                }
            }
        }
        all.sort_by(|a, b| b.rejected_at.cmp(&a.rejected_at));
        Ok(all)
    }

    /// The endpoint's routing table (empty before the first deployment).
    pub async fn routing_table(&self) -> Result<RoutingTable, OperatorError> {
        match self.store.get(self.routing_key).await {
            Ok(object) => Ok(RoutingTable::from_slice(self.routing_key, &object.body)?),
            Err(PortError::NotFound(_)) => Ok(RoutingTable::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Puts `settings` as the dataset's `pipeline.json` (when given), then the CSV as
    /// `datasets/<dataset>/<file_name>`: the upload whose event starts an execution. The name
    /// and the settings are checked with the trigger's own code first, so nothing is written
    /// that the trigger would refuse. Returns the URIs written.
    pub async fn upload(
        &self,
        dataset: &str,
        file_name: &str,
        csv: Vec<u8>,
        settings: Option<Vec<u8>>,
    ) -> Result<Vec<String>, OperatorError> {
        let key = format!("{}{dataset}/{file_name}", naming::DATASETS_PREFIX);
        naming::parse_dataset_key(&key)?;
        let settings_key = naming::dataset_settings_key(dataset);
        match &settings {
            Some(settings) => {
                DatasetSettings::parse(&settings_key, settings)?;
            }
            // The settings already in the bucket apply to this upload: broken ones would make
            // the trigger refuse it, so refuse it here, before writing.
            None => match self.store.get(&settings_key).await {
                Ok(existing) => {
                    DatasetSettings::parse(&settings_key, &existing.body)?;
                }
                Err(PortError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            },
        }
        let bucket = self.store.bucket().to_string();
        let mut written = Vec::new();
        if let Some(settings) = settings {
            self.store
                .put(&settings_key, settings, PutCondition::None)
                .await?;
            written.push(format!("s3://{bucket}/{settings_key}"));
        }
        self.store.put(&key, csv, PutCondition::None).await?;
        written.push(format!("s3://{bucket}/{key}"));
        Ok(written)
    }
}
