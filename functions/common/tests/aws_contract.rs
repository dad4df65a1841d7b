//! The port contract run against the AWS adapters, on moto's server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
#![cfg(all(feature = "moto", feature = "contract-tests"))]

use mmp_common::aws::moto::MotoServer;
use mmp_common::aws::{S3Store, SageMakerPipelines, SageMakerRegistry};
use mmp_common::contract;
use mmp_pipeline::parameters::{DATASET_NAME, INPUT_DATA_URI};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_passes_the_object_store_contract() {
    let moto = MotoServer::start().unwrap();
    moto.create_bucket("contract-bucket").await.unwrap();
    let store = S3Store::new(moto.s3().await, "contract-bucket");
    contract::object_store(&store, "contract/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagemaker_registry_passes_the_registry_contract() {
    let moto = MotoServer::start().unwrap();
    let registry = SageMakerRegistry::new(moto.sagemaker().await);
    contract::model_registry(
        &registry,
        "mmp-contract",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/mmp:latest",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagemaker_registry_passes_the_registry_operator_contract() {
    let moto = MotoServer::start().unwrap();
    let registry = SageMakerRegistry::new(moto.sagemaker().await);
    contract::model_registry_operator(
        &registry,
        "mmp-operator",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/mmp:latest",
    )
    .await;
}

// moto 5.2's ListPipelineExecutions ignores SortBy, SortOrder and MaxResults: the adapter's own
// sort and cut are what this holds, not SageMaker's paging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagemaker_pipelines_pass_the_execution_history_contract() {
    let moto = MotoServer::start().unwrap();
    for pipeline in ["mmp-contract", "mmp-history"] {
        moto.create_pipeline(pipeline, &[DATASET_NAME, INPUT_DATA_URI])
            .await
            .unwrap();
    }
    let runner = SageMakerPipelines::new(moto.sagemaker().await);
    contract::pipeline_runner(&runner, "mmp-contract").await;
    // Another pipeline's executions are not listed.
    contract::execution_history(&runner, "mmp-history").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagemaker_pipelines_pass_the_runner_contract() {
    let moto = MotoServer::start().unwrap();
    moto.create_pipeline("mmp-contract", &[DATASET_NAME, INPUT_DATA_URI])
        .await
        .unwrap();
    let runner = SageMakerPipelines::new(moto.sagemaker().await);
    contract::pipeline_runner(&runner, "mmp-contract").await;
}
