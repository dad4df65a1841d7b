//! The four Lambda handlers, run in-process over the local adapters: the event bus delivers
//! to [`Handlers::deliver`], the Function URL calls the invoker. Each handler's configuration
//! is read through the same `from_env` code the Lambda binaries use, from the local values.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Result;
use mmp_common::config::{self, Env};
use mmp_common::events::{
    EventBridgeEvent, ModelPackageStateChange, PipelineExecutionStatusChange, S3Event,
};
use mmp_common::ports::MetricSink;
use mmp_common::retry::{Backoff, Retrying};

use crate::adapters::{EndpointAdapter, PipelinesAdapter, RegistryAdapter, StoreAdapter};
use crate::function::Function;
use crate::system::{System, BUCKET_NAME};

/// The endpoint's name in the local world.
pub const LOCAL_ENDPOINT_NAME: &str = "mmp-local-endpoint";

pub struct Handlers {
    pub store: StoreAdapter,
    pub registry: RegistryAdapter,
    pub pipelines: PipelinesAdapter,
    pub endpoint: EndpointAdapter,
    /// The local endpoint's client retries nothing: [`Retrying`] is its one transport retry.
    pub invoker: endpoint_invoker::Invoker<StoreAdapter, Retrying<EndpointAdapter>>,
    trigger: pipeline_trigger::TriggerConfig,
    deployer: model_deployer::DeployerConfig,
    reporter: metrics_reporter::ReporterConfig,
    metrics: FileMetricSink,
}

/// Embedded Metric Format documents, one per line, appended to `<data>/metrics.jsonl`
/// (where Lambda writes them to stdout for CloudWatch Logs to extract).
pub struct FileMetricSink {
    path: PathBuf,
    lock: Mutex<()>,
}

impl MetricSink for FileMetricSink {
    fn emit(&self, document: &serde_json::Value) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| writeln!(f, "{document}"));
        if let Err(e) = written {
            tracing::error!(path = %self.path.display(), error = %e, "could not write a metric document");
        }
    }
}

impl Handlers {
    pub fn new(
        system: &System,
        store: StoreAdapter,
        registry: RegistryAdapter,
        pipelines: PipelinesAdapter,
        endpoint: EndpointAdapter,
    ) -> Result<Self> {
        let values: HashMap<&str, String> = HashMap::from([
            (config::ENV_BUCKET, BUCKET_NAME.to_string()),
            (config::ENV_PIPELINE_NAME, system.pipeline_name.clone()),
            (config::ENV_ENDPOINT_NAME, LOCAL_ENDPOINT_NAME.to_string()),
        ]);
        let env = Env::new(move |name: &str| values.get(name).cloned());
        Ok(Self {
            trigger: pipeline_trigger::TriggerConfig::from_env(&env)?,
            deployer: model_deployer::DeployerConfig::from_env(&env)?,
            reporter: metrics_reporter::ReporterConfig::from_env(&env)?,
            metrics: FileMetricSink {
                path: system.home.metrics_file(),
                lock: Mutex::new(()),
            },
            invoker: endpoint_invoker::Invoker::new(
                store.clone(),
                Retrying::new(endpoint.clone(), Backoff::default()),
                endpoint_invoker::InvokerConfig::from_env(&env)?,
            ),
            store,
            registry,
            pipelines,
            endpoint,
        })
    }

    /// Delivers one event to the function, as Lambda would invoke it (or, for
    /// [`Function::RetryExecution`], to the executor).
    pub async fn deliver(&self, target: Function, event: serde_json::Value) -> Result<(), String> {
        match target {
            Function::PipelineTrigger => {
                let event: S3Event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                pipeline_trigger::handle_event(
                    &self.store,
                    &self.pipelines,
                    &self.metrics,
                    &self.trigger,
                    &event,
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
            }
            Function::ModelDeployer => {
                let event: EventBridgeEvent<ModelPackageStateChange> =
                    serde_json::from_value(event).map_err(|e| e.to_string())?;
                let deployed = model_deployer::handle_event(
                    &self.store,
                    &self.registry,
                    &self.deployer,
                    &event,
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
                // A withdrawn or replaced version's archive is gone from the model prefix:
                // locally its model is unloaded and its folder removed at once.
                if let Err(e) = self.endpoint.0.forget_withdrawn().await {
                    tracing::warn!(error = %e, "could not unload withdrawn models");
                }
                deployed
            }
            Function::MetricsReporter => {
                let event: EventBridgeEvent<PipelineExecutionStatusChange> =
                    serde_json::from_value(event).map_err(|e| e.to_string())?;
                metrics_reporter::handle_event(
                    &self.store,
                    &self.pipelines,
                    &self.registry,
                    &self.metrics,
                    &self.reporter,
                    &event,
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
            }
            Function::RetryExecution => {
                let request: crate::actions::RetryRequest =
                    serde_json::from_value(event).map_err(|e| e.to_string())?;
                let executor = self.pipelines.executor.clone();
                // The executor's state is SQLite: off the async workers.
                crate::db::blocking(move || {
                    let execution = executor
                        .describe(&request.execution)
                        .map_err(|e| e.to_string())?;
                    if !request.is_due(&execution) {
                        tracing::info!(execution = %execution.id, status = %execution.status, "retry already done");
                        return Ok(());
                    }
                    match executor.retry(&execution.id) {
                        Ok(_) => Ok(()),
                        // Retried meanwhile (by the console): what was asked is done.
                        Err(mmp_executor::ExecutorError::NotRetryable { .. }) => Ok(()),
                        Err(e) => Err(e.to_string()),
                    }
                })
                .await
                .map_err(|e| e.to_string())?
            }
        }
    }
}
