//! The local world's state, opened from the data folder: the bucket, the registry and the
//! event outbox, wired so that every write emits the event AWS would emit — an S3
//! ObjectCreated notification for an upload, a "Model Package State Change" for a registration
//! or approval, a "Pipeline Execution Status Change" for an execution — routed by the same
//! rule patterns Terraform deploys.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use mmp_common::events::{MODEL_PACKAGE_STATE_CHANGE, PIPELINE_EXECUTION_STATUS_CHANGE};
use mmp_common::ports::ApprovalStatus;
use mmp_executor::{ExecutionInfo, ExecutionStatus, Executor, ExecutorConfig, ExecutorHooks};
use serde_json::{json, Value};

use crate::bus::Outbox;
use crate::db;
use crate::events::{self, Account};
use crate::home::Home;
use crate::registry::{ModelPackage, Registry};
use crate::rules::Rules;
use mmp_object_store::LocalStore;

/// The local bucket's name, as it appears in `s3://` URIs.
pub const BUCKET_NAME: &str = "mmp-local";
/// The default pipeline name (the model package groups' prefix).
pub const DEFAULT_PIPELINE_NAME: &str = "mmp";

/// `1` keeps each job's inputs and models in `jobs/` after its execution ends (see
/// `mmp_executor::retention`); by default they are dropped, the bucket holding them already.
pub const KEEP_JOB_INPUTS_ENV: &str = "MMP_KEEP_JOB_INPUTS";

/// The local world's state, as every command and the runtime share it: what AWS holds in the
/// cloud (the bucket, the registry, EventBridge's queue), kept in the data folder.
pub struct System {
    /// The data folder.
    pub home: Home,
    pub(crate) account: Account,
    /// The pipeline's name, the model package groups' prefix.
    pub pipeline_name: String,
    /// The local bucket; its ObjectCreated notifications go to the outbox.
    pub store: Arc<LocalStore>,
    /// The model registry; approval changes become events in the outbox.
    pub registry: Arc<Registry>,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) rules: Arc<Rules>,
}

impl System {
    /// Opens (or creates) the state in `home` for the pipeline named `pipeline_name`.
    pub fn open(home: Home, pipeline_name: &str) -> Result<Self> {
        let database = home.database();
        let open =
            || db::open(&database).with_context(|| format!("opening {}", database.display()));
        let account = Account::default();
        let outbox = Arc::new(Outbox::new(open()?));
        let rules = Arc::new(Rules::load(pipeline_name)?);

        let sequencer = AtomicU64::new(db::now_ms() as u64);
        let (notify_outbox, notify_rules, notify_account) =
            (outbox.clone(), rules.clone(), account.clone());
        let store = LocalStore::new(BUCKET_NAME, home.bucket(), open()?).with_notifications(Arc::new(
            move |key: &str, size: u64, etag: &str| {
                if let Some(target) = notify_rules.object_created_target(key) {
                    let seq = sequencer.fetch_add(1, Ordering::Relaxed);
                    let event = events::object_created(&notify_account, BUCKET_NAME, key, size, etag, seq);
                    if let Err(e) = notify_outbox.push(target, &event) {
                        tracing::error!(%key, error = %e, "could not queue the ObjectCreated notification");
                    }
                }
            },
        ));

        let (reg_outbox, reg_rules, reg_account) = (outbox.clone(), rules.clone(), account.clone());
        let registry =
            Registry::new(open()?, &account.region, &account.id).with_listener(Arc::new(
                move |package: &ModelPackage, _previous: Option<ApprovalStatus>| {
                    let event = model_package_event(&reg_account, package);
                    publish(&reg_outbox, &reg_rules, &event);
                },
            ));

        Ok(Self {
            home,
            account,
            pipeline_name: pipeline_name.to_string(),
            store: Arc::new(store),
            registry: Arc::new(registry),
            outbox,
            rules,
        })
    }

    /// The executor over this data folder, running jobs with `container_bin` (at most
    /// `max_parallel_jobs` at once, 0: one per core); registrations go to the registry,
    /// status changes to the bus.
    pub fn open_executor(
        &self,
        container_bin: PathBuf,
        max_parallel_jobs: usize,
    ) -> Result<Executor> {
        let hooks: Arc<dyn ExecutorHooks> = Arc::new(Hooks {
            registry: self.registry.clone(),
            outbox: self.outbox.clone(),
            rules: self.rules.clone(),
            account: self.account.clone(),
        });
        let config = ExecutorConfig {
            db_path: self.home.database(),
            bucket_root: self.home.bucket(),
            bucket_name: BUCKET_NAME.to_string(),
            jobs_root: self.home.jobs(),
            container_bin,
            max_parallel_jobs,
            // What the machine has available: jobs wait for memory as well as for cores.
            memory_budget: 0,
            region: self.account.region.clone(),
            account: self.account.id.clone(),
            job_env: Vec::new(),
            // Debugging a job: keep its inputs and models after the execution ends.
            keep_job_inputs: std::env::var(KEEP_JOB_INPUTS_ENV).is_ok_and(|v| v == "1"),
        };
        Executor::open(config, hooks).context("opening the executor")
    }
}

/// Queues `event` for every target whose rule matches it.
fn publish(outbox: &Outbox, rules: &Rules, event: &Value) {
    for target in rules.targets(event) {
        if let Err(e) = outbox.push(target, event) {
            tracing::error!(target_fn = %target, error = %e, "could not queue an event");
        }
    }
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// "SageMaker Model Package State Change", shaped as EventBridge delivers it.
pub fn model_package_event(account: &Account, p: &ModelPackage) -> Value {
    let detail = json!({
        "ModelPackageGroupName": p.group,
        "ModelPackageVersion": p.version,
        "ModelPackageArn": p.arn,
        "ModelPackageName": p.group,
        "ModelPackageDescription": p.description,
        "CreationTime": p.created_ms,
        "LastModifiedTime": p.modified_ms,
        "ModelApprovalStatus": p.approval_status.as_str(),
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
        "InferenceSpecification": {"Containers": [{"ModelDataUrl": p.model_data_url}]},
        "ModelMetrics": p.metrics_url.as_ref().map(|uri| json!({
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": uri}}
        })),
        "CustomerMetadataProperties": p.metadata,
        "CertifyForMarketplace": false,
    });
    events::sagemaker_event(account, MODEL_PACKAGE_STATE_CHANGE, &p.arn, detail)
}

fn system_time_iso(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// "SageMaker Model Building Pipeline Execution Status Change".
pub fn execution_event(
    account: &Account,
    e: &ExecutionInfo,
    previous: Option<ExecutionStatus>,
) -> Value {
    let pipeline_arn = e
        .arn
        .split("/execution/")
        .next()
        .unwrap_or(&e.arn)
        .to_string();
    let detail = json!({
        "pipelineExecutionArn": e.arn,
        "pipelineArn": pipeline_arn,
        "pipelineExecutionDisplayName": format!("execution-{}", e.id),
        "currentPipelineExecutionStatus": e.status.as_str(),
        "previousPipelineExecutionStatus": previous.map(|p| p.as_str()),
        "executionStartTime": system_time_iso(e.created),
        "executionEndTime": e.ended.map(system_time_iso),
    });
    events::sagemaker_event(account, PIPELINE_EXECUTION_STATUS_CHANGE, &e.arn, detail)
}

struct Hooks {
    registry: Arc<Registry>,
    outbox: Arc<Outbox>,
    rules: Arc<Rules>,
    account: Account,
}

impl ExecutorHooks for Hooks {
    fn register_model(
        &self,
        _execution: &ExecutionInfo,
        arguments: &Value,
    ) -> Result<String, mmp_executor::RegisterError> {
        let package = self.registry.create_package(arguments)?;
        Ok(package.arn)
    }

    fn execution_status_changed(
        &self,
        execution: &ExecutionInfo,
        previous: Option<ExecutionStatus>,
    ) {
        let event = execution_event(&self.account, execution, previous);
        publish(&self.outbox, &self.rules, &event);
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Millisecond timestamps as ISO-8601, for the CLI's tables.
pub fn format_ms(ms: i64) -> String {
    iso(ms)
}
