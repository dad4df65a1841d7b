//! Lambda handler: pipeline-trigger. An S3 ObjectCreated for `datasets/<dataset>/<file>.csv`
//! starts one pipeline execution with `DatasetName`, `InputDataUri` and the dataset's
//! `pipeline.json` settings.
//!
//! Exactly the uploaded bytes: the upload is first copied to an immutable key named by its
//! ETag (`<pinned prefix><dataset>/<etag>/<file>`), by a copy conditional on the source still
//! being that version (`x-amz-copy-source-if-match`, and the event's versionId in a versioned
//! bucket). The execution reads the copy, so later uploads of the same key cannot change what
//! it trains on. A source already overwritten (412) makes this upload superseded: the later
//! upload's own event starts its execution.
//!
//! Exactly once per upload: a claim object `<claims prefix><token>.json`, created with
//! `If-None-Match: *`, decides which delivery starts the execution (this holds on moto and on
//! AWS); the same token is the ClientRequestToken, which on SageMaker also covers a crash
//! between starting and recording the start.
//!
//! Every upload that starts nothing (bad key, name or settings, superseded, identical to an
//! earlier upload) is recorded as a [`RejectedUpload`] under
//! `<reports prefix>rejected-uploads/` and counted in the `RejectedUploads` metric.
#![warn(missing_docs)]

pub mod claim;
pub mod rejected;
#[cfg(feature = "scenarios")]
pub mod scenarios;
pub mod settings;

use std::time::Duration;

use mmp_common::config::{self, CommonConfig, ConfigError, Env};
use mmp_common::emf::{now_ms, EmfDocument, Unit};
use mmp_common::events::{ObjectCreated, S3Event, S3EventRecord};
use mmp_common::naming;
use mmp_common::ports::{
    MetricSink, ObjectStore, ObjectUri, Parameter, PipelineRunner, PutCondition, SourceVersion,
    StartExecution,
};
use mmp_common::PortError;
use mmp_pipeline::parameters::{
    DATASET_NAME, INPUT_DATA_ETAG, INPUT_DATA_URI, INPUT_DATA_VERSION_ID,
};

pub use claim::{upload_token, Claim};
pub use rejected::{rejected_upload_key, rejected_uploads_prefix, RejectedUpload};
pub use settings::{DatasetSettings, SettingsError};

/// How long an unfinished claim blocks redeliveries before one may take it over.
pub const ENV_CLAIM_TIMEOUT_SECONDS: &str = "MMP_TRIGGER_CLAIM_TIMEOUT_SECONDS";
/// Default of [`ENV_CLAIM_TIMEOUT_SECONDS`].
pub const DEFAULT_CLAIM_TIMEOUT_SECONDS: u64 = 120;
/// Where uploads are pinned (default [`naming::DEFAULT_PINNED_DATASETS_PREFIX`]); must not be
/// under `datasets/`, or every pinned copy would start an execution of its own.
pub const ENV_PINNED_DATASETS_PREFIX: &str = "MMP_PINNED_DATASETS_PREFIX";
/// CloudWatch namespace of the trigger's metrics (the metrics reporter's variable and default).
pub const ENV_METRICS_NAMESPACE: &str = "MMP_METRICS_NAMESPACE";
/// Default of [`ENV_METRICS_NAMESPACE`].
pub const DEFAULT_METRICS_NAMESPACE: &str = "mmp";
/// The metric counting rejected uploads (no dimension: one alarm covers every dataset).
pub const REJECTED_UPLOADS_METRIC: &str = "RejectedUploads";

/// Every environment variable this function reads.
pub const ENV_VARS: &[&str] = &[
    config::ENV_BUCKET,
    config::ENV_PIPELINE_NAME,
    config::ENV_TRIGGER_CLAIMS_PREFIX,
    ENV_CLAIM_TIMEOUT_SECONDS,
    ENV_PINNED_DATASETS_PREFIX,
    config::ENV_REPORTS_PREFIX,
    ENV_METRICS_NAMESPACE,
    config::ENV_S3_FORCE_PATH_STYLE,
    config::ENV_LOG,
];

/// Every AWS API action this function's adapters call.
pub const IAM_ACTIONS: &[&str] = &[
    // Settings, claims; the source of the pinning copy (current version).
    "s3:GetObject",
    // The source of the pinning copy when the event names a version (versioned bucket).
    "s3:GetObjectVersion",
    // Without ListBucket, S3 answers a missing key with 403 instead of 404.
    "s3:ListBucket",
    // Claims, pinned copies, rejected-upload reports.
    "s3:PutObject",
    "s3:DeleteObject",
    "sagemaker:StartPipelineExecution",
];

/// The trigger's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerConfig {
    /// Path-style S3 addressing (emulators only).
    pub s3_path_style: bool,
    /// Uploads to other buckets are skipped.
    pub bucket: String,
    /// The pipeline every upload starts.
    pub pipeline_name: String,
    /// Where the idempotency claims are kept.
    pub claims_prefix: String,
    /// How long an unfinished claim blocks redeliveries.
    pub claim_timeout: Duration,
    /// Where each upload is pinned before its execution starts.
    pub pinned_prefix: String,
    /// Rejected uploads go under `<reports prefix>rejected-uploads/`.
    pub reports_prefix: String,
    /// The CloudWatch namespace of [`REJECTED_UPLOADS_METRIC`].
    pub metrics_namespace: String,
}

impl TriggerConfig {
    /// Reads [`ENV_VARS`]; fails naming the first missing or bad variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let pinned_prefix = env.prefix(
            ENV_PINNED_DATASETS_PREFIX,
            naming::DEFAULT_PINNED_DATASETS_PREFIX,
        )?;
        if pinned_prefix.starts_with(naming::DATASETS_PREFIX) {
            return Err(ConfigError::Invalid {
                name: ENV_PINNED_DATASETS_PREFIX,
                value: pinned_prefix,
                reason: format!(
                    "pinned copies under `{}` would each start an execution",
                    naming::DATASETS_PREFIX
                ),
            });
        }
        let (common, pipeline_name) = CommonConfig::with_pipeline(env)?;
        Ok(TriggerConfig {
            s3_path_style: common.s3_path_style,
            bucket: common.bucket,
            pipeline_name,
            claims_prefix: env.prefix(
                config::ENV_TRIGGER_CLAIMS_PREFIX,
                naming::DEFAULT_TRIGGER_CLAIMS_PREFIX,
            )?,
            claim_timeout: env.seconds(ENV_CLAIM_TIMEOUT_SECONDS, DEFAULT_CLAIM_TIMEOUT_SECONDS)?,
            pinned_prefix,
            reports_prefix: env
                .prefix(config::ENV_REPORTS_PREFIX, naming::DEFAULT_REPORTS_PREFIX)?,
            metrics_namespace: env.optional(ENV_METRICS_NAMESPACE, DEFAULT_METRICS_NAMESPACE),
        })
    }
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// This delivery started the execution.
    Started {
        /// The dataset.
        dataset: String,
        /// The execution started.
        execution_arn: String,
    },
    /// An earlier delivery of the same event started it.
    AlreadyStarted {
        /// The dataset.
        dataset: String,
        /// The execution started before.
        execution_arn: String,
    },
    /// Nothing started (bad key, name or settings, other bucket, superseded, identical to an
    /// earlier upload); recorded as a [`RejectedUpload`], not retried.
    Skipped {
        /// Why nothing started (also in the rejected-upload report).
        reason: String,
    },
}

/// A failure worth retrying: the event is redelivered and converges through the claim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("{failed} of {total} records failed and will be retried: {first}")]
    /// Some records failed; the whole event is redelivered.
    Retry {
        /// How many records failed.
        failed: usize,
        /// How many records the event held.
        total: usize,
        /// The first failure.
        first: String,
    },
}

/// Handles one S3 notification: every record, then an error if any record should be retried.
pub async fn handle_event<S, P>(
    store: &S,
    pipelines: &P,
    metrics: &dyn MetricSink,
    config: &TriggerConfig,
    event: &S3Event,
) -> Result<Vec<RecordOutcome>, TriggerError>
where
    S: ObjectStore + ?Sized,
    P: PipelineRunner + ?Sized,
{
    let mut outcomes = Vec::with_capacity(event.records.len());
    let mut failures = Vec::new();
    for record in &event.records {
        let result = match ObjectCreated::from_record(record) {
            Ok(upload) => handle_upload(store, pipelines, metrics, config, &upload).await,
            Err(error) => unusable_record(store, metrics, config, record, error.to_string()).await,
        };
        match result {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => {
                let key = record.s3.object.key.as_deref().unwrap_or_default();
                tracing::error!(%error, key, "record failed; the event will be retried");
                failures.push(error.to_string());
            }
        }
    }
    match failures.first() {
        None => Ok(outcomes),
        Some(first) => Err(TriggerError::Retry {
            failed: failures.len(),
            total: event.records.len(),
            first: first.clone(),
        }),
    }
}

/// A record that is no upload: an event other than ObjectCreated is only logged (the
/// notification sends none); one missing its key, ETag or bucket is recorded as rejected.
async fn unusable_record<S: ObjectStore + ?Sized>(
    store: &S,
    metrics: &dyn MetricSink,
    config: &TriggerConfig,
    record: &S3EventRecord,
    reason: String,
) -> Result<RecordOutcome, PortError> {
    let event_name = record.event_name.as_deref().unwrap_or_default();
    if !event_name.starts_with("ObjectCreated:") {
        tracing::warn!(%reason, "skipping S3 record");
        return Ok(RecordOutcome::Skipped { reason });
    }
    let upload = ObjectCreated {
        bucket: record.s3.bucket.name.clone().unwrap_or_default(),
        key: record.s3.object.key.clone().unwrap_or_default(),
        etag: record.s3.object.e_tag.clone().unwrap_or_default(),
        size: record.s3.object.size,
        version_id: record.s3.object.version_id.clone(),
        sequencer: record.s3.object.sequencer.clone(),
    };
    reject(store, metrics, config, &upload, None, reason, None).await
}

/// Records `upload` as rejected (report object, metric, log) and returns the outcome.
async fn reject<S: ObjectStore + ?Sized>(
    store: &S,
    metrics: &dyn MetricSink,
    config: &TriggerConfig,
    upload: &ObjectCreated,
    dataset: Option<&str>,
    reason: String,
    execution_arn: Option<String>,
) -> Result<RecordOutcome, PortError> {
    let dataset = dataset.unwrap_or(rejected::UNNAMED_DATASET).to_string();
    tracing::warn!(%reason, key = %upload.key, %dataset, "upload rejected: nothing started");
    let token = upload_token(&upload.bucket, &upload.key, &upload.etag);
    let report_key = rejected_upload_key(&config.reports_prefix, &dataset, &token);
    let report = RejectedUpload {
        dataset: dataset.clone(),
        key: upload.key.clone(),
        etag: upload.etag.trim_matches('"').to_string(),
        version_id: upload.version_id.clone(),
        reason: reason.clone(),
        rejected_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        execution_arn,
    };
    let body = serde_json::to_vec_pretty(&report)
        .map_err(|error| PortError::Other(format!("rejected-upload report: {error}")))?;
    // Failing to tell the user is worth a retry: the redelivery decides the same way.
    store.put(&report_key, body, PutCondition::None).await?;
    metrics.emit(
        &EmfDocument::new(&config.metrics_namespace)
            .metric(REJECTED_UPLOADS_METRIC, 1.0, Unit::Count)
            .property("Dataset", dataset)
            .property("Key", upload.key.clone())
            .property("Reason", reason.clone())
            .property("Report", report_key)
            .to_value(now_ms()),
    );
    Ok(RecordOutcome::Skipped { reason })
}

/// Handles one upload; `Err` only for failures worth retrying.
pub async fn handle_upload<S, P>(
    store: &S,
    pipelines: &P,
    metrics: &dyn MetricSink,
    config: &TriggerConfig,
    upload: &ObjectCreated,
) -> Result<RecordOutcome, PortError>
where
    S: ObjectStore + ?Sized,
    P: PipelineRunner + ?Sized,
{
    let parsed = naming::parse_dataset_key(&upload.key);
    let named = parsed.as_ref().ok().map(|parsed| parsed.dataset.as_str());
    let rejected = |reason: String| reject(store, metrics, config, upload, named, reason, None);
    if upload.bucket != config.bucket {
        return rejected(format!(
            "upload to bucket `{}`, not `{}`",
            upload.bucket, config.bucket
        ))
        .await;
    }
    let (dataset, file) = match &parsed {
        Ok(parsed) => (parsed.dataset.clone(), parsed.file.clone()),
        Err(error) => return rejected(error.to_string()).await,
    };
    if let Err(error) = naming::group_name(&config.pipeline_name, &dataset) {
        return rejected(error.to_string()).await;
    }
    let settings_key = naming::dataset_settings_key(&dataset);
    let settings = match store.get(&settings_key).await {
        Ok(object) => match DatasetSettings::parse(&settings_key, &object.body) {
            Ok(settings) => settings,
            Err(error) => return rejected(error.to_string()).await,
        },
        Err(PortError::NotFound(_)) => DatasetSettings::default(),
        Err(error) => return Err(error),
    };

    let etag = upload.etag.trim_matches('"').to_string();
    let pinned_key = naming::pinned_dataset_key(&config.pinned_prefix, &dataset, &etag, &file);
    if let Some(reason) = pin(store, upload, &etag, &pinned_key).await? {
        return rejected(reason).await;
    }

    let token = upload_token(&upload.bucket, &upload.key, &upload.etag);
    let pinned_uri = ObjectUri {
        bucket: upload.bucket.clone(),
        key: pinned_key,
    };
    let version_id = upload.version_id.clone().unwrap_or_else(|| "null".into());
    let mut parameters = vec![
        Parameter::new(DATASET_NAME, dataset.clone()),
        Parameter::new(INPUT_DATA_URI, pinned_uri.to_string()),
        Parameter::new(INPUT_DATA_ETAG, etag.clone()),
        Parameter::new(INPUT_DATA_VERSION_ID, version_id.clone()),
    ];
    parameters.extend(settings.parameters());
    let request = StartExecution {
        pipeline_name: config.pipeline_name.clone(),
        client_request_token: token.clone(),
        display_name: Some(naming::execution_display_name(&dataset, &token)),
        description: Some(format!(
            "s3://{}/{} (ETag {etag}, version {version_id}) pinned as {pinned_uri}",
            upload.bucket, upload.key
        )),
        parameters,
    };
    let claim_key = format!("{}{token}.json", config.claims_prefix);
    let claim = Claim::new(upload, &dataset);
    let started = claim::start_once(
        store,
        pipelines,
        &claim_key,
        claim,
        &request,
        config.claim_timeout,
    )
    .await?;
    match started {
        claim::Started::Now(execution_arn) => {
            tracing::info!(%dataset, %execution_arn, %pinned_uri, "started pipeline execution");
            Ok(RecordOutcome::Started {
                dataset,
                execution_arn,
            })
        }
        claim::Started::Before {
            execution_arn,
            sequencer,
        } if is_new_upload(upload.sequencer.as_deref(), sequencer.as_deref()) => {
            // Same bytes, same key, a new PUT: the user expects a run and must hear why not.
            let reason = format!(
                "identical to the upload that started {execution_arn}; run `mmp retry {execution_arn}` (locally) or RetryPipelineExecution"
            );
            reject(
                store,
                metrics,
                config,
                upload,
                Some(&dataset),
                reason,
                Some(execution_arn),
            )
            .await
        }
        claim::Started::Before { execution_arn, .. } => {
            tracing::info!(%dataset, %execution_arn, "upload already handled; nothing started");
            Ok(RecordOutcome::AlreadyStarted {
                dataset,
                execution_arn,
            })
        }
    }
}

/// Whether an event whose claim exists is a new upload of identical bytes rather than a
/// redelivery: S3 gives every PUT its own sequencer and a redelivery the same one. Without
/// both, it is taken as a redelivery (nothing is recorded).
fn is_new_upload(this: Option<&str>, claimed: Option<&str>) -> bool {
    matches!((this, claimed), (Some(this), Some(claimed)) if this != claimed)
}

/// Copies exactly the uploaded version to `pinned_key`. `Ok(Some(reason))` if it no longer
/// exists as uploaded and was not pinned before (by an earlier delivery of this event).
async fn pin<S: ObjectStore + ?Sized>(
    store: &S,
    upload: &ObjectCreated,
    etag: &str,
    pinned_key: &str,
) -> Result<Option<String>, PortError> {
    let source = ObjectUri {
        bucket: upload.bucket.clone(),
        key: upload.key.clone(),
    };
    let version = SourceVersion {
        etag: etag.to_string(),
        version_id: upload.version_id.clone(),
    };
    let gone = match store.copy_version(&source, &version, pinned_key).await {
        Ok(_) => return Ok(None),
        Err(PortError::PreconditionFailed(_)) => "was overwritten",
        Err(PortError::NotFound(_)) => "was deleted",
        Err(error) => return Err(error),
    };
    // Only a copy of exactly this version is ever written there.
    match store.head(pinned_key).await {
        Ok(_) => Ok(None),
        Err(PortError::NotFound(_)) => Ok(Some(format!(
            "superseded: {} {gone} before this upload (ETag {etag}) could be pinned; the later upload's own event starts its execution",
            upload.key
        ))),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn config_reads_exactly_env_vars() {
        let parsed = mmp_common::contract::config_reads_exactly(
            TriggerConfig::from_env,
            &[
                (config::ENV_BUCKET, "b"),
                (config::ENV_PIPELINE_NAME, "mmp"),
            ],
            ENV_VARS,
        );
        assert_eq!(parsed.pinned_prefix, naming::DEFAULT_PINNED_DATASETS_PREFIX);
        assert_eq!(parsed.reports_prefix, naming::DEFAULT_REPORTS_PREFIX);
    }

    #[test]
    fn a_pinned_prefix_under_datasets_is_refused() {
        let env = Env::new(|name: &str| match name {
            config::ENV_BUCKET | config::ENV_PIPELINE_NAME => Some("x".to_string()),
            ENV_PINNED_DATASETS_PREFIX => Some("datasets/pinned/".to_string()),
            _ => None,
        });
        assert!(matches!(
            TriggerConfig::from_env(&env),
            Err(ConfigError::Invalid {
                name: ENV_PINNED_DATASETS_PREFIX,
                ..
            })
        ));
    }

    #[test]
    fn only_a_different_sequencer_is_a_new_upload() {
        assert!(is_new_upload(Some("0A"), Some("0B")));
        assert!(!is_new_upload(Some("0A"), Some("0A")));
        assert!(!is_new_upload(None, Some("0A")));
        assert!(!is_new_upload(Some("0A"), None));
    }
}
