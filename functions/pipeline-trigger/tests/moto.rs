//! The trigger against moto's server: S3 for uploads, settings and claims; SageMaker Pipelines.
//! The handler's clients record its AWS calls; `iam_actions_are_exactly_what_the_handler_calls`
//! holds them against `IAM_ACTIONS`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
#![cfg(feature = "moto")]

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::join_all;
use mmp_common::aws::moto::{IamRecorder, MotoServer};
use mmp_common::aws::{S3Store, SageMakerPipelines};
use mmp_common::events::S3Event;
use mmp_common::ports::{
    ExecutionHistory, MemoryMetricSink, ObjectMeta, ObjectStore, ObjectUri, PipelineRunner,
    PutCondition, SourceVersion, StoredObject,
};
use mmp_common::PortError;
use mmp_pipeline::parameters as p;
use pipeline_trigger::scenarios;
use pipeline_trigger::{
    handle_event, rejected_upload_key, rejected_uploads_prefix, upload_token, Claim, RecordOutcome,
    RejectedUpload, TriggerConfig, TriggerError, IAM_ACTIONS,
};
use serde_json::json;

const BUCKET: &str = "mmp-data";
const PIPELINE: &str = "mmp";

mmp_common::moto_scenarios! {
    crate: "pipeline-trigger",
    iam_actions: IAM_ACTIONS,
    scenarios: [
        upload_starts_one_execution_with_settings_and_redelivery_starts_nothing,
        concurrent_first_deliveries_start_exactly_one_execution,
        bad_keys_names_settings_and_buckets_are_skipped_with_the_reason,
        abandoned_claims_are_taken_over_and_failed_starts_release_theirs,
        a_claim_that_landed_but_answered_412_is_taken_as_its_own,
        quick_uploads_each_train_on_their_own_bytes,
        an_overwritten_upload_is_superseded,
        a_versioned_bucket_pins_every_upload_even_once_overwritten,
        an_identical_reupload_is_recorded_and_a_redelivery_is_not,
    ]
}

struct Harness {
    _moto: MotoServer,
    /// The handler's clients (recorded).
    store: S3Store,
    runner: SageMakerPipelines,
    /// The test's own, for uploads and checks (not recorded).
    seed: S3Store,
    admin: SageMakerPipelines,
    config: TriggerConfig,
    metrics: MemoryMetricSink,
}

async fn harness(recorder: &IamRecorder) -> Harness {
    let moto = MotoServer::start().unwrap();
    moto.create_bucket(BUCKET).await.unwrap();
    moto.create_pipeline(
        PIPELINE,
        &[p::DATASET_NAME, p::INPUT_DATA_URI, p::TARGET_COLUMN],
    )
    .await
    .unwrap();
    let store = S3Store::new(moto.s3_recorded(recorder).await, BUCKET);
    let runner = SageMakerPipelines::new(moto.sagemaker_recorded(recorder).await);
    let seed = S3Store::new(moto.s3().await, BUCKET);
    let admin = SageMakerPipelines::new(moto.sagemaker().await);
    let config = TriggerConfig {
        s3_path_style: true,
        bucket: BUCKET.into(),
        pipeline_name: PIPELINE.into(),
        claims_prefix: "triggers/".into(),
        claim_timeout: Duration::from_secs(120),
        pinned_prefix: "pinned-datasets/".into(),
        reports_prefix: "reports/".into(),
        metrics_namespace: "mmp".into(),
    };
    Harness {
        _moto: moto,
        store,
        runner,
        seed,
        admin,
        config,
        metrics: MemoryMetricSink::default(),
    }
}

/// Uploads `body` to `key` and returns the S3 event for it (real shape, the upload's ETag).
async fn upload(h: &Harness, key: &str, body: &str) -> S3Event {
    let etag = h
        .seed
        .put(key, body.as_bytes().to_vec(), PutCondition::None)
        .await
        .unwrap();
    event(BUCKET, key, etag.trim_matches('"'))
}

fn event(bucket: &str, key: &str, etag: &str) -> S3Event {
    serde_json::from_value(json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-26T06:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:X"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": key, "size": 10, "eTag": etag}}
    }]}))
    .unwrap()
}

async fn executions(h: &Harness) -> Vec<HashMap<String, String>> {
    let mut all = Vec::new();
    for summary in h.admin.list_executions(PIPELINE, usize::MAX).await.unwrap() {
        let parameters = h.admin.execution_parameters(&summary.arn).await.unwrap();
        all.push(parameters.into_iter().map(|p| (p.name, p.value)).collect());
    }
    all
}

async fn upload_starts_one_execution_with_settings_and_redelivery_starts_nothing(
    recorder: &IamRecorder,
) {
    let h = harness(recorder).await;
    let settings = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../datasets/diabetes/pipeline.json"
    ))
    .unwrap();
    h.seed
        .put(
            "datasets/diabetes/pipeline.json",
            settings,
            PutCondition::None,
        )
        .await
        .unwrap();
    let event = upload(
        &h,
        "datasets/diabetes/diabetes.csv",
        "age,progression\n1,2\n",
    )
    .await;

    let outcomes = handle_event(&h.store, &h.runner, &h.metrics, &h.config, &event)
        .await
        .unwrap();
    let [RecordOutcome::Started {
        dataset,
        execution_arn,
    }] = outcomes.as_slice()
    else {
        panic!("{outcomes:?}")
    };
    assert_eq!(dataset, "diabetes");

    let all = executions(&h).await;
    assert_eq!(all.len(), 1);
    let expected = [
        (p::DATASET_NAME, "diabetes"),
        (
            p::INPUT_DATA_URI,
            "s3://mmp-data/pinned-datasets/diabetes/8c239bb1c83d279ffdb6d4bacd07f12b/diabetes.csv",
        ),
        (p::TARGET_COLUMN, "progression"),
        (p::CROSS_VALIDATION_SCORER, "r2"),
        (p::METRIC_FOR_REGISTRATION_THRESHOLD, "r2"),
        (p::MIN_THRESHOLD_FOR_REGISTER_METRIC, "0.3"),
        (p::STRATIFY_SPLIT, "False"),
    ];
    for (name, value) in expected {
        assert_eq!(
            all[0].get(name).map(String::as_str),
            Some(value),
            "parameter {name}"
        );
    }

    // Redelivery, sequential and concurrent: nothing new starts.
    let again = handle_event(&h.store, &h.runner, &h.metrics, &h.config, &event)
        .await
        .unwrap();
    assert_eq!(
        again,
        vec![RecordOutcome::AlreadyStarted {
            dataset: "diabetes".into(),
            execution_arn: execution_arn.clone()
        }]
    );
    let burst =
        join_all((0..4).map(|_| handle_event(&h.store, &h.runner, &h.metrics, &h.config, &event)))
            .await;
    assert!(burst.iter().all(|outcome| matches!(
        outcome.as_deref(),
        Ok([RecordOutcome::AlreadyStarted { .. }])
    )));
    assert_eq!(
        executions(&h).await.len(),
        1,
        "moto does not deduplicate tokens; the claim does"
    );

    // A new version of the file is a new upload.
    let replaced = upload(
        &h,
        "datasets/diabetes/diabetes.csv",
        "age,progression\n1,3\n",
    )
    .await;
    let outcomes = handle_event(&h.store, &h.runner, &h.metrics, &h.config, &replaced)
        .await
        .unwrap();
    assert!(matches!(
        outcomes.as_slice(),
        [RecordOutcome::Started { .. }]
    ));
    assert_eq!(executions(&h).await.len(), 2);
}

async fn concurrent_first_deliveries_start_exactly_one_execution(recorder: &IamRecorder) {
    let h = harness(recorder).await;
    let event = upload(&h, "datasets/wine/wine.csv", "a,CLASS\n1,x\n").await;
    let outcomes =
        join_all((0..6).map(|_| handle_event(&h.store, &h.runner, &h.metrics, &h.config, &event)))
            .await;
    let started = outcomes
        .iter()
        .filter(|o| matches!(o.as_deref(), Ok([RecordOutcome::Started { .. }])))
        .count();
    assert_eq!(started, 1, "{outcomes:?}");
    // The others either saw the recorded execution or were told to retry (claim in flight).
    for outcome in &outcomes {
        match outcome {
            Ok(records) => assert!(matches!(
                records.as_slice(),
                [RecordOutcome::Started { .. } | RecordOutcome::AlreadyStarted { .. }]
            )),
            Err(TriggerError::Retry {
                failed,
                total,
                first,
            }) => {
                assert_eq!((*failed, *total), (1, 1));
                assert!(first.contains("retry later"), "{first}");
            }
        }
    }
    // The retries, later, converge without starting anything.
    let retry = handle_event(&h.store, &h.runner, &h.metrics, &h.config, &event)
        .await
        .unwrap();
    assert!(matches!(
        retry.as_slice(),
        [RecordOutcome::AlreadyStarted { .. }]
    ));
    let all = executions(&h).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].get(p::DATASET_NAME).map(String::as_str),
        Some("wine")
    );
    assert!(
        !all[0].contains_key(p::TARGET_COLUMN),
        "no pipeline.json: defaults stay"
    );
}

async fn bad_keys_names_settings_and_buckets_are_skipped_with_the_reason(recorder: &IamRecorder) {
    let h = harness(recorder).await;
    let reason = |outcomes: Vec<RecordOutcome>| match outcomes.as_slice() {
        [RecordOutcome::Skipped { reason }] => reason.clone(),
        other => panic!("expected a skip, got {other:?}"),
    };
    let cases = [
        (
            "datasets/bad_name/a.csv",
            "dataset name `bad_name` is invalid",
        ),
        ("datasets/a.csv", "is not of the form"),
        ("datasets/x/y/z.csv", "is not of the form"),
        ("uploads/x/a.csv", "is not under `datasets/`"),
        ("datasets/x/a.txt", "does not end in `.csv`"),
    ];
    for (key, expected) in cases {
        let event = upload(&h, key, "a\n1\n").await;
        let message = reason(
            handle_event(&h.store, &h.runner, &h.metrics, &h.config, &event)
                .await
                .unwrap(),
        );
        assert!(message.contains(expected), "{key}: {message}");
    }
    let other = event("someone-elses", "datasets/x/a.csv", "e");
    assert!(reason(
        handle_event(&h.store, &h.runner, &h.metrics, &h.config, &other)
            .await
            .unwrap()
    )
    .contains("someone-elses"));

    h.seed
        .put(
            "datasets/broken/pipeline.json",
            br#"{"scorer": "best"}"#.to_vec(),
            PutCondition::None,
        )
        .await
        .unwrap();
    let event = upload(&h, "datasets/broken/data.csv", "a\n1\n").await;
    let message = reason(
        handle_event(&h.store, &h.runner, &h.metrics, &h.config, &event)
            .await
            .unwrap(),
    );
    assert!(
        message.contains("datasets/broken/pipeline.json: field `scorer`: `best`"),
        "{message}"
    );

    let mut not_created = event.clone();
    not_created.records[0].event_name = Some("ObjectRemoved:Delete".into());
    assert!(reason(
        handle_event(&h.store, &h.runner, &h.metrics, &h.config, &not_created)
            .await
            .unwrap()
    )
    .contains("ObjectRemoved"));
    assert!(executions(&h).await.is_empty(), "nothing started");

    // Every rejected upload is recorded where users look (the ObjectRemoved record is no
    // upload), and counted.
    let reports = h
        .seed
        .list(&rejected_uploads_prefix("reports/"))
        .await
        .unwrap();
    let mut recorded = Vec::new();
    for meta in &reports {
        let report: RejectedUpload =
            serde_json::from_slice(&h.seed.get(&meta.key).await.unwrap().body).unwrap();
        assert!(!report.reason.is_empty() && report.execution_arn.is_none());
        assert!(
            chrono_like(&report.rejected_at),
            "RFC 3339: {}",
            report.rejected_at
        );
        recorded.push((report.dataset, report.key));
    }
    recorded.sort();
    let expected: Vec<(String, String)> = [
        ("_unnamed", "datasets/a.csv"),
        ("_unnamed", "datasets/bad_name/a.csv"),
        ("_unnamed", "datasets/x/a.txt"),
        ("_unnamed", "datasets/x/y/z.csv"),
        ("_unnamed", "uploads/x/a.csv"),
        ("broken", "datasets/broken/data.csv"),
        ("x", "datasets/x/a.csv"),
    ]
    .iter()
    .map(|(d, k)| (d.to_string(), k.to_string()))
    .collect();
    assert_eq!(recorded, expected);
    let counted = h
        .metrics
        .documents()
        .iter()
        .filter(|d| d["RejectedUploads"] == 1.0)
        .count();
    assert_eq!(counted, expected.len(), "one RejectedUploads count each");
}

/// `2026-12-02T08:00:00.000Z`-shaped.
fn chrono_like(value: &str) -> bool {
    value.len() == 24 && value.as_bytes()[10] == b'T' && value.ends_with('Z')
}

async fn abandoned_claims_are_taken_over_and_failed_starts_release_theirs(recorder: &IamRecorder) {
    let h = harness(recorder).await;
    let event = upload(&h, "datasets/wine/wine.csv", "a\n1\n").await;
    let record = &event.records[0].s3.object;
    let token = upload_token(
        BUCKET,
        "datasets/wine/wine.csv",
        record.e_tag.as_deref().unwrap(),
    );
    let claim_key = format!("triggers/{token}.json");

    // A delivery that crashed after claiming, long ago.
    let abandoned = Claim {
        bucket: BUCKET.into(),
        key: "datasets/wine/wine.csv".into(),
        etag: record.e_tag.clone().unwrap(),
        dataset: "wine".into(),
        claimed_at_ms: 0,
        execution_arn: None,
        claimant: "a-crashed-delivery".into(),
        sequencer: None,
    };
    h.seed
        .put(
            &claim_key,
            serde_json::to_vec(&abandoned).unwrap(),
            PutCondition::IfAbsent,
        )
        .await
        .unwrap();
    let outcomes = handle_event(&h.store, &h.runner, &h.metrics, &h.config, &event)
        .await
        .unwrap();
    assert!(
        matches!(outcomes.as_slice(), [RecordOutcome::Started { .. }]),
        "{outcomes:?}"
    );
    let recorded: Claim =
        serde_json::from_slice(&h.seed.get(&claim_key).await.unwrap().body).unwrap();
    assert!(recorded.execution_arn.is_some());

    // Starting fails (no such pipeline): the event is retried and the claim released.
    let missing = TriggerConfig {
        pipeline_name: "no-such-pipeline".into(),
        ..h.config.clone()
    };
    let other = upload(&h, "datasets/diabetes/d.csv", "a\n1\n").await;
    let error = handle_event(&h.store, &h.runner, &h.metrics, &missing, &other)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no-such-pipeline"), "{error}");
    let claims = h.seed.list("triggers/").await.unwrap();
    assert_eq!(claims.len(), 1, "only the wine claim is left: {claims:?}");
}

/// S3 as the SDK sees it when a conditional put's response is lost: the put lands, the SDK
/// retries it, and the retry answers 412 because the object now exists.
struct LostFirstResponse<'a>(&'a S3Store);

#[async_trait::async_trait]
impl ObjectStore for LostFirstResponse<'_> {
    fn bucket(&self) -> &str {
        self.0.bucket()
    }
    async fn get(&self, key: &str) -> Result<StoredObject, PortError> {
        self.0.get(key).await
    }
    async fn head(&self, key: &str) -> Result<ObjectMeta, PortError> {
        self.0.head(key).await
    }
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<String, PortError> {
        let if_absent = matches!(condition, PutCondition::IfAbsent);
        let etag = self.0.put(key, body, condition).await?;
        if if_absent {
            return Err(PortError::PreconditionFailed(format!(
                "{key} exists (the retry of a put that landed)"
            )));
        }
        Ok(etag)
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, PortError> {
        self.0.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.0.delete(key).await
    }
    async fn copy(&self, source: &ObjectUri, dest_key: &str) -> Result<String, PortError> {
        self.0.copy(source, dest_key).await
    }
    async fn copy_version(
        &self,
        source: &ObjectUri,
        version: &SourceVersion,
        dest_key: &str,
    ) -> Result<String, PortError> {
        self.0.copy_version(source, version, dest_key).await
    }
}

async fn a_claim_that_landed_but_answered_412_is_taken_as_its_own(recorder: &IamRecorder) {
    let h = harness(recorder).await;
    let event = upload(&h, "datasets/wine/wine.csv", "a,CLASS\n1,x\n").await;
    let store = LostFirstResponse(&h.store);
    let outcome = handle_event(&store, &h.runner, &h.metrics, &h.config, &event)
        .await
        .unwrap();
    assert!(
        matches!(outcome.as_slice(), [RecordOutcome::Started { .. }]),
        "the delivery must find its own claim and start, not wait for the timeout: {outcome:?}"
    );
    assert_eq!(executions(&h).await.len(), 1);
}

async fn quick_uploads_each_train_on_their_own_bytes(recorder: &IamRecorder) {
    let h = harness(recorder).await;
    scenarios::quick_uploads_each_train_on_their_own_bytes(
        &h.store, &h.seed, &h.runner, &h.admin, &h.config, 12,
    )
    .await;
}

async fn an_overwritten_upload_is_superseded(recorder: &IamRecorder) {
    let h = harness(recorder).await;
    scenarios::an_overwritten_upload_is_superseded(&h.store, &h.seed, &h.runner, &h.config).await;
}

/// As on AWS (the bucket keeps versions): every upload's event names its version, so even
/// events handled after all uploads pin each one's own bytes, and none is superseded.
async fn a_versioned_bucket_pins_every_upload_even_once_overwritten(recorder: &IamRecorder) {
    use mmp_common::aws::aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let h = harness(recorder).await;
    let client = h.seed.client();
    client
        .put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let key = "datasets/wine/wine.csv";
    let mut events = Vec::new();
    for i in 0..5 {
        let put = client
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(format!("a,CLASS\n{i},x\n").into_bytes().into())
            .send()
            .await
            .unwrap();
        let mut event =
            scenarios::upload_event(BUCKET, key, put.e_tag().unwrap(), &format!("{i:02}"));
        event.records[0].s3.object.version_id = put.version_id().map(str::to_string);
        events.push((i, event));
    }
    for (i, event) in events {
        let outcomes = handle_event(&h.store, &h.runner, &h.metrics, &h.config, &event)
            .await
            .unwrap();
        let [RecordOutcome::Started { execution_arn, .. }] = outcomes.as_slice() else {
            panic!("upload {i}: {outcomes:?}")
        };
        let parameters: HashMap<String, String> = h
            .admin
            .execution_parameters(execution_arn)
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.value))
            .collect();
        let uri = ObjectUri::parse(&parameters[p::INPUT_DATA_URI]).unwrap();
        assert_eq!(
            h.seed.get(&uri.key).await.unwrap().body,
            format!("a,CLASS\n{i},x\n").into_bytes(),
            "execution {i} reads upload {i}"
        );
        assert_eq!(
            Some(&parameters[p::INPUT_DATA_VERSION_ID]),
            event.records[0].s3.object.version_id.as_ref()
        );
    }
}

/// The same bytes uploaded again (a new PUT: another sequencer) start nothing, as the
/// ClientRequestToken would on SageMaker, but the user is told which execution they match and
/// how to run it again; a redelivery of either event (same sequencer) records nothing.
async fn an_identical_reupload_is_recorded_and_a_redelivery_is_not(recorder: &IamRecorder) {
    let h = harness(recorder).await;
    let key = "datasets/wine/wine.csv";
    let etag = h
        .seed
        .put(key, b"a,CLASS\n1,x\n".to_vec(), PutCondition::None)
        .await
        .unwrap();
    let first = scenarios::upload_event(BUCKET, key, &etag, "0001");
    let outcomes = handle_event(&h.store, &h.runner, &h.metrics, &h.config, &first)
        .await
        .unwrap();
    let [RecordOutcome::Started { execution_arn, .. }] = outcomes.as_slice() else {
        panic!("{outcomes:?}")
    };
    let redelivered = handle_event(&h.store, &h.runner, &h.metrics, &h.config, &first)
        .await
        .unwrap();
    assert!(matches!(
        redelivered.as_slice(),
        [RecordOutcome::AlreadyStarted { .. }]
    ));
    let report_prefix = rejected_uploads_prefix("reports/");
    assert!(h.seed.list(&report_prefix).await.unwrap().is_empty());

    let again = h
        .seed
        .put(key, b"a,CLASS\n1,x\n".to_vec(), PutCondition::None)
        .await
        .unwrap();
    assert_eq!(again, etag, "identical bytes, identical ETag");
    let reupload = scenarios::upload_event(BUCKET, key, &again, "0002");
    let outcomes = handle_event(&h.store, &h.runner, &h.metrics, &h.config, &reupload)
        .await
        .unwrap();
    let [RecordOutcome::Skipped { reason }] = outcomes.as_slice() else {
        panic!("{outcomes:?}")
    };
    let report_key = rejected_upload_key("reports/", "wine", &upload_token(BUCKET, key, &etag));
    let report: RejectedUpload =
        serde_json::from_slice(&h.seed.get(&report_key).await.unwrap().body).unwrap();
    assert_eq!(report.execution_arn.as_ref(), Some(execution_arn));
    assert_eq!(&report.reason, reason);
    assert_eq!(
        report.reason,
        format!("identical to the upload that started {execution_arn}; run `mmp retry {execution_arn}` (locally) or RetryPipelineExecution")
    );
    assert_eq!(executions(&h).await.len(), 1, "nothing new started");
    let counted = |h: &Harness| {
        h.metrics
            .documents()
            .iter()
            .filter(|d| d["RejectedUploads"] == 1.0)
            .count()
    };
    assert_eq!(counted(&h), 1);
    // The first event redelivered once more is still a redelivery.
    let redelivered = handle_event(&h.store, &h.runner, &h.metrics, &h.config, &first)
        .await
        .unwrap();
    assert!(matches!(
        redelivered.as_slice(),
        [RecordOutcome::AlreadyStarted { .. }]
    ));
    assert_eq!(counted(&h), 1, "a redelivery is not a rejection");
}
