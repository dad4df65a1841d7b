//! What a user does to the system: upload a dataset, approve or reject a model version, read
//! the routing table. The CLI and the console both call these, so a click and a command make
//! the same writes and the same events fire.

use mmp_common::naming::{self, NameError};
use mmp_common::ports::ApprovalStatus;
use mmp_common::routing::{RoutingError, RoutingTable};
use mmp_executor::{ExecutionInfo, ExecutionStatus, ExecutorError};
use pipeline_trigger::{Claim, DatasetSettings, RejectedUpload, SettingsError};
use serde::{Deserialize, Serialize};

use crate::adapters::LocalPorts;
use crate::function::Function;
use crate::operator::OperatorError;
use crate::registry::{ModelPackage, RegistryError};
use crate::system::{unix_ms, System, BUCKET_NAME};
use mmp_object_store::{etag_of, PutCondition, Staged, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("{0}")]
    BadInput(String),
    /// The settings given with an upload: the trigger would refuse them.
    #[error("{0}")]
    Settings(#[from] SettingsError),
    /// The dataset's `pipeline.json` already in the bucket, which the trigger refuses: every
    /// upload of the dataset would start nothing.
    #[error("{0}; the trigger starts nothing for this dataset until it is fixed: upload a corrected pipeline.json with the data (`mmp upload --settings`, or the console's settings file)")]
    BlockedBySettings(SettingsError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error(transparent)]
    Executor(#[from] ExecutorError),
    #[error("could not queue the request: {0}")]
    Outbox(#[from] rusqlite::Error),
    #[error(transparent)]
    Operator(#[from] OperatorError),
}

/// An upload that was written, and what is known of what the trigger will do with it.
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    /// The URIs written (the settings first, when given).
    pub uploaded: Vec<String>,
    pub dataset: String,
    pub key: String,
    pub etag: String,
    /// The trigger's idempotency token of this upload (bucket, key and ETag).
    pub token: String,
    /// Identical bytes were uploaded to this key before and started this execution: the
    /// trigger starts nothing for this upload (`mmp retry` runs a failed one again).
    pub earlier_execution: Option<String>,
    /// When it was written (RFC 3339), to tell this upload's rejection from an earlier one's.
    pub uploaded_at: String,
}

/// Stores `csv` as `datasets/<dataset>/<file_name>` (an upload, which starts an execution),
/// after `settings` as the dataset's `pipeline.json` when given. Nothing is written unless
/// the trigger would act on it: the name, the settings given (or already in the bucket) are
/// checked with the trigger's own code first.
pub fn upload_dataset(
    system: &System,
    dataset: &str,
    file_name: &str,
    csv: &[u8],
    settings: Option<&[u8]>,
) -> Result<Upload, ActionError> {
    let mut upload = check_upload(
        system,
        dataset,
        file_name,
        csv.len() as u64,
        etag_of(csv),
        settings,
    )?;
    write_settings(system, &mut upload, settings)?;
    system.store.put(&upload.key, csv, PutCondition::None)?;
    upload.uploaded.push(system.store.uri_of(&upload.key));
    Ok(upload)
}

/// [`upload_dataset`] of a body already staged in the bucket's folder (the console streams
/// uploads there rather than holding them in memory).
pub fn upload_staged_dataset(
    system: &System,
    dataset: &str,
    file_name: &str,
    csv: Staged,
    settings: Option<&[u8]>,
) -> Result<Upload, ActionError> {
    let mut upload = check_upload(system, dataset, file_name, csv.size(), csv.etag(), settings)?;
    write_settings(system, &mut upload, settings)?;
    system
        .store
        .put_staged(&upload.key, csv, PutCondition::None)?;
    upload.uploaded.push(system.store.uri_of(&upload.key));
    Ok(upload)
}

fn write_settings(
    system: &System,
    upload: &mut Upload,
    settings: Option<&[u8]>,
) -> Result<(), ActionError> {
    if let Some(settings) = settings {
        let settings_key = naming::dataset_settings_key(&upload.dataset);
        system
            .store
            .put(&settings_key, settings, PutCondition::None)?;
        upload.uploaded.push(system.store.uri_of(&settings_key));
    }
    Ok(())
}

/// Everything the trigger checks, before anything is written.
fn check_upload(
    system: &System,
    dataset: &str,
    file_name: &str,
    size: u64,
    etag: String,
    settings: Option<&[u8]>,
) -> Result<Upload, ActionError> {
    let key = format!("{}{dataset}/{file_name}", naming::DATASETS_PREFIX);
    naming::parse_dataset_key(&key)?;
    // Refused here rather than by the trigger, so the one who uploads sees why.
    naming::group_name(&system.pipeline_name, dataset)?;
    if size == 0 {
        return Err(ActionError::BadInput(format!("{file_name} is empty")));
    }
    let settings_key = naming::dataset_settings_key(dataset);
    match settings {
        Some(settings) => {
            DatasetSettings::parse(&settings_key, settings)?;
        }
        None => match system.store.get(&settings_key) {
            Ok(current) => {
                DatasetSettings::parse(&settings_key, &current.body)
                    .map_err(ActionError::BlockedBySettings)?;
            }
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        },
    }
    let token = pipeline_trigger::upload_token(BUCKET_NAME, &key, &etag);
    let earlier_execution = claim(system, &token)?.and_then(|c| c.execution_arn);
    Ok(Upload {
        uploaded: Vec::new(),
        dataset: dataset.to_string(),
        key,
        etag,
        token,
        earlier_execution,
        uploaded_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// The trigger's claim of an upload (`triggers/<token>.json`), if it made one.
fn claim(system: &System, token: &str) -> Result<Option<Claim>, ActionError> {
    let key = format!("{}{token}.json", naming::DEFAULT_TRIGGER_CLAIMS_PREFIX);
    match system.store.get(&key) {
        Ok(object) => Ok(serde_json::from_slice(&object.body).ok()),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What the trigger did with an upload, read from what it writes: its claim, or its record
/// of a rejected upload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TriggerOutcome {
    Started {
        execution_arn: String,
    },
    /// Identical bytes were uploaded before: that upload's execution, nothing new.
    AlreadyStarted {
        execution_arn: String,
    },
    Rejected(RejectedUpload),
}

/// The trigger's outcome for `upload`, or `None` while it has not handled it.
pub fn trigger_outcome(
    system: &System,
    upload: &Upload,
) -> Result<Option<TriggerOutcome>, ActionError> {
    let rejected_key = pipeline_trigger::rejected_upload_key(
        naming::DEFAULT_REPORTS_PREFIX,
        &upload.dataset,
        &upload.token,
    );
    match system.store.get(&rejected_key) {
        Ok(object) => {
            if let Ok(rejected) = serde_json::from_slice::<RejectedUpload>(&object.body) {
                // The same bytes may have been rejected before, for another reason.
                if !is_before(&rejected.rejected_at, &upload.uploaded_at) {
                    return Ok(Some(TriggerOutcome::Rejected(rejected)));
                }
            }
        }
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(arn) = &upload.earlier_execution {
        return Ok(Some(TriggerOutcome::AlreadyStarted {
            execution_arn: arn.clone(),
        }));
    }
    Ok(claim(system, &upload.token)?
        .and_then(|c| c.execution_arn)
        .map(|execution_arn| TriggerOutcome::Started { execution_arn }))
}

fn is_before(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a < b,
        _ => false,
    }
}

/// Every upload the trigger refused, newest first, through the operator (as on AWS).
pub async fn rejected_uploads(ports: &LocalPorts) -> Result<Vec<RejectedUpload>, ActionError> {
    Ok(ports.deployment().rejected_uploads().await?)
}

/// Sets the approval status of version `version` (default: the newest) of a dataset's or
/// group's models, through the operator's one implementation ([`crate::operator`]) over this
/// machine's ports; the registry emits the state-change event the deployer acts on.
pub async fn set_approval(
    system: &System,
    ports: &LocalPorts,
    name: &str,
    version: Option<i64>,
    status: ApprovalStatus,
) -> Result<ModelPackage, ActionError> {
    let version = version
        .map(|v| {
            u32::try_from(v).ok().filter(|v| *v > 0).ok_or_else(|| {
                ActionError::BadInput(format!("version {v} is not a version number (1, 2, 3…)"))
            })
        })
        .transpose()?;
    let decided = ports
        .deployment()
        .set_approval(name, version, status)
        .await?;
    Ok(system
        .registry
        .describe(&decided.group, i64::from(decided.version))?)
}

/// The endpoint's routing table (empty before the first deployment).
pub fn routing_table(system: &System) -> Result<RoutingTable, ActionError> {
    match system.store.get(naming::DEFAULT_ROUTING_KEY) {
        Ok(o) => Ok(RoutingTable::from_slice(
            naming::DEFAULT_ROUTING_KEY,
            &o.body,
        )?),
        Err(StoreError::NotFound(_)) => Ok(RoutingTable::new()),
        Err(e) => Err(e.into()),
    }
}

/// A retry asked for by `mmp retry`, delivered through the outbox to the running `mmp up`
/// (which runs the executions), so that it is as durable as an upload: queued while no
/// `mmp up` runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetryRequest {
    pub execution: String,
    /// When the execution ended, as it was asked: a redelivery after the retry, or after it
    /// ended again, finds another end and does nothing.
    pub ended_ms: i64,
}

impl RetryRequest {
    /// Whether `execution` is still the one that was asked to be retried.
    pub fn is_due(&self, execution: &ExecutionInfo) -> bool {
        is_retryable(execution.status) && execution.ended.map(unix_ms) == Some(self.ended_ms)
    }
}

fn is_retryable(status: ExecutionStatus) -> bool {
    matches!(status, ExecutionStatus::Failed | ExecutionStatus::Stopped)
}

/// Queues RetryPipelineExecution of `execution` for the running system; refused at once
/// unless it is Failed or Stopped.
pub fn queue_retry(
    system: &System,
    execution: &ExecutionInfo,
) -> Result<RetryRequest, ActionError> {
    let ended_ms = match execution.ended {
        Some(ended) if is_retryable(execution.status) => unix_ms(ended),
        _ => {
            return Err(ExecutorError::NotRetryable {
                id: execution.id.clone(),
                status: execution.status.as_str().to_string(),
            }
            .into())
        }
    };
    let request = RetryRequest {
        execution: execution.id.clone(),
        ended_ms,
    };
    let event = serde_json::to_value(&request)
        .map_err(|e| ActionError::BadInput(format!("retry request: {e}")))?;
    system.outbox.push(Function::RetryExecution, &event)?;
    Ok(request)
}
