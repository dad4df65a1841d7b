//! Lambda handler: pipeline-trigger. An S3 ObjectCreated for `datasets/<dataset>/<file>.csv`
//! starts one pipeline execution with `DatasetName`, `InputDataUri` and the dataset's
//! `pipeline.json` settings.
//!
//! Exactly once per upload: a claim object `<claims prefix><token>.json`, created with
//! `If-None-Match: *`, decides which delivery starts the execution (this holds on moto and on
//! AWS); the same token is the ClientRequestToken, which on SageMaker also covers a crash
//! between starting and recording the start.

pub mod claim;
pub mod rejected;
pub mod settings;

use std::time::Duration;

use mmp_common::config::{self, ConfigError, Env};
use mmp_common::events::{ObjectCreated, S3Event};
use mmp_common::naming;
use mmp_common::ports::{ObjectStore, Parameter, PipelineRunner, StartExecution};
use mmp_common::PortError;
use mmp_pipeline::parameters::{DATASET_NAME, INPUT_DATA_URI};

pub use claim::{upload_token, Claim};
pub use rejected::{rejected_upload_key, rejected_uploads_prefix, RejectedUpload};
pub use settings::{DatasetSettings, SettingsError};

/// How long an unfinished claim blocks redeliveries before one may take it over.
pub const ENV_CLAIM_TIMEOUT_SECONDS: &str = "MMP_TRIGGER_CLAIM_TIMEOUT_SECONDS";
pub const DEFAULT_CLAIM_TIMEOUT_SECONDS: u64 = 120;

/// Every environment variable this function reads.
pub const ENV_VARS: &[&str] = &[
    config::ENV_BUCKET,
    config::ENV_PIPELINE_NAME,
    config::ENV_TRIGGER_CLAIMS_PREFIX,
    ENV_CLAIM_TIMEOUT_SECONDS,
    config::ENV_S3_FORCE_PATH_STYLE,
    config::ENV_LOG,
];

/// Every AWS API action this function's adapters call.
pub const IAM_ACTIONS: &[&str] = &[
    "s3:GetObject",
    // Without ListBucket, S3 answers a missing key with 403 instead of 404.
    "s3:ListBucket",
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
    pub pipeline_name: String,
    pub claims_prefix: String,
    pub claim_timeout: Duration,
}

impl TriggerConfig {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let _ = env.optional(config::ENV_LOG, "info"); // read by the log setup
        Ok(TriggerConfig {
            s3_path_style: env.flag(config::ENV_S3_FORCE_PATH_STYLE, false)?,
            bucket: env.required(config::ENV_BUCKET)?,
            pipeline_name: env.required(config::ENV_PIPELINE_NAME)?,
            claims_prefix: env.prefix(
                config::ENV_TRIGGER_CLAIMS_PREFIX,
                naming::DEFAULT_TRIGGER_CLAIMS_PREFIX,
            )?,
            claim_timeout: env.seconds(ENV_CLAIM_TIMEOUT_SECONDS, DEFAULT_CLAIM_TIMEOUT_SECONDS)?,
        })
    }
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// This delivery started the execution.
    Started {
        dataset: String,
        execution_arn: String,
    },
    /// An earlier delivery of the same upload started it.
    AlreadyStarted {
        dataset: String,
        execution_arn: String,
    },
    /// Not something to act on (bad key or name, bad settings, other bucket); logged, not retried.
    Skipped { reason: String },
}

/// A failure worth retrying: the event is redelivered and converges through the claim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("{failed} of {total} records failed and will be retried: {first}")]
    Retry {
        failed: usize,
        total: usize,
        first: String,
    },
}

/// Handles one S3 notification: every record, then an error if any record should be retried.
pub async fn handle_event<S, P>(
    store: &S,
    pipelines: &P,
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
        let upload = match ObjectCreated::from_record(record) {
            Ok(upload) => upload,
            Err(error) => {
                tracing::warn!(%error, "skipping S3 record");
                outcomes.push(RecordOutcome::Skipped {
                    reason: error.to_string(),
                });
                continue;
            }
        };
        match handle_upload(store, pipelines, config, &upload).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => {
                tracing::error!(%error, key = %upload.key, "record failed; the event will be retried");
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

fn skipped(reason: String) -> RecordOutcome {
    tracing::warn!(%reason, "skipping upload");
    RecordOutcome::Skipped { reason }
}

/// Handles one upload; `Err` only for failures worth retrying.
pub async fn handle_upload<S, P>(
    store: &S,
    pipelines: &P,
    config: &TriggerConfig,
    upload: &ObjectCreated,
) -> Result<RecordOutcome, PortError>
where
    S: ObjectStore + ?Sized,
    P: PipelineRunner + ?Sized,
{
    if upload.bucket != config.bucket {
        return Ok(skipped(format!(
            "upload to bucket `{}`, not `{}`",
            upload.bucket, config.bucket
        )));
    }
    let dataset = match naming::parse_dataset_key(&upload.key) {
        Ok(parsed) => parsed.dataset,
        Err(error) => return Ok(skipped(error.to_string())),
    };
    if let Err(error) = naming::group_name(&config.pipeline_name, &dataset) {
        return Ok(skipped(error.to_string()));
    }
    let settings_key = naming::dataset_settings_key(&dataset);
    let settings = match store.get(&settings_key).await {
        Ok(object) => match DatasetSettings::parse(&settings_key, &object.body) {
            Ok(settings) => settings,
            Err(error) => return Ok(skipped(error.to_string())),
        },
        Err(PortError::NotFound(_)) => DatasetSettings::default(),
        Err(error) => return Err(error),
    };

    let token = upload_token(&upload.bucket, &upload.key, &upload.etag);
    let mut parameters = vec![
        Parameter::new(DATASET_NAME, dataset.clone()),
        Parameter::new(
            INPUT_DATA_URI,
            format!("s3://{}/{}", upload.bucket, upload.key),
        ),
    ];
    parameters.extend(settings.parameters());
    let request = StartExecution {
        pipeline_name: config.pipeline_name.clone(),
        client_request_token: token.clone(),
        display_name: Some(format!("{dataset}-{}", &token[..12])),
        description: Some(format!(
            "s3://{}/{} (ETag {})",
            upload.bucket, upload.key, upload.etag
        )),
        parameters,
    };
    let claim_key = format!("{}{token}.json", config.claims_prefix);
    let claim = Claim::new(upload, &dataset);
    claim::start_once(
        store,
        pipelines,
        &claim_key,
        claim,
        &request,
        config.claim_timeout,
    )
    .await
    .map(|started| match started {
        claim::Started::Now(execution_arn) => {
            tracing::info!(%dataset, %execution_arn, "started pipeline execution");
            RecordOutcome::Started {
                dataset,
                execution_arn,
            }
        }
        claim::Started::Before(execution_arn) => {
            tracing::info!(%dataset, %execution_arn, "upload already handled; nothing started");
            RecordOutcome::AlreadyStarted {
                dataset,
                execution_arn,
            }
        }
    })
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn config_reads_exactly_env_vars() {
        let _parsed = mmp_common::contract::config_reads_exactly(
            TriggerConfig::from_env,
            &[
                (config::ENV_BUCKET, "b"),
                (config::ENV_PIPELINE_NAME, "mmp"),
            ],
            ENV_VARS,
        );
    }
}
