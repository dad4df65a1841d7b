//! The reporter's logic over the in-memory fakes of the ports (no moto): metrics and reports
//! of a finished execution, replays and late events that converge, a missing evaluation, and
//! the errors of an execution it cannot read.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use metrics_reporter::report::DatasetReport;
use metrics_reporter::{handle_event, ReportError, Reported, ReporterConfig, MAX_REPORT_BYTES};
use mmp_common::events::{EventBridgeEvent, PipelineExecutionStatusChange};
use mmp_common::fakes::{Call, MemoryPipelines, MemoryRegistry, MemoryStore};
use mmp_common::ports::{
    ApprovalStatus, ExecutionStep, MemoryMetricSink, ObjectStore, Parameter, PipelineRunner,
    PutCondition, StartExecution,
};
use mmp_common::registry_admin::{ModelRegistryAdmin, NewModelVersion};
use mmp_common::PortError;
use mmp_pipeline::parameters::{DATASET_NAME, STEP_REGISTER};
use serde_json::json;

const BUCKET: &str = "mmp-data";
const EVALUATION_KEY: &str = "pipelines/mmp/one/EvaluateBestModel/evaluation.json";

struct World {
    store: MemoryStore,
    pipelines: MemoryPipelines,
    registry: MemoryRegistry,
    metrics: MemoryMetricSink,
    config: ReporterConfig,
}

fn world() -> World {
    World {
        store: MemoryStore::new(BUCKET),
        pipelines: MemoryPipelines::new(["mmp"]),
        registry: MemoryRegistry::new(),
        metrics: MemoryMetricSink::default(),
        config: ReporterConfig {
            s3_path_style: false,
            bucket: BUCKET.into(),
            pipeline_name: "mmp".into(),
            reports_prefix: "reports/".into(),
            namespace: "mmp".into(),
        },
    }
}

/// A step as the runner reports it (absent times and reason are `None`).
fn step(name: &str, status: &str, registered: Option<&str>) -> ExecutionStep {
    let step = json!({"name": name, "status": status, "registered_model_package_arn": registered});
    serde_json::from_value(step).unwrap()
}

impl World {
    /// Starts an execution of `parameters` and ends it as `status` at `started_at_ms` + 60 s
    /// with `steps`; returns its ARN.
    async fn finished(
        &self,
        parameters: Vec<Parameter>,
        status: &str,
        started_at_ms: i64,
        steps: Vec<ExecutionStep>,
    ) -> String {
        let request = StartExecution {
            pipeline_name: "mmp".into(),
            client_request_token: format!("token-{started_at_ms}"),
            display_name: None,
            description: None,
            parameters,
        };
        let arn = self.pipelines.start_execution(&request).await.unwrap();
        let status = status.parse().unwrap();
        self.pipelines
            .update(&arn, |execution| {
                execution.description.status = status;
                execution.description.created_at_ms = Some(started_at_ms);
                execution.description.last_modified_at_ms = Some(started_at_ms + 60_000);
                execution.steps = steps;
            })
            .unwrap();
        arn
    }

    /// A Succeeded execution of `diabetes` that registered a version evaluated at `r2`.
    async fn registered(&self, started_at_ms: i64, r2: f64) -> String {
        let evaluation = json!({
            "regression_metrics": {"r2": {"value": r2, "standard_deviation": "NaN"}},
            "register_metric": {"value": r2, "standard_deviation": "NaN"},
            "algorithm": "RandomForest"
        });
        let body = evaluation.to_string().into_bytes();
        self.store
            .put(EVALUATION_KEY, body, PutCondition::None)
            .await
            .unwrap();
        self.registry.ensure_group("mmp-diabetes").await.unwrap();
        let version = NewModelVersion {
            group: "mmp-diabetes".into(),
            model_data_url: format!("s3://{BUCKET}/pipelines/mmp/one/model.tar.gz"),
            evaluation_uri: Some(format!("s3://{BUCKET}/{EVALUATION_KEY}")),
            status: ApprovalStatus::PendingManualApproval,
            image_uri: "mmp-container".into(),
            metadata: Default::default(),
        };
        let version = self.registry.register_version(&version).await.unwrap();
        let steps = vec![step(STEP_REGISTER, "Succeeded", Some(&version.arn))];
        let parameters = vec![Parameter::new(DATASET_NAME, "diabetes")];
        self.finished(parameters, "Succeeded", started_at_ms, steps)
            .await
    }

    async fn handle(&self, arn: &str, status: &str) -> Result<Reported, ReportError> {
        let event = event(arn, status);
        handle_event(
            &self.store,
            &self.pipelines,
            &self.registry,
            &self.metrics,
            &self.config,
            &event,
        )
        .await
    }

    async fn report(&self) -> DatasetReport {
        let body = self.store.get("reports/diabetes.json").await.unwrap().body;
        serde_json::from_slice(&body).unwrap()
    }
}

fn event(arn: &str, status: &str) -> EventBridgeEvent<PipelineExecutionStatusChange> {
    serde_json::from_value(json!({
        "version": "0", "id": "e",
        "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
        "source": "aws.sagemaker", "account": "123456789012", "time": "2026-11-26T06:25:00Z",
        "region": "us-east-1", "resources": [arn],
        "detail": {"pipelineExecutionArn": arn, "currentPipelineExecutionStatus": status}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_finished_execution_becomes_metrics_and_reports_once() {
    let w = world();
    let arn = w.registered(1_000, 0.48).await;
    let Reported::Recorded(record) = w.handle(&arn, "Succeeded").await.unwrap() else {
        panic!("a Succeeded execution is recorded");
    };
    assert_eq!(record.dataset, "diabetes");
    assert_eq!(record.model_version, Some(1));
    assert_eq!(record.duration_seconds, Some(60.0));
    let documents = w.metrics.documents();
    assert_eq!(documents.len(), 2, "outcome and quality: {documents:?}");
    assert_eq!(documents[0]["ExecutionSucceeded"], 1.0);
    assert_eq!(documents[1]["r2"], 0.48);

    // A duplicate delivery, with one lost race on the report: still one record.
    w.store.fail_next(
        Call::Put,
        PortError::PreconditionFailed("another writer".into()),
    );
    w.handle(&arn, "Succeeded").await.unwrap();
    let report = w.report().await;
    assert_eq!(report.history.len(), 1);
    assert_eq!(report.latest.execution_arn, arn);
    assert!(w.store.get("reports/leaderboard.json").await.is_ok());
}

#[tokio::test]
async fn a_late_event_of_an_older_execution_does_not_become_latest() {
    let w = world();
    let newer = w.registered(2_000, 0.5).await;
    let older = w
        .finished(
            vec![Parameter::new(DATASET_NAME, "diabetes")],
            "Failed",
            1_000,
            vec![step("TuningWithCrossValidation", "Failed", None)],
        )
        .await;
    w.handle(&newer, "Succeeded").await.unwrap();
    let Reported::Recorded(late) = w.handle(&older, "Failed").await.unwrap() else {
        panic!("a Failed execution is recorded");
    };
    assert_eq!(late.failed_steps, ["TuningWithCrossValidation"]);
    assert_eq!(late.quality, None);
    let report = w.report().await;
    assert_eq!(report.history.len(), 2);
    assert_eq!(
        report.latest.execution_arn, newer,
        "the newest stays latest"
    );
}

#[tokio::test]
async fn a_missing_evaluation_report_leaves_quality_out() {
    let w = world();
    let arn = w.registered(1_000, 0.48).await;
    w.store.delete(EVALUATION_KEY).await.unwrap();
    let Reported::Recorded(record) = w.handle(&arn, "Succeeded").await.unwrap() else {
        panic!("recorded without its evaluation");
    };
    assert_eq!(record.quality, None);
    assert_eq!(w.metrics.documents().len(), 1, "no quality document");
    assert!(w.store.get("reports/leaderboard.json").await.is_err());
}

/// A report over the size the function reads is left unread, its size asked first: read
/// whole and parsed, it could take the function's memory, and the event would be retried.
#[tokio::test]
async fn an_evaluation_report_too_large_to_read_is_left_unread() {
    let w = world();
    let arn = w.registered(1_000, 0.48).await;
    let padding = " ".repeat(usize::try_from(MAX_REPORT_BYTES).unwrap());
    let report = w.store.get(EVALUATION_KEY).await.unwrap().body;
    let mut big = report.clone();
    big.extend_from_slice(padding.as_bytes());
    w.store
        .put(EVALUATION_KEY, big, PutCondition::None)
        .await
        .unwrap();
    let gets = |w: &World| w.store.calls(Call::Get);
    let before = gets(&w);
    let Reported::Recorded(record) = w.handle(&arn, "Succeeded").await.unwrap() else {
        panic!("recorded without its evaluation");
    };
    assert_eq!(record.quality, None);
    assert_eq!(w.metrics.documents().len(), 1, "no quality document");
    // It reads no more than where the report is missing: the body was not read.
    let missing = world();
    let other = missing.registered(1_000, 0.48).await;
    missing.store.delete(EVALUATION_KEY).await.unwrap();
    let missing_before = gets(&missing);
    missing.handle(&other, "Succeeded").await.unwrap();
    assert_eq!(gets(&w) - before, gets(&missing) - missing_before);

    // At the limit it is read: the same report, padded up to it.
    let mut full = report.clone();
    full.resize(usize::try_from(MAX_REPORT_BYTES).unwrap(), b' ');
    w.store
        .put(EVALUATION_KEY, full, PutCondition::None)
        .await
        .unwrap();
    let Reported::Recorded(record) = w.handle(&arn, "Succeeded").await.unwrap() else {
        panic!("recorded");
    };
    assert!(record.quality.is_some());
}

#[tokio::test]
async fn unreadable_executions_are_errors_and_others_are_ignored() {
    let w = world();
    let arn = w.finished(Vec::new(), "Succeeded", 1_000, Vec::new()).await;
    let error = w.handle(&arn, "Succeeded").await.unwrap_err();
    assert!(matches!(error, ReportError::NoDataset(_)), "{error}");

    let unknown = arn.replace("fake", "gone");
    let error = w.handle(&unknown, "Succeeded").await.unwrap_err();
    assert!(
        matches!(error, ReportError::Port(PortError::NotFound(_))),
        "{error}"
    );

    let running = w.handle(&arn, "Executing").await.unwrap();
    assert!(matches!(running, Reported::Ignored { .. }), "{running:?}");
    let other = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/other/execution/x";
    let ignored = w.handle(other, "Succeeded").await.unwrap();
    assert!(matches!(ignored, Reported::Ignored { .. }), "{ignored:?}");
    assert!(w.metrics.documents().is_empty());
    assert!(w.store.keys().is_empty(), "nothing written");
}
