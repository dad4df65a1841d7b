//! The metrics-reporter Lambda: pipeline execution status change → EMF metrics + reports.

use lambda_runtime::{service_fn, LambdaEvent};
use metrics_reporter::{handle_event, Reported, ReporterConfig};
use mmp_common::aws::{
    load_sdk_config, s3_client, sagemaker_client, S3Store, SageMakerPipelines, SageMakerRegistry,
};
use mmp_common::config::Env;
use mmp_common::events::{EventBridgeEvent, PipelineExecutionStatusChange};
use mmp_common::ports::StdoutMetricSink;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mmp_common::telemetry::init_json_logging();
    let config = ReporterConfig::from_env(&Env::process())?;
    let sdk = load_sdk_config().await;
    let store = S3Store::new(s3_client(&sdk, config.s3_path_style), config.bucket.clone());
    let sagemaker = sagemaker_client(&sdk);
    let pipelines = SageMakerPipelines::new(sagemaker.clone());
    let registry = SageMakerRegistry::new(sagemaker);
    let (store, pipelines, registry, config) = (&store, &pipelines, &registry, &config);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<PipelineExecutionStatusChange>>| async move {
            let reported = handle_event(
                store,
                pipelines,
                registry,
                &StdoutMetricSink,
                config,
                &event.payload,
            )
            .await?;
            let summary = match reported {
                Reported::Recorded(record) => format!("{}: {}", record.dataset, record.status),
                Reported::Ignored { reason } => format!("ignored: {reason}"),
            };
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "outcome": summary }))
        },
    ))
    .await
}
