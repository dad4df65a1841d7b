//! The trigger's logic over the in-memory fakes of the ports (no moto): one execution per
//! upload with its settings, redeliveries that converge, rejected uploads with their reason,
//! and failures that make the event be retried.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::time::Duration;

use mmp_common::events::{S3Event, S3EventRecord};
use mmp_common::fakes::{Call, MemoryPipelines, MemoryStore};
use mmp_common::ports::{MemoryMetricSink, ObjectStore, PutCondition};
use mmp_common::PortError;
use mmp_pipeline::parameters as p;
use pipeline_trigger::{
    handle_event, rejected_uploads_prefix, RecordOutcome, RejectedUpload, TriggerConfig,
    TriggerError,
};
use serde_json::json;

const BUCKET: &str = "mmp-data";

struct World {
    store: MemoryStore,
    pipelines: MemoryPipelines,
    metrics: MemoryMetricSink,
    config: TriggerConfig,
}

fn world() -> World {
    World {
        store: MemoryStore::new(BUCKET),
        pipelines: MemoryPipelines::new(["mmp"]),
        metrics: MemoryMetricSink::default(),
        config: TriggerConfig {
            s3_path_style: false,
            bucket: BUCKET.into(),
            pipeline_name: "mmp".into(),
            claims_prefix: "triggers/".into(),
            claim_timeout: Duration::from_secs(120),
            pinned_prefix: "pinned-datasets/".into(),
            reports_prefix: "reports/".into(),
            metrics_namespace: "mmp".into(),
        },
    }
}

/// The notification of one PUT: only the fields the trigger reads.
fn notification(bucket: &str, key: &str, etag: Option<&str>, sequencer: &str) -> S3Event {
    let mut record = S3EventRecord::default();
    record.event_name = Some("ObjectCreated:Put".into());
    record.s3.bucket.name = Some(bucket.into());
    record.s3.object.key = Some(key.into());
    record.s3.object.e_tag = etag.map(|etag| etag.trim_matches('"').to_string());
    record.s3.object.sequencer = Some(sequencer.into());
    let mut event = S3Event::default();
    event.records.push(record);
    event
}

impl World {
    /// Uploads `body` to `key` and returns its event (`sequencer` tells PUTs apart).
    async fn upload(&self, key: &str, body: &str, sequencer: &str) -> S3Event {
        let etag = self
            .store
            .put(key, body.as_bytes().to_vec(), PutCondition::None)
            .await
            .unwrap();
        notification(BUCKET, key, Some(&etag), sequencer)
    }

    async fn handle(&self, event: &S3Event) -> Result<Vec<RecordOutcome>, TriggerError> {
        handle_event(
            &self.store,
            &self.pipelines,
            &self.metrics,
            &self.config,
            event,
        )
        .await
    }

    /// The one outcome of `event`.
    async fn outcome(&self, event: &S3Event) -> RecordOutcome {
        let mut outcomes = self.handle(event).await.unwrap();
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        outcomes.remove(0)
    }

    /// Each execution's parameters, by name.
    fn executions(&self) -> Vec<BTreeMap<String, String>> {
        let executions = self.pipelines.executions();
        let parameters = executions.into_iter().map(|e| e.request.parameters);
        parameters
            .map(|list| list.into_iter().map(|p| (p.name, p.value)).collect())
            .collect()
    }

    async fn rejected(&self) -> Vec<RejectedUpload> {
        let prefix = rejected_uploads_prefix(&self.config.reports_prefix);
        let mut reports = Vec::new();
        for meta in self.store.list(&prefix).await.unwrap() {
            let body = self.store.get(&meta.key).await.unwrap().body;
            reports.push(serde_json::from_slice(&body).unwrap());
        }
        reports
    }
}

#[tokio::test]
async fn an_upload_starts_one_execution_with_its_settings_and_a_redelivery_nothing() {
    let w = world();
    let settings = json!({"target_column": "progression"}).to_string();
    w.store
        .put(
            "datasets/diabetes/pipeline.json",
            settings.into_bytes(),
            PutCondition::None,
        )
        .await
        .unwrap();
    let event = w
        .upload("datasets/diabetes/data.csv", "a,progression\n1,2\n", "01")
        .await;
    let RecordOutcome::Started {
        dataset,
        execution_arn,
    } = w.outcome(&event).await
    else {
        panic!("the upload starts an execution");
    };
    assert_eq!(dataset, "diabetes");
    let executions = w.executions();
    assert_eq!(executions.len(), 1);
    let parameters = &executions[0];
    assert_eq!(parameters[p::DATASET_NAME], "diabetes");
    assert_eq!(parameters[p::TARGET_COLUMN], "progression");
    let pinned = parameters[p::INPUT_DATA_URI]
        .strip_prefix(&format!("s3://{BUCKET}/"))
        .unwrap();
    assert!(pinned.starts_with("pinned-datasets/diabetes/"), "{pinned}");
    assert_eq!(
        w.store.get(pinned).await.unwrap().body,
        b"a,progression\n1,2\n"
    );

    let again = w.outcome(&event).await;
    assert_eq!(
        again,
        RecordOutcome::AlreadyStarted {
            dataset: "diabetes".into(),
            execution_arn
        }
    );
    assert_eq!(w.executions().len(), 1, "a redelivery starts nothing");
    assert!(w.rejected().await.is_empty(), "nor is it reported");
}

#[tokio::test]
async fn bad_keys_settings_buckets_and_records_are_rejected_with_the_reason() {
    let w = world();
    w.store
        .put(
            "datasets/wine/pipeline.json",
            b"{not json".to_vec(),
            PutCondition::None,
        )
        .await
        .unwrap();
    let bad_settings = w.upload("datasets/wine/wine.csv", "a\n1\n", "01").await;
    let not_csv = w.upload("datasets/wine/wine.txt", "a\n1\n", "02").await;
    let other_bucket = notification("other-bucket", "datasets/x/x.csv", Some("e"), "03");
    let no_etag = notification(BUCKET, "datasets/x/x.csv", None, "04");
    for event in [&bad_settings, &not_csv, &other_bucket, &no_etag] {
        let outcome = w.outcome(event).await;
        assert!(
            matches!(outcome, RecordOutcome::Skipped { .. }),
            "{outcome:?}"
        );
    }
    assert!(w.executions().is_empty());
    let reasons: Vec<String> = w.rejected().await.into_iter().map(|r| r.reason).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    for expected in ["pipeline.json", "other-bucket", "eTag"] {
        assert!(
            reasons.iter().any(|reason| reason.contains(expected)),
            "a reason names {expected}: {reasons:?}"
        );
    }
    assert_eq!(w.metrics.documents().len(), 4, "each rejection is counted");
}

#[tokio::test]
async fn an_upload_deleted_or_overwritten_before_its_event_is_superseded() {
    let w = world();
    let deleted = w.upload("datasets/wine/wine.csv", "a\n1\n", "01").await;
    w.store.delete("datasets/wine/wine.csv").await.unwrap();
    let RecordOutcome::Skipped { reason } = w.outcome(&deleted).await else {
        panic!("a deleted upload starts nothing");
    };
    assert!(reason.contains("was deleted"), "{reason}");

    let first = w.upload("datasets/wine/wine.csv", "a\n1\n", "02").await;
    let second = w.upload("datasets/wine/wine.csv", "a\n2\n", "03").await;
    let RecordOutcome::Skipped { reason } = w.outcome(&first).await else {
        panic!("an overwritten upload starts nothing");
    };
    assert!(reason.contains("was overwritten"), "{reason}");
    assert!(matches!(
        w.outcome(&second).await,
        RecordOutcome::Started { .. }
    ));
    assert_eq!(w.executions().len(), 1);
}

#[tokio::test]
async fn a_failed_start_is_retried_and_the_retry_starts_once() {
    let w = world();
    let event = w.upload("datasets/wine/wine.csv", "a\n1\n", "01").await;
    w.pipelines.fail_next(
        Call::StartExecution,
        PortError::Throttled("slow down".into()),
    );
    let error = w.handle(&event).await.unwrap_err();
    assert!(
        error.to_string().contains("1 of 1 records failed"),
        "{error}"
    );
    assert!(w.executions().is_empty());
    assert!(
        w.store.list("triggers/").await.unwrap().is_empty(),
        "the failed start released its claim"
    );

    assert!(matches!(
        w.outcome(&event).await,
        RecordOutcome::Started { .. }
    ));
    assert!(matches!(
        w.outcome(&event).await,
        RecordOutcome::AlreadyStarted { .. }
    ));
    assert_eq!(w.executions().len(), 1);
}

#[tokio::test]
async fn an_identical_reupload_is_recorded_as_rejected() {
    let w = world();
    let first = w.upload("datasets/wine/wine.csv", "a\n1\n", "01").await;
    let RecordOutcome::Started { execution_arn, .. } = w.outcome(&first).await else {
        panic!("the first upload starts");
    };
    let same_bytes = w.upload("datasets/wine/wine.csv", "a\n1\n", "02").await;
    let RecordOutcome::Skipped { reason } = w.outcome(&same_bytes).await else {
        panic!("identical bytes start nothing");
    };
    assert!(reason.starts_with("identical"), "{reason}");
    let reports = w.rejected().await;
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].execution_arn.as_deref(),
        Some(execution_arn.as_str())
    );
    assert_eq!(w.executions().len(), 1);
}

#[tokio::test]
async fn a_store_failure_while_reading_settings_is_retried() {
    let w = world();
    let event = w.upload("datasets/wine/wine.csv", "a\n1\n", "01").await;
    w.store
        .fail_next(Call::Get, PortError::Other("connection reset".into()));
    assert!(w.handle(&event).await.is_err());
    assert!(w.executions().is_empty());
    assert!(matches!(
        w.outcome(&event).await,
        RecordOutcome::Started { .. }
    ));
}
