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

use crate::retry::Backoff;

/// The SDK configuration from the environment (the Lambda role's credentials and region).
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    sdk_config_loader().load().await
}

/// Where every SDK client's configuration starts (the Lambda binaries', the moto harness's):
/// the one place transport retries are configured. Throttling, 5xx and timeouts are retried by
/// the SDK's standard mode with the attempts and backoff of [`Backoff::default`]; the handlers
/// retry nothing on top, so attempts do not multiply (see [`crate::retry`]).
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(standard_retries(Backoff::default()))
}

/// The SDK's standard retry mode with `backoff`'s attempts and delays.
pub fn standard_retries(backoff: Backoff) -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(backoff.attempts)
        .with_initial_backoff(backoff.first_delay)
        .with_max_backoff(backoff.max_delay)
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
