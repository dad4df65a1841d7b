//! Events in AWS's shapes, as the local store, registry and executor emit them: S3
//! ObjectCreated notifications and EventBridge SageMaker events. The handlers parse them with
//! the same code that parses the real ones.

use serde_json::{json, Value};

/// Region and account the local world pretends to live in.
#[derive(Debug, Clone)]
pub struct Account {
    pub region: String,
    pub id: String,
}

impl Default for Account {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            id: "000000000000".into(),
        }
    }
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// S3 form-encodes keys in notifications (a space is `+`).
fn form_encode(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An `ObjectCreated:Put` notification for one object.
pub fn object_created(
    account: &Account,
    bucket: &str,
    key: &str,
    size: u64,
    etag: &str,
    sequencer: u64,
) -> Value {
    json!({ "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": account.region,
        "eventTime": now_iso(),
        "eventName": "ObjectCreated:Put",
        "userIdentity": { "principalId": "local" },
        "requestParameters": { "sourceIPAddress": "127.0.0.1" },
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "datasets-csv",
            "bucket": {
                "name": bucket,
                "ownerIdentity": { "principalId": "local" },
                "arn": format!("arn:aws:s3:::{bucket}"),
            },
            "object": {
                "key": form_encode(key),
                "size": size,
                // Notifications carry the ETag without quotes.
                "eTag": etag.trim_matches('"'),
                "sequencer": format!("{sequencer:016X}"),
            }
        }
    }]})
}

/// An EventBridge event from SageMaker.
pub fn sagemaker_event(
    account: &Account,
    detail_type: &str,
    resource: &str,
    detail: Value,
) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": detail_type,
        "source": mmp_common::events::SAGEMAKER_SOURCE,
        "account": account.id,
        "time": now_iso(),
        "region": account.region,
        "resources": [resource],
        "detail": detail,
    })
}
