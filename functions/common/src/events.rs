//! The events the functions receive: S3 notifications (the `aws_lambda_events` types), and the
//! EventBridge envelope with the SageMaker detail types defined here. Field names are
//! SageMaker's, unknown fields are ignored, so real events and the samples in `events/samples/`
//! both parse.

use serde::{Deserialize, Serialize};

pub use aws_lambda_events::eventbridge::EventBridgeEvent;
pub use aws_lambda_events::s3::{S3Event, S3EventRecord};

/// `source` of every SageMaker event.
pub const SAGEMAKER_SOURCE: &str = "aws.sagemaker";
/// `detail-type` of a model package's approval or status change.
pub const MODEL_PACKAGE_STATE_CHANGE: &str = "SageMaker Model Package State Change";
/// `detail-type` of a pipeline execution's status change.
pub const PIPELINE_EXECUTION_STATUS_CHANGE: &str =
    "SageMaker Model Building Pipeline Execution Status Change";

/// Detail of "SageMaker Model Package State Change".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelPackageStateChange {
    /// The group of the changed version (`<pipeline>-<dataset>` for this pipeline).
    pub model_package_group_name: String,
    #[serde(default)]
    /// The changed version's number.
    pub model_package_version: Option<u32>,
    #[serde(default)]
    /// The changed version's ARN.
    pub model_package_arn: Option<String>,
    /// `Approved`, `Rejected` or `PendingManualApproval`.
    #[serde(default)]
    pub model_approval_status: Option<String>,
    #[serde(default)]
    /// `Pending`, `InProgress`, `Completed` or `Failed`.
    pub model_package_status: Option<String>,
}

/// Detail of "SageMaker Model Building Pipeline Execution Status Change".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineExecutionStatusChange {
    /// The execution whose status changed.
    pub pipeline_execution_arn: String,
    #[serde(default)]
    /// Its pipeline's ARN.
    pub pipeline_arn: Option<String>,
    /// `Executing`, `Stopping`, `Stopped`, `Failed` or `Succeeded`.
    pub current_pipeline_execution_status: String,
    #[serde(default)]
    /// The status before the change.
    pub previous_pipeline_execution_status: Option<String>,
    #[serde(default)]
    /// The execution's display name.
    pub pipeline_execution_display_name: Option<String>,
    #[serde(default)]
    /// When the execution started (ISO 8601).
    pub execution_start_time: Option<String>,
    #[serde(default)]
    /// When it ended, once it has (ISO 8601).
    pub execution_end_time: Option<String>,
}

impl PipelineExecutionStatusChange {
    /// Whether the execution has ended (the reporter's trigger).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.current_pipeline_execution_status.as_str(),
            "Succeeded" | "Failed" | "Stopped"
        )
    }
}

/// The pipeline name in a pipeline or execution ARN
/// (`arn:…:pipeline/<name>` or `arn:…:pipeline/<name>/execution/<id>`).
pub fn pipeline_name_of_arn(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":pipeline/")?;
    let name = rest.split('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// The execution id at the end of an execution ARN.
pub fn execution_id_of_arn(arn: &str) -> Option<&str> {
    let (_, id) = arn.rsplit_once("/execution/")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// An S3 ObjectCreated record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    /// The bucket uploaded to.
    pub bucket: String,
    /// The key, URL-decoded (S3 notifications form-encode keys: `+` is a space).
    pub key: String,
    /// The upload's ETag, as S3 sent it.
    pub etag: String,
    /// The object's size in bytes.
    pub size: Option<i64>,
    /// The object's version (versioned buckets only).
    pub version_id: Option<String>,
    /// Orders the events of one key; a redelivered event carries the same one, a new upload
    /// (even of identical bytes) a different one.
    pub sequencer: Option<String>,
}

/// An S3 record that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("S3 record has no {0}")]
    /// A field the trigger needs is absent.
    Missing(&'static str),
    #[error("S3 record is `{0}`, not an ObjectCreated event")]
    /// Another event than ObjectCreated.
    NotObjectCreated(String),
    #[error("S3 object key `{0}` is not valid URL-encoded UTF-8")]
    /// The key's URL encoding is broken.
    BadKeyEncoding(String),
}

impl ObjectCreated {
    /// Decodes `record`; an error names what makes it unusable.
    pub fn from_record(record: &S3EventRecord) -> Result<Self, RecordError> {
        let event_name = record.event_name.as_deref().unwrap_or("");
        if !event_name.starts_with("ObjectCreated:") {
            return Err(RecordError::NotObjectCreated(event_name.to_string()));
        }
        let bucket = record
            .s3
            .bucket
            .name
            .clone()
            .ok_or(RecordError::Missing("bucket name"))?;
        let raw_key = record
            .s3
            .object
            .key
            .as_deref()
            .ok_or(RecordError::Missing("object key"))?;
        let etag = record
            .s3
            .object
            .e_tag
            .clone()
            .ok_or(RecordError::Missing("object eTag"))?;
        Ok(ObjectCreated {
            bucket,
            key: decode_s3_key(raw_key)?,
            etag,
            size: record.s3.object.size,
            // S3 sends "null" for objects of a bucket that keeps no versions.
            version_id: record
                .s3
                .object
                .version_id
                .clone()
                .filter(|id| !id.is_empty() && id != "null"),
            sequencer: record.s3.object.sequencer.clone(),
        })
    }
}

/// Decodes a key as S3 notifications encode it (`+` for space, `%XX` escapes).
pub fn decode_s3_key(raw: &str) -> Result<String, RecordError> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| RecordError::BadKeyEncoding(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_pipeline_and_execution() {
        let arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/mmp/execution/abc123";
        assert_eq!(pipeline_name_of_arn(arn), Some("mmp"));
        assert_eq!(execution_id_of_arn(arn), Some("abc123"));
        assert_eq!(
            pipeline_name_of_arn("arn:aws:sagemaker:us-east-1:1:pipeline/mmp"),
            Some("mmp")
        );
        assert_eq!(pipeline_name_of_arn("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(
            decode_s3_key("datasets/my+data/a%2Bb.csv").unwrap(),
            "datasets/my data/a+b.csv"
        );
        assert!(decode_s3_key("datasets/%FF.csv").is_err());
    }

    #[test]
    fn state_change_detail_parses_real_shape() {
        let detail: ModelPackageStateChange = serde_json::from_value(serde_json::json!({
            "ModelPackageGroupName": "mmp-wine",
            "ModelPackageVersion": 3,
            "ModelPackageArn": "arn:aws:sagemaker:us-east-1:1:model-package/mmp-wine/3",
            "ModelApprovalStatus": "Approved",
            "CreationTime": 1614185412830u64,
            "InferenceSpecification": {}
        }))
        .unwrap();
        assert_eq!(detail.model_package_group_name, "mmp-wine");
        assert_eq!(detail.model_package_version, Some(3));
    }
}
