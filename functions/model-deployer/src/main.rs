//! The model-deployer Lambda: model package state change → routing table + multi-model prefix.

use lambda_runtime::{service_fn, LambdaEvent};
use mmp_common::aws::{load_sdk_config, s3_client, sagemaker_client, S3Store, SageMakerRegistry};
use mmp_common::config::Env;
use mmp_common::events::{EventBridgeEvent, ModelPackageStateChange};
use model_deployer::{handle_event, DeployerConfig, Deployment};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    mmp_common::telemetry::init_json_logging();
    let config = DeployerConfig::from_env(&Env::process())?;
    let sdk = load_sdk_config().await;
    let store = S3Store::new(s3_client(&sdk, config.s3_path_style), config.bucket.clone());
    let registry = SageMakerRegistry::new(sagemaker_client(&sdk));
    let (store, registry, config) = (&store, &registry, &config);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<ModelPackageStateChange>>| async move {
            let outcome = handle_event(store, registry, config, &event.payload).await?;
            let summary = match outcome {
                Deployment::Deployed { dataset, route, .. } => {
                    format!("{dataset}: deployed {}", route.target_model)
                }
                Deployment::Withdrawn { dataset, .. } => format!("{dataset}: withdrawn"),
                Deployment::Unchanged { dataset, .. } => format!("{dataset}: unchanged"),
                Deployment::Ignored { reason } => format!("ignored: {reason}"),
            };
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "outcome": summary }))
        },
    ))
    .await
}
