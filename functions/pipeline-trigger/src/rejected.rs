//! Rejected uploads: every upload the trigger does not start an execution for is recorded as a
//! JSON object under `<reports prefix>rejected-uploads/<dataset>/<token>.json`, where users
//! (and `mmp executions`, the console) look, instead of only a log line.

use serde::{Deserialize, Serialize};

/// The folder under the reports prefix that holds the rejected uploads.
pub const REJECTED_UPLOADS_FOLDER: &str = "rejected-uploads/";
/// The dataset folder of uploads whose key names no valid dataset.
pub const UNNAMED_DATASET: &str = "_unnamed";

/// One upload that started nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedUpload {
    /// The dataset the key names, or [`UNNAMED_DATASET`] if it names no valid one.
    pub dataset: String,
    /// The uploaded object's key.
    pub key: String,
    /// The uploaded object's ETag, as the event carried it.
    pub etag: String,
    /// The uploaded object's version (versioned buckets only).
    #[serde(default)]
    pub version_id: Option<String>,
    /// Why nothing was started, and what to do about it.
    pub reason: String,
    /// When the trigger rejected it (RFC 3339, UTC).
    pub rejected_at: String,
    /// The execution an identical earlier upload started, if that is the reason.
    #[serde(default)]
    pub execution_arn: Option<String>,
}

/// `<reports prefix>rejected-uploads/`: list it to find every rejected upload.
pub fn rejected_uploads_prefix(reports_prefix: &str) -> String {
    format!("{reports_prefix}{REJECTED_UPLOADS_FOLDER}")
}

/// `<reports prefix>rejected-uploads/<dataset>/<token>.json`, `<token>` being the upload's
/// [`crate::upload_token`]. A dataset that is not a valid name goes under [`UNNAMED_DATASET`].
pub fn rejected_upload_key(reports_prefix: &str, dataset: &str, token: &str) -> String {
    let folder = if mmp_common::naming::validate_dataset_name(dataset).is_ok() {
        dataset
    } else {
        UNNAMED_DATASET
    };
    format!(
        "{}{folder}/{token}.json",
        rejected_uploads_prefix(reports_prefix)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sit_under_the_reports_prefix_by_dataset() {
        assert_eq!(
            rejected_upload_key("reports/", "wine", "abc"),
            "reports/rejected-uploads/wine/abc.json"
        );
        for bad in ["", "my_data", "../x", "a/b"] {
            assert_eq!(
                rejected_upload_key("r/", bad, "t"),
                "r/rejected-uploads/_unnamed/t.json"
            );
        }
        assert!(rejected_upload_key("r/", "wine", "t").starts_with(&rejected_uploads_prefix("r/")));
    }
}
