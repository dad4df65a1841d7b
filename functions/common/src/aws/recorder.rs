//! Test support (feature `moto`): an SDK interceptor that records every AWS operation a client
//! calls as the IAM actions AWS authorizes it by, so a crate's `IAM_ACTIONS` can be compared with
//! what its handler really calls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_s3::config::ConfigBag;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::copy_object::CopyObjectError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, Error, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// IAM action → the calls that needed it (e.g. `HeadObject answered NotFound`). Clones share
/// one record.
#[derive(Debug, Clone, Default)]
pub struct IamRecorder {
    actions: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>,
}

impl IamRecorder {
    /// Records `action` as needed by `call`; for calls no SDK client makes (a test double
    /// standing in for an operation moto lacks).
    pub fn record(&self, action: &str, call: &str) {
        self.actions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(action.to_string())
            .or_default()
            .insert(call.to_string());
    }

    /// Every action recorded so far.
    pub fn actions(&self) -> BTreeSet<String> {
        self.actions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// One line per action: the calls that needed it.
    pub fn summary(&self) -> String {
        let actions = self.actions.lock().unwrap_or_else(PoisonError::into_inner);
        actions
            .iter()
            .map(|(action, calls)| {
                let calls: Vec<&str> = calls.iter().map(String::as_str).collect();
                format!("{action}: {}\n", calls.join(", "))
            })
            .collect()
    }

    /// Compares the recorded actions with a crate's `IAM_ACTIONS`: `Err` names every action
    /// called but not granted and every action granted but never called.
    pub fn check(&self, crate_name: &str, iam_actions: &[&str]) -> Result<(), String> {
        let recorded = self
            .actions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let declared: BTreeSet<&str> = iam_actions.iter().copied().collect();
        let mut problems = Vec::new();
        for (action, calls) in &recorded {
            if !declared.contains(action.as_str()) {
                let calls: Vec<&str> = calls.iter().map(String::as_str).collect();
                problems.push(format!(
                    "{crate_name}: the handler needs {action} (for {}), which IAM_ACTIONS lacks",
                    calls.join(", ")
                ));
            }
        }
        for action in declared {
            if !recorded.contains_key(action) {
                problems.push(format!(
                    "{crate_name}: IAM_ACTIONS grants {action}, which no call of the handler needed"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}

/// The IAM actions AWS checks for one call of `operation` on `service` (the SDK's
/// [`Metadata`] names). `missing_key`: the call was answered NoSuchKey/NotFound, which S3
/// only does given `s3:ListBucket` (without it, 403).
pub fn iam_actions(service: &str, operation: &str, missing_key: bool) -> Vec<String> {
    let mut actions: Vec<String> = match (service, operation) {
        ("S3", "GetObject" | "HeadObject") => vec!["s3:GetObject".into()],
        // GetObject on the source, PutObject on the destination.
        ("S3", "CopyObject") => vec!["s3:GetObject".into(), "s3:PutObject".into()],
        ("S3", "ListObjectsV2" | "ListObjects" | "HeadBucket") => vec!["s3:ListBucket".into()],
        ("S3", "DeleteObjects") => vec!["s3:DeleteObject".into()],
        ("S3", "ListBuckets") => vec!["s3:ListAllMyBuckets".into()],
        ("S3", operation) => vec![format!("s3:{operation}")],
        ("SageMaker Runtime", "InvokeEndpointWithResponseStream") => {
            vec!["sagemaker:InvokeEndpoint".into()]
        }
        ("SageMaker" | "SageMaker Runtime", operation) => vec![format!("sagemaker:{operation}")],
        // Unknown here: recorded under its SDK name, so the check flags it.
        (service, operation) => vec![format!("{service}:{operation}")],
    };
    if missing_key && service == "S3" {
        actions.push("s3:ListBucket".into());
    }
    actions
}

/// Whether an S3 object read was answered "no such key".
fn is_missing_key(operation: &str, error: &Error) -> bool {
    let code = match operation {
        "GetObject" => error
            .downcast_ref::<GetObjectError>()
            .and_then(|e| e.code()),
        "HeadObject" => error
            .downcast_ref::<HeadObjectError>()
            .and_then(|e| e.code()),
        "CopyObject" => error
            .downcast_ref::<CopyObjectError>()
            .and_then(|e| e.code()),
        _ => None,
    };
    matches!(code, Some("NoSuchKey" | "NotFound"))
}

impl Intercept for IamRecorder {
    fn name(&self) -> &'static str {
        "IamRecorder"
    }

    // Copying a given version is authorized by s3:GetObjectVersion on the source; only the
    // request says whether it names one (and the request is gone once it was sent).
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let names_a_version = context
            .request()
            .headers()
            .get("x-amz-copy-source")
            .is_some_and(|source| source.contains("?versionId="));
        if names_a_version {
            self.record("s3:GetObjectVersion", "CopyObject of a versionId");
        }
        Ok(())
    }

    // Once per operation, whatever its outcome: a call that failed still needed the grant.
    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            self.record("unknown:unknown", "an operation without SDK metadata");
            return Ok(());
        };
        let (service, operation) = (metadata.service(), metadata.name());
        let missing_key = context
            .output_or_error()
            .and_then(Result::err)
            .and_then(|error| error.as_operation_error())
            .is_some_and(|error| is_missing_key(operation, error));
        let call = if missing_key {
            format!("{operation} answered 404")
        } else {
            operation.to_string()
        };
        for action in iam_actions(service, operation, missing_key) {
            self.record(&action, &call);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_the_actions_aws_authorizes_them_by() {
        assert_eq!(iam_actions("S3", "HeadObject", false), ["s3:GetObject"]);
        assert_eq!(
            iam_actions("S3", "GetObject", true),
            ["s3:GetObject", "s3:ListBucket"]
        );
        assert_eq!(
            iam_actions("S3", "CopyObject", false),
            ["s3:GetObject", "s3:PutObject"]
        );
        assert_eq!(iam_actions("S3", "ListObjectsV2", false), ["s3:ListBucket"]);
        assert_eq!(iam_actions("S3", "PutObject", false), ["s3:PutObject"]);
        assert_eq!(
            iam_actions("SageMaker", "ListModelPackages", false),
            ["sagemaker:ListModelPackages"]
        );
        // The operator ports' calls (`mmp --target aws`).
        for operation in [
            "ListModelPackageGroups",
            "UpdateModelPackage",
            "ListPipelineExecutions",
        ] {
            assert_eq!(
                iam_actions("SageMaker", operation, false),
                [format!("sagemaker:{operation}")]
            );
        }
        assert_eq!(
            iam_actions("SageMaker Runtime", "InvokeEndpoint", false),
            ["sagemaker:InvokeEndpoint"]
        );
    }

    #[test]
    fn the_check_names_the_crate_and_each_action_either_way() {
        let recorder = IamRecorder::default();
        recorder.record("s3:GetObject", "GetObject");
        recorder.record("s3:ListBucket", "GetObject answered 404");
        assert_eq!(
            recorder.check("demo", &["s3:GetObject", "s3:ListBucket"]),
            Ok(())
        );
        let error = recorder
            .check("demo", &["s3:GetObject", "s3:PutObject"])
            .unwrap_err();
        assert!(
            error.contains(
                "demo: the handler needs s3:ListBucket (for GetObject answered 404), which IAM_ACTIONS lacks"
            ),
            "{error}"
        );
        assert!(
            error.contains(
                "demo: IAM_ACTIONS grants s3:PutObject, which no call of the handler needed"
            ),
            "{error}"
        );
    }
}
