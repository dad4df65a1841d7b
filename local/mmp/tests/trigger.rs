//! The pipeline trigger over the local store (the moto tests run the same scenarios over S3):
//! uploads are pinned by a copy conditional on their ETag, so each execution reads exactly
//! its own upload, and an upload overwritten before it could be pinned is recorded as
//! superseded.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use mmp::adapters::StoreAdapter;
use mmp::home::Home;
use mmp::system::{System, BUCKET_NAME};
use mmp_common::config::{self, Env};
use mmp_common::ports::{
    ExecutionDescription, ExecutionStep, Parameter, PipelineRunner, StartExecution,
};
use mmp_common::PortError;
use pipeline_trigger::{scenarios, TriggerConfig};

/// Records what each execution was started with; runs nothing (the store is under test).
#[derive(Default)]
struct Recorded(Mutex<HashMap<String, Vec<Parameter>>>);

#[async_trait]
impl PipelineRunner for Recorded {
    async fn start_execution(&self, request: &StartExecution) -> Result<String, PortError> {
        let arn = format!(
            "arn:aws:sagemaker:local:0:pipeline/{}/execution/{}",
            request.pipeline_name, request.client_request_token
        );
        let mut started = self.0.lock().unwrap();
        started.insert(arn.clone(), request.parameters.clone());
        Ok(arn)
    }
    async fn describe_execution(&self, arn: &str) -> Result<ExecutionDescription, PortError> {
        Err(PortError::NotFound(arn.to_string()))
    }
    async fn execution_parameters(&self, arn: &str) -> Result<Vec<Parameter>, PortError> {
        let started = self.0.lock().unwrap();
        started
            .get(arn)
            .cloned()
            .ok_or_else(|| PortError::NotFound(arn.to_string()))
    }
    async fn execution_steps(&self, _arn: &str) -> Result<Vec<ExecutionStep>, PortError> {
        Ok(Vec::new())
    }
}

fn world() -> (tempfile::TempDir, StoreAdapter, TriggerConfig) {
    let dir = tempfile::tempdir().unwrap();
    let system = System::open(Home::new(dir.path()).unwrap(), "mmp").unwrap();
    let values = HashMap::from([
        (config::ENV_BUCKET, BUCKET_NAME.to_string()),
        (config::ENV_PIPELINE_NAME, "mmp".to_string()),
    ]);
    let config =
        TriggerConfig::from_env(&Env::new(move |name: &str| values.get(name).cloned())).unwrap();
    (dir, StoreAdapter(system.store.clone()), config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_uploads_each_train_on_their_own_bytes_locally() {
    let (_dir, store, config) = world();
    let runner = Recorded::default();
    scenarios::quick_uploads_each_train_on_their_own_bytes(
        &store, &store, &runner, &runner, &config, 20,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwritten_upload_is_superseded_locally() {
    let (_dir, store, config) = world();
    let runner = Recorded::default();
    scenarios::an_overwritten_upload_is_superseded(&store, &store, &runner, &config).await;
}
