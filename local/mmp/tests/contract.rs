//! The port contract every adapter must pass, run against the local runtime's adapters (the
//! Lambda functions run the same suite against the AWS SDK adapters on moto).

#![allow(clippy::unwrap_used)]

mod harness;

use std::collections::HashMap;
use std::sync::Arc;

use mmp::adapters::{PipelinesAdapter, RegistryAdapter, StoreAdapter};
use mmp::home::Home;
use mmp::system::{System, BUCKET_NAME};

fn system(dir: &std::path::Path) -> System {
    System::open(Home::new(dir).unwrap(), "contract").unwrap()
}

#[tokio::test]
async fn the_local_store_keeps_the_object_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let system = system(dir.path());
    mmp_common::contract::object_store(&StoreAdapter(system.store.clone()), "contract/").await;
}

#[tokio::test]
async fn the_local_registry_keeps_the_registry_contract() {
    let dir = tempfile::tempdir().unwrap();
    let system = system(dir.path());
    mmp_common::contract::model_registry(
        &RegistryAdapter(system.registry.clone()),
        "contract-group",
        "mmp-container",
    )
    .await;
}

#[tokio::test]
async fn the_local_registry_keeps_the_registry_operator_contract() {
    let dir = tempfile::tempdir().unwrap();
    let system = system(dir.path());
    mmp_common::contract::model_registry_operator(
        &RegistryAdapter(system.registry.clone()),
        "contract-operator",
        "mmp-container",
    )
    .await;
}

#[tokio::test]
async fn the_local_executor_keeps_the_execution_history_contract() {
    let dir = tempfile::tempdir().unwrap();
    let system = system(dir.path());
    let executor = system.open_executor(harness::container_bin(), 0).unwrap();
    let pipelines = ["contract", "history"].map(|name| {
        let definition =
            mmp_pipeline::definition::render(&mmp_pipeline::definition::Placeholders {
                image_uri: "mmp-container",
                role_arn: "arn:aws:iam::000000000000:role/r",
                bucket: BUCKET_NAME,
                pipeline_name: name,
            });
        (name.to_string(), definition)
    });
    let runner = PipelinesAdapter {
        executor: executor.clone(),
        pipelines: Arc::new(HashMap::from(pipelines)),
    };
    mmp_common::contract::pipeline_runner(&runner, "contract").await;
    // Another pipeline's executions are not listed.
    mmp_common::contract::execution_history(&runner, "history").await;
    executor.stop_all();
}

#[tokio::test]
async fn the_local_executor_keeps_the_pipeline_runner_contract() {
    let dir = tempfile::tempdir().unwrap();
    let system = system(dir.path());
    let executor = system.open_executor(harness::container_bin(), 0).unwrap();
    let definition = mmp_pipeline::definition::render(&mmp_pipeline::definition::Placeholders {
        image_uri: "mmp-container",
        role_arn: "arn:aws:iam::000000000000:role/r",
        bucket: BUCKET_NAME,
        pipeline_name: "contract",
    });
    let runner = PipelinesAdapter {
        executor: executor.clone(),
        pipelines: Arc::new(HashMap::from([("contract".to_string(), definition)])),
    };
    mmp_common::contract::pipeline_runner(&runner, "contract").await;
    executor.stop_all();
}
