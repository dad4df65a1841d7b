//! The running system: the executor, the endpoint, the event dispatcher and the Function URL,
//! around the state [`System`] keeps. `mmp up` and `mmp demo` start one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use mmp_executor::Executor;
use mmp_pipeline::definition::{render, Placeholders};
use mmp_serve::http::{serve_with_timeouts, Timeouts};
use mmp_serve::{ServeConfig, BODY_READ_TIMEOUT_ENV, HEADER_READ_TIMEOUT_ENV};
use tokio::sync::watch;

use crate::adapters::{
    EndpointAdapter, LocalPorts, PipelinesAdapter, RegistryAdapter, StoreAdapter,
};
use crate::bus::{self, Deliver};
use crate::console::{ConsoleState, LocalRuntime};
use crate::endpoint::{EndpointConfig, LocalEndpoint};
use crate::handlers::Handlers;
use crate::system::{System, BUCKET_NAME};
use crate::target::LocalTarget;

/// What `mmp up` and `mmp demo` are started with.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    pub container_bin: PathBuf,
    /// Container processes at once over all executions (0: one per core).
    pub max_parallel_jobs: usize,
    /// Function URL port on loopback (0: any free port).
    pub function_url_port: u16,
    /// Registry console port on loopback (0: any free port; `None`: no console).
    pub console_port: Option<u16>,
    pub model_memory_budget_bytes: Option<u64>,
}

/// Where a running runtime can be reached, recorded in the data folder for other commands.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RuntimeInfo {
    pub pid: u32,
    pub function_url: String,
    #[serde(default)]
    pub console_url: Option<String>,
}

/// The pipeline definition as this machine runs it: the template rendered with the local
/// image, role and bucket.
pub fn local_definition(pipeline_name: &str) -> String {
    render(&Placeholders {
        image_uri: LOCAL_IMAGE,
        role_arn: LOCAL_ROLE,
        bucket: BUCKET_NAME,
        pipeline_name,
    })
}

pub struct Runtime {
    pub system: Arc<System>,
    pub executor: Executor,
    pub endpoint: Arc<LocalEndpoint>,
    pub function_url: SocketAddr,
    pub console: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The image URI the local definition names: the container binary itself.
pub const LOCAL_IMAGE: &str = "mmp-container";
pub const LOCAL_ROLE: &str = "arn:aws:iam::000000000000:role/mmp-local";

impl Runtime {
    pub async fn start(system: System, options: RuntimeOptions) -> Result<Self> {
        let system = Arc::new(system);
        let home = &system.home;
        let executor =
            system.open_executor(options.container_bin.clone(), options.max_parallel_jobs)?;
        let definition = local_definition(&system.pipeline_name);
        let steps = mmp_executor::step_graph(&definition)?;
        let ports = LocalPorts::new(&system, executor.clone(), definition.clone());
        let pipelines = PipelinesAdapter {
            executor: executor.clone(),
            pipelines: Arc::new(HashMap::from([(system.pipeline_name.clone(), definition)])),
        };
        let endpoint = Arc::new(LocalEndpoint::new(
            EndpointConfig {
                container_bin: options.container_bin.clone(),
                cache_dir: home.endpoint_cache(),
                model_prefix: mmp_common::naming::DEFAULT_MODELS_PREFIX.to_string(),
                memory_budget_bytes: options.model_memory_budget_bytes,
                log_file: home.root().join("endpoint.log"),
                archive_limits: crate::endpoint::archive_limits_from_env()?,
            },
            system.store.clone(),
        ));
        let handlers = Arc::new(Handlers::new(
            &system,
            StoreAdapter(system.store.clone()),
            RegistryAdapter(system.registry.clone()),
            pipelines,
            EndpointAdapter(endpoint.clone()),
        )?);

        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let dispatch_handlers = handlers.clone();
        let deliver: Deliver = Arc::new(move |target, event| {
            let handlers = dispatch_handlers.clone();
            Box::pin(async move { handlers.deliver(target, event).await })
        });
        tasks.push(tokio::spawn(bus::run_dispatcher(
            system.outbox.clone(),
            deliver,
            stop_rx.clone(),
        )));

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.function_url_port))
            .await
            .context("binding the Function URL")?;
        let function_url = listener.local_addr()?;
        let app = crate::function_url::router(handlers.clone());
        let timeouts = read_timeouts()?;
        tasks.push(serve(
            "the Function URL",
            listener,
            app,
            timeouts,
            stop_rx.clone(),
        ));

        let console = match options.console_port {
            None => None,
            Some(port) => {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .context("binding the console")?;
                let address = listener.local_addr()?;
                let app = crate::console::router(Arc::new(ConsoleState {
                    target: Arc::new(LocalTarget {
                        ports,
                        function_url: format!("http://{function_url}/"),
                        http: reqwest::Client::new(),
                    }),
                    local: Some(LocalRuntime {
                        system: system.clone(),
                        executor: executor.clone(),
                        endpoint: endpoint.clone(),
                    }),
                    steps,
                }));
                tasks.push(serve(
                    "the console",
                    listener,
                    app,
                    timeouts,
                    stop_rx.clone(),
                ));
                Some(address)
            }
        };

        let info = RuntimeInfo {
            pid: std::process::id(),
            function_url: format!("http://{function_url}/"),
            console_url: console.map(|a| format!("http://{a}/")),
        };
        std::fs::write(home.runtime_file(), serde_json::to_vec_pretty(&info)?)?;
        Ok(Self {
            system,
            executor,
            endpoint,
            function_url,
            console,
            stop,
            tasks,
        })
    }

    pub fn function_url(&self) -> String {
        format!("http://{}/", self.function_url)
    }

    pub fn console_url(&self) -> Option<String> {
        self.console.map(|a| format!("http://{a}/"))
    }

    /// Stops the dispatcher and the Function URL, lets executions in flight end as Stopped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.executor.stop_all();
        for task in self.tasks {
            let _ = task.await;
        }
        self.endpoint.stop().await;
        let _ = std::fs::remove_file(self.system.home.runtime_file());
    }
}

/// The read timeouts of `mmp`'s own servers: the serving container's two settings
/// (`MMP_HEADER_READ_TIMEOUT_SECONDS`, `MMP_BODY_READ_TIMEOUT_SECONDS`), read by its own code
/// so both name a bad value the same way.
pub(crate) fn read_timeouts() -> Result<Timeouts> {
    let lookup = |name: &str| {
        [HEADER_READ_TIMEOUT_ENV, BODY_READ_TIMEOUT_ENV]
            .contains(&name)
            .then(|| std::env::var(name).ok())
            .flatten()
    };
    Ok(ServeConfig::from_lookup(lookup)?.timeouts)
}

/// Serves `app` on `listener` until the stop signal, cutting off clients that send their
/// headers or body too slowly (axum's own `serve` would wait on them forever).
pub(crate) fn serve(
    what: &'static str,
    listener: tokio::net::TcpListener,
    app: axum::Router,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let served = serve_with_timeouts(listener, app, timeouts, async move {
            let _ = stop.changed().await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "{what} server stopped");
        }
    })
}
