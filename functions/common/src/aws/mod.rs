//! AWS SDK adapters for the ports (feature `aws`): S3 for the object store, SageMaker for the
//! registry and the pipeline executor, SageMaker Runtime for the endpoint.

mod error;
mod registry;
mod runner;
mod runtime;
mod s3;

#[cfg(feature = "moto")]
pub mod moto;
#[cfg(feature = "moto")]
mod recorder;

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
    aws_sdk_s3::Client::from_conf(s3_config(sdk, force_path_style).build())
}

/// The S3 client configuration [`s3_client`] builds (the moto harness adds to it).
pub fn s3_config(
    sdk: &aws_config::SdkConfig,
    force_path_style: bool,
) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(sdk).force_path_style(force_path_style)
}

/// A SageMaker client (registry and pipelines) from the SDK configuration.
pub fn sagemaker_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sagemaker::Client {
    aws_sdk_sagemaker::Client::from_conf(sagemaker_config(sdk).build())
}

/// The configuration [`sagemaker_client`] builds.
pub fn sagemaker_config(sdk: &aws_config::SdkConfig) -> aws_sdk_sagemaker::config::Builder {
    aws_sdk_sagemaker::config::Builder::from(sdk)
}

/// A SageMaker Runtime client (InvokeEndpoint) from the SDK configuration.
pub fn sagemaker_runtime_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sagemakerruntime::Client {
    aws_sdk_sagemakerruntime::Client::from_conf(sagemaker_runtime_config(sdk).build())
}

/// The configuration [`sagemaker_runtime_client`] builds.
pub fn sagemaker_runtime_config(
    sdk: &aws_config::SdkConfig,
) -> aws_sdk_sagemakerruntime::config::Builder {
    aws_sdk_sagemakerruntime::config::Builder::from(sdk)
}

/// Milliseconds since the epoch of an SDK timestamp.
fn millis(time: Option<&aws_sdk_sagemaker::primitives::DateTime>) -> Option<i64> {
    time.and_then(|time| time.to_millis().ok())
}

// The SDK crates, for the binaries that construct clients.
pub use {aws_config, aws_sdk_s3, aws_sdk_sagemaker, aws_sdk_sagemakerruntime};
