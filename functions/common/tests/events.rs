//! The rule patterns in `events/patterns/` and the samples in `events/samples/`: every sample
//! parses into its type and matches exactly the rules it should.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::PathBuf;

use mmp_common::events::{
    EventBridgeEvent, ModelPackageStateChange, ObjectCreated, PipelineExecutionStatusChange,
    S3Event,
};
use mmp_common::naming::{self, DATASETS_PREFIX, DATASET_SUFFIX};
use mmp_common::pattern::Pattern;
use serde_json::Value;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn read(path: &str) -> Value {
    let text = std::fs::read_to_string(events_dir().join(path)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// A rule as deployed for the pipeline `mmp` (the samples' groups are `mmp-<dataset>`).
fn pattern(name: &str) -> Pattern {
    let text = std::fs::read_to_string(events_dir().join(format!("patterns/{name}.json"))).unwrap();
    Pattern::from_rule_file(&text, "mmp").unwrap()
}

#[test]
fn model_package_rule_matches_approvals_and_rejections_only() {
    let rule = pattern("model-package-state-change");
    assert!(rule.matches(&read("samples/model-package-approved.json")));
    assert!(rule.matches(&read("samples/model-package-rejected.json")));
    assert!(!rule.matches(&read("samples/model-package-pending.json")));
    assert!(!rule.matches(&read("samples/pipeline-execution-succeeded.json")));
    let other_pipeline =
        std::fs::read_to_string(events_dir().join("patterns/model-package-state-change.json"))
            .unwrap();
    let other = Pattern::from_rule_file(&other_pipeline, "other").unwrap();
    assert!(
        !other.matches(&read("samples/model-package-approved.json")),
        "another pipeline's groups are not ours"
    );
}

#[test]
fn pipeline_rule_matches_terminal_statuses_only() {
    let rule = pattern("pipeline-execution-status-change");
    assert!(rule.matches(&read("samples/pipeline-execution-succeeded.json")));
    assert!(rule.matches(&read("samples/pipeline-execution-failed.json")));
    assert!(!rule.matches(&read("samples/pipeline-execution-executing.json")));
    assert!(!rule.matches(&read("samples/model-package-approved.json")));
}

#[test]
fn samples_parse_into_the_handler_types() {
    for name in ["approved", "rejected", "pending"] {
        let event: EventBridgeEvent<ModelPackageStateChange> =
            serde_json::from_value(read(&format!("samples/model-package-{name}.json"))).unwrap();
        assert_eq!(
            naming::dataset_of_group("mmp", &event.detail.model_package_group_name).as_deref(),
            Some("diabetes")
        );
    }
    for name in ["succeeded", "failed", "executing"] {
        let event: EventBridgeEvent<PipelineExecutionStatusChange> =
            serde_json::from_value(read(&format!("samples/pipeline-execution-{name}.json")))
                .unwrap();
        assert_eq!(event.detail.is_terminal(), name != "executing");
    }
    let upload: S3Event = serde_json::from_value(read("samples/s3-dataset-upload.json")).unwrap();
    let created = ObjectCreated::from_record(&upload.records[0]).unwrap();
    assert_eq!(
        naming::parse_dataset_key(&created.key).unwrap().dataset,
        "diabetes"
    );
    // What tells a new upload from a redelivery, and which version to pin.
    assert_eq!(created.sequencer.as_deref(), Some("0A1B2C3D4E5F678901"));
    assert_eq!(
        created.version_id, None,
        "the sample's bucket keeps no versions"
    );
    let mut versioned = upload.records[0].clone();
    versioned.s3.object.version_id = Some("3HL4kqtJlcpXroDTDmJ".into());
    assert_eq!(
        ObjectCreated::from_record(&versioned)
            .unwrap()
            .version_id
            .as_deref(),
        Some("3HL4kqtJlcpXroDTDmJ")
    );
    // S3 names the version of an object in an unversioned bucket "null": there is none to pin.
    versioned.s3.object.version_id = Some("null".into());
    assert_eq!(
        ObjectCreated::from_record(&versioned).unwrap().version_id,
        None
    );
}

#[test]
fn s3_notification_filter_is_the_naming_rule() {
    let filter = read("patterns/dataset-object-created.json");
    assert_eq!(filter["filter_prefix"], DATASETS_PREFIX);
    assert_eq!(filter["filter_suffix"], DATASET_SUFFIX);
    assert_eq!(filter["events"], serde_json::json!(["s3:ObjectCreated:*"]));
}
