//! The reporter against moto: execution, parameters, registry and reports on moto's server.
//! moto does not implement ListPipelineExecutionSteps, so that one call comes from a test
//! double wrapping the real adapter; everything else is the AWS adapters. The handler's
//! clients record its AWS calls (the double records the call it stands in for);
//! `iam_actions_are_exactly_what_the_handler_calls` holds them against `IAM_ACTIONS`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
#![cfg(feature = "moto")]

use async_trait::async_trait;
use metrics_reporter::report::{DatasetReport, Leaderboard};
use metrics_reporter::{handle_event, Reported, ReporterConfig, IAM_ACTIONS};
use mmp_common::aws::moto::{iam_actions, IamRecorder, MotoServer};
use mmp_common::aws::{S3Store, SageMakerPipelines, SageMakerRegistry};
use mmp_common::events::{EventBridgeEvent, PipelineExecutionStatusChange};
use mmp_common::ports::{
    ApprovalStatus, ExecutionDescription, ExecutionStep, MemoryMetricSink, ObjectStore, Parameter,
    PipelineRunner, PutCondition, StartExecution,
};
use mmp_common::registry_admin::{ModelRegistryAdmin, NewModelVersion};
use mmp_common::PortError;
use mmp_pipeline::parameters::{DATASET_NAME, INPUT_DATA_URI, STEP_REGISTER};
use serde_json::json;

const BUCKET: &str = "mmp-data";

mmp_common::moto_scenarios! {
    crate: "metrics-reporter",
    iam_actions: IAM_ACTIONS,
    scenarios: [finished_executions_become_metrics_reports_and_a_leaderboard]
}

/// The real adapter, with the steps moto cannot list.
struct WithSteps {
    inner: SageMakerPipelines,
    steps: Vec<ExecutionStep>,
    /// Records the ListPipelineExecutionSteps the real adapter would have called.
    recorder: IamRecorder,
}

#[async_trait]
impl PipelineRunner for WithSteps {
    async fn start_execution(&self, request: &StartExecution) -> Result<String, PortError> {
        self.inner.start_execution(request).await
    }
    async fn describe_execution(&self, arn: &str) -> Result<ExecutionDescription, PortError> {
        self.inner.describe_execution(arn).await
    }
    async fn execution_parameters(&self, arn: &str) -> Result<Vec<Parameter>, PortError> {
        self.inner.execution_parameters(arn).await
    }
    async fn execution_steps(&self, _: &str) -> Result<Vec<ExecutionStep>, PortError> {
        let operation = "ListPipelineExecutionSteps";
        for action in iam_actions("SageMaker", operation, false) {
            self.recorder
                .record(&action, &format!("{operation} (test double)"));
        }
        Ok(self.steps.clone())
    }
}

fn step(name: &str, status: &str, registered: Option<&str>) -> ExecutionStep {
    ExecutionStep {
        name: name.into(),
        status: status.parse().unwrap(),
        started_at_ms: None,
        ended_at_ms: None,
        failure_reason: None,
        registered_model_package_arn: registered.map(str::to_string),
        tuning_job_arn: None,
    }
}

fn event(arn: &str, status: &str) -> EventBridgeEvent<PipelineExecutionStatusChange> {
    serde_json::from_value(json!({
        "version": "0", "id": "e", "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
        "source": "aws.sagemaker", "account": "123456789012", "time": "2026-11-26T06:25:00Z",
        "region": "us-east-1", "resources": [arn],
        "detail": {"pipelineExecutionArn": arn, "currentPipelineExecutionStatus": status,
                   "pipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/mmp"}
    }))
    .unwrap()
}

async fn finished_executions_become_metrics_reports_and_a_leaderboard(recorder: &IamRecorder) {
    let moto = MotoServer::start().unwrap();
    moto.create_bucket(BUCKET).await.unwrap();
    moto.create_pipeline("mmp", &[DATASET_NAME, INPUT_DATA_URI])
        .await
        .unwrap();
    // The handler's clients (recorded), and the test's own for set-up and checks.
    let store = S3Store::new(moto.s3_recorded(recorder).await, BUCKET);
    let registry = SageMakerRegistry::new(moto.sagemaker_recorded(recorder).await);
    let runner = SageMakerPipelines::new(moto.sagemaker_recorded(recorder).await);
    let seed = S3Store::new(moto.s3().await, BUCKET);
    let admin_registry = SageMakerRegistry::new(moto.sagemaker().await);
    let admin_runner = SageMakerPipelines::new(moto.sagemaker().await);
    let config = ReporterConfig {
        s3_path_style: true,
        bucket: BUCKET.into(),
        pipeline_name: "mmp".into(),
        reports_prefix: "reports/".into(),
        namespace: "mmp".into(),
    };

    // An execution that registered a model with an evaluation report.
    let start = |token: &str| StartExecution {
        pipeline_name: "mmp".into(),
        client_request_token: format!("{token}-00000000000000000000000000000000"),
        display_name: None,
        description: None,
        parameters: vec![Parameter::new(DATASET_NAME, "diabetes")],
    };
    let arn = admin_runner.start_execution(&start("one")).await.unwrap();
    let evaluation = json!({
        "regression_metrics": {"r2": {"value": 0.48, "standard_deviation": "NaN"},
                               "mse": {"value": 2900.5, "standard_deviation": "NaN"}},
        "register_metric": {"value": 0.48, "standard_deviation": "NaN"},
        "algorithm": "RandomForest"
    });
    let eval_key = "pipelines/mmp/one/EvaluateBestModel/evaluation.json";
    seed.put(
        eval_key,
        evaluation.to_string().into_bytes(),
        PutCondition::None,
    )
    .await
    .unwrap();
    admin_registry.ensure_group("mmp-diabetes").await.unwrap();
    let version = admin_registry
        .register_version(&NewModelVersion {
            group: "mmp-diabetes".into(),
            model_data_url: format!(
                "s3://{BUCKET}/pipelines/mmp/one/RefitBestModel/output/model.tar.gz"
            ),
            evaluation_uri: Some(format!("s3://{BUCKET}/{eval_key}")),
            status: ApprovalStatus::PendingManualApproval,
            image_uri: "image".into(),
            metadata: Default::default(),
        })
        .await
        .unwrap();
    let pipelines = WithSteps {
        inner: runner,
        steps: vec![
            step("EvaluateBestModel", "Succeeded", None),
            step(STEP_REGISTER, "Succeeded", Some(&version.arn)),
        ],
        recorder: recorder.clone(),
    };

    let metrics = MemoryMetricSink::default();
    let outcome = handle_event(
        &store,
        &pipelines,
        &registry,
        &metrics,
        &config,
        &event(&arn, "Succeeded"),
    )
    .await
    .unwrap();
    let Reported::Recorded(record) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(record.dataset, "diabetes");
    assert_eq!(record.model_version, Some(1));

    let documents = metrics.documents();
    assert_eq!(documents.len(), 2);
    assert_eq!(documents[0]["Dataset"], "diabetes");
    assert_eq!(documents[0]["ExecutionSucceeded"], 1.0);
    assert_eq!(documents[1]["Algorithm"], "RandomForest");
    assert_eq!(documents[1]["r2"], 0.48);
    assert_eq!(
        documents[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Dataset", "Algorithm"]])
    );

    // A replay records the execution once.
    handle_event(
        &store,
        &pipelines,
        &registry,
        &metrics,
        &config,
        &event(&arn, "Succeeded"),
    )
    .await
    .unwrap();
    let report: DatasetReport =
        serde_json::from_slice(&seed.get("reports/diabetes.json").await.unwrap().body).unwrap();
    assert_eq!(report.history.len(), 1);
    assert_eq!(report.latest.execution_arn, arn);
    let board: Leaderboard =
        serde_json::from_slice(&seed.get("reports/leaderboard.json").await.unwrap().body).unwrap();
    assert_eq!(
        board.datasets["diabetes"]
            .quality
            .as_ref()
            .unwrap()
            .register_metric,
        Some(0.48)
    );

    // A failed execution (no registration) is reported, and does not touch the leaderboard.
    let failed_arn = admin_runner.start_execution(&start("two")).await.unwrap();
    let failing = WithSteps {
        inner: pipelines.inner.clone(),
        steps: vec![step("TuningWithCrossValidation", "Failed", None)],
        recorder: recorder.clone(),
    };
    let outcome = handle_event(
        &store,
        &failing,
        &registry,
        &metrics,
        &config,
        &event(&failed_arn, "Failed"),
    )
    .await
    .unwrap();
    let Reported::Recorded(record) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        record.failed_steps,
        vec!["TuningWithCrossValidation".to_string()]
    );
    let report: DatasetReport =
        serde_json::from_slice(&seed.get("reports/diabetes.json").await.unwrap().body).unwrap();
    assert_eq!(report.history.len(), 2);
    let board: Leaderboard =
        serde_json::from_slice(&seed.get("reports/leaderboard.json").await.unwrap().body).unwrap();
    assert_eq!(board.datasets["diabetes"].execution_arn, arn);

    // Not terminal, or another pipeline: ignored.
    let ignored = handle_event(
        &store,
        &failing,
        &registry,
        &metrics,
        &config,
        &event(&failed_arn, "Executing"),
    )
    .await;
    assert!(matches!(ignored, Ok(Reported::Ignored { .. })));
    let other = event(
        "arn:aws:sagemaker:us-east-1:123456789012:pipeline/other/execution/x",
        "Succeeded",
    );
    assert!(matches!(
        handle_event(&store, &failing, &registry, &metrics, &config, &other).await,
        Ok(Reported::Ignored { .. })
    ));
}
