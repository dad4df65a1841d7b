//! Trigger scenarios (feature `scenarios`) run over any adapters: the moto tests run them over
//! the SDK adapters, `local/mmp/tests/trigger.rs` over the local store. Each panics naming the
//! rule it found broken.

use std::collections::BTreeSet;

use mmp_common::events::S3Event;
use mmp_common::ports::{MemoryMetricSink, ObjectStore, ObjectUri, PipelineRunner, PutCondition};
use mmp_common::PortError;
use mmp_pipeline::parameters::{INPUT_DATA_ETAG, INPUT_DATA_URI};

use crate::{handle_event, rejected_uploads_prefix, RecordOutcome, RejectedUpload, TriggerConfig};

fn ok<T>(result: Result<T, PortError>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{what}: unexpected error {error:?}"),
    }
}

/// The S3 notification of one upload, in S3's shape (`sequencer` as S3 sends it).
pub fn upload_event(bucket: &str, key: &str, etag: &str, sequencer: &str) -> S3Event {
    let event = serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-26T06:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:X"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": key, "size": 10, "eTag": etag.trim_matches('"'),
                          "sequencer": sequencer}}
    }]});
    match serde_json::from_value(event) {
        Ok(event) => event,
        Err(error) => panic!("an S3 event: {error}"),
    }
}

async fn the_only_outcome<S, P>(
    store: &S,
    runner: &P,
    config: &TriggerConfig,
    event: &S3Event,
) -> (RecordOutcome, Vec<serde_json::Value>)
where
    S: ObjectStore + ?Sized,
    P: PipelineRunner + ?Sized,
{
    let metrics = MemoryMetricSink::default();
    match handle_event(store, runner, &metrics, config, event).await {
        Ok(mut outcomes) if outcomes.len() == 1 => (outcomes.remove(0), metrics.documents()),
        other => panic!("one outcome expected, got {other:?}"),
    }
}

/// `n` different uploads of one key in a quick loop, each event handled as it comes: `n`
/// executions, each reading (InputDataUri) exactly the bytes of its own upload.
/// `seed` and `admin` are the test's own clients (uploads and checks), `store` and `runner`
/// the handler's.
pub async fn quick_uploads_each_train_on_their_own_bytes<S, W, P, A>(
    store: &S,
    seed: &W,
    runner: &P,
    admin: &A,
    config: &TriggerConfig,
    n: usize,
) where
    S: ObjectStore + ?Sized,
    W: ObjectStore + ?Sized,
    P: PipelineRunner + ?Sized,
    A: PipelineRunner + ?Sized,
{
    let key = "datasets/quick/quick.csv";
    let mut read = BTreeSet::new();
    for i in 0..n {
        let body = format!("a,CLASS\n{i},x\n").into_bytes();
        let etag = ok(
            seed.put(key, body.clone(), PutCondition::None).await,
            "upload",
        );
        let event = upload_event(&config.bucket, key, &etag, &format!("{i:016X}"));
        let (RecordOutcome::Started { execution_arn, .. }, _) =
            the_only_outcome(store, runner, config, &event).await
        else {
            panic!("upload {i} must start an execution");
        };
        let parameters = ok(
            admin.execution_parameters(&execution_arn).await,
            "parameters",
        );
        let value = |name: &str| {
            parameters
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.value.clone())
                .unwrap_or_else(|| panic!("the execution has no {name}: {parameters:?}"))
        };
        let uri = value(INPUT_DATA_URI);
        assert_eq!(value(INPUT_DATA_ETAG), etag.trim_matches('"'));
        let Some(ObjectUri { key: pinned, .. }) = ObjectUri::parse(&uri) else {
            panic!("InputDataUri {uri} is not an S3 URI");
        };
        assert!(
            !pinned.starts_with(mmp_common::naming::DATASETS_PREFIX),
            "the execution must read a pinned copy, not the upload key: {uri}"
        );
        read.insert((i, pinned));
    }
    // Read after the loop: what every execution's input holds once all uploads are done.
    let mut bodies = BTreeSet::new();
    for (i, pinned) in read {
        let body = ok(seed.get(&pinned).await, "read an execution's input").body;
        assert_eq!(
            body,
            format!("a,CLASS\n{i},x\n").into_bytes(),
            "execution {i} must read exactly upload {i}"
        );
        bodies.insert(body);
    }
    assert_eq!(bodies.len(), n, "{n} executions read {n} distinct inputs");
}

/// An event handled after its object was overwritten starts nothing: it is rejected as
/// superseded (a report under `rejected-uploads/`), and the later upload's event starts.
pub async fn an_overwritten_upload_is_superseded<S, W, P>(
    store: &S,
    seed: &W,
    runner: &P,
    config: &TriggerConfig,
) where
    S: ObjectStore + ?Sized,
    W: ObjectStore + ?Sized,
    P: PipelineRunner + ?Sized,
{
    let key = "datasets/late/late.csv";
    let first = ok(
        seed.put(key, b"a,CLASS\n1,x\n".to_vec(), PutCondition::None)
            .await,
        "upload 1",
    );
    let second = ok(
        seed.put(key, b"a,CLASS\n2,y\n".to_vec(), PutCondition::None)
            .await,
        "upload 2",
    );
    let late = upload_event(&config.bucket, key, &first, "01");
    let (RecordOutcome::Skipped { reason }, metrics) =
        the_only_outcome(store, runner, config, &late).await
    else {
        panic!("an overwritten upload must be skipped");
    };
    assert!(reason.starts_with("superseded"), "{reason}");
    assert_eq!(
        metrics
            .iter()
            .map(|document| &document[crate::REJECTED_UPLOADS_METRIC])
            .collect::<Vec<_>>(),
        [1.0],
        "the rejection is counted"
    );
    let reports = ok(
        seed.list(&rejected_uploads_prefix(&config.reports_prefix))
            .await,
        "list rejected uploads",
    );
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report: RejectedUpload =
        match serde_json::from_slice(&ok(seed.get(&reports[0].key).await, "report").body) {
            Ok(report) => report,
            Err(error) => panic!("the report is a RejectedUpload: {error}"),
        };
    assert_eq!(
        (
            report.dataset.as_str(),
            report.key.as_str(),
            report.etag.as_str()
        ),
        ("late", key, first.trim_matches('"'))
    );
    assert!(report.reason.starts_with("superseded"));
    let current = upload_event(&config.bucket, key, &second, "02");
    assert!(matches!(
        the_only_outcome(store, runner, config, &current).await,
        (RecordOutcome::Started { .. }, _)
    ));
}
