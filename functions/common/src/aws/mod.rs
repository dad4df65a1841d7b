//! AWS SDK adapters for the ports (feature `aws`): S3 for the object store, SageMaker for the
//! registry and the pipeline executor, SageMaker Runtime for the endpoint.

mod error;
mod registry;
mod runner;
mod runtime;
mod s3;

#[cfg(feature = "moto")]
pub mod moto;

pub use registry::SageMakerRegistry;
pub use runner::SageMakerPipelines;
pub use runtime::SageMakerEndpoint;
pub use s3::S3Store;

/// The SDK configuration from the environment (the Lambda role's credentials and region).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// An S3 client from the SDK configuration, path-style if asked (S3 emulators on loopback).
pub fn s3_client(sdk: &aws_config::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Milliseconds since the epoch of an SDK timestamp.
fn millis(time: Option<&aws_sdk_sagemaker::primitives::DateTime>) -> Option<i64> {
    time.and_then(|time| time.to_millis().ok())
}

// The SDK crates, for the binaries that construct clients.
pub use {aws_config, aws_sdk_s3, aws_sdk_sagemaker, aws_sdk_sagemakerruntime};
