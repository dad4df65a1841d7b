//! The endpoint-invoker Lambda behind a Function URL.

use endpoint_invoker::{Invoker, InvokerConfig};
use lambda_http::{service_fn, Body, Request};
use mmp_common::aws::{
    load_sdk_config, s3_client, sagemaker_runtime_client, S3Store, SageMakerEndpoint,
};
use mmp_common::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mmp_common::telemetry::init_json_logging();
    let config = InvokerConfig::from_env(&Env::process())?;
    let sdk = load_sdk_config().await;
    let store = S3Store::new(s3_client(&sdk, config.s3_path_style), config.bucket.clone());
    let endpoint =
        SageMakerEndpoint::new(sagemaker_runtime_client(&sdk), config.endpoint_name.clone());
    let invoker = &Invoker::new(store, endpoint, config);
    lambda_http::run(service_fn(move |request: Request| async move {
        let response = invoker
            .handle(request.method(), request.body().as_ref())
            .await;
        Ok::<_, lambda_http::Error>(response.map(Body::from))
    }))
    .await
}
