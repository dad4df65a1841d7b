//! The pipeline-trigger Lambda: S3 ObjectCreated → StartPipelineExecution.

use lambda_runtime::{service_fn, LambdaEvent};
use mmp_common::aws::{load_sdk_config, s3_client, sagemaker_client, S3Store, SageMakerPipelines};
use mmp_common::config::Env;
use mmp_common::events::S3Event;
use mmp_common::ports::StdoutMetricSink;
use pipeline_trigger::{handle_event, TriggerConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mmp_common::telemetry::init_json_logging();
    let config = TriggerConfig::from_env(&Env::process())?;
    let sdk = load_sdk_config().await;
    let store = S3Store::new(s3_client(&sdk, config.s3_path_style), config.bucket.clone());
    let pipelines = SageMakerPipelines::new(sagemaker_client(&sdk));
    let (store, pipelines, config) = (&store, &pipelines, &config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        let outcomes =
            handle_event(store, pipelines, &StdoutMetricSink, config, &event.payload).await?;
        Ok::<_, lambda_runtime::Error>(serde_json::json!({ "records": outcomes.len() }))
    }))
    .await
}
