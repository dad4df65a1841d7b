//! Starting and stopping: the runtime, the listener, single-model mode, signals.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use mmp_pipeline::contract::MODEL_DIR;
use tokio::net::TcpListener;

use crate::port::ModelLoader;
use crate::routes::{load_from, router, AppState};
use crate::table::LoadedModel;
use crate::{ServeConfig, ServeError};

/// Reads [`ServeConfig`] from the environment and serves until SIGTERM or SIGINT
/// (blocking; builds its own runtime).
pub fn run_from_env(loader: Arc<dyn ModelLoader>) -> Result<(), ServeError> {
    run(ServeConfig::from_env()?, loader)
}

/// Serves with `config` until SIGTERM or SIGINT, then lets in-flight requests finish for at
/// most `config.shutdown_grace`.
pub fn run(config: ServeConfig, loader: Arc<dyn ModelLoader>) -> Result<(), ServeError> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all().thread_name("mmp-serve");
    if let Some(workers) = config.worker_threads {
        runtime.worker_threads(workers);
    }
    let runtime = runtime.build().map_err(ServeError::Runtime)?;
    let result = runtime.block_on(async {
        let state = build_state(loader, &config).await?;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.bind,
                source,
            })?;
        tracing::info!(
            addr = %config.bind,
            single_model = state.has_single_model(),
            memory_budget_bytes = ?config.memory_budget_bytes,
            max_request_bytes = config.max_request_bytes,
            "serving"
        );
        serve_with_grace(
            listener,
            Arc::new(state),
            config.shutdown_grace,
            config.exit_with_parent,
        )
        .await
        .map_err(ServeError::Server)?;
        tracing::info!("server stopped");
        Ok(())
    });
    // A request still stuck in a model past the grace period must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

/// Serves until SIGTERM or SIGINT (or, with `parent`, until that process is no longer the
/// parent), then waits at most `grace` for requests in flight.
async fn serve_with_grace(
    listener: TcpListener,
    state: Arc<AppState>,
    grace: Duration,
    parent: Option<u32>,
) -> io::Result<()> {
    let (signalled, mut on_signal) = tokio::sync::watch::channel(false);
    let server = serve_with_shutdown(listener, state, async move {
        tokio::select! {
            () = shutdown_signal() => {}
            () = parent_gone(parent) => {
                tracing::warn!(parent = ?parent, "the parent process is gone; shutting down");
            }
        }
        let _ = signalled.send(true);
    });
    let deadline = async move {
        if on_signal.wait_for(|signalled| *signalled).await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => served,
        () = deadline => {
            tracing::warn!(
                grace_seconds = grace.as_secs_f64(),
                "requests still running after the grace period; exiting anyway"
            );
            Ok(())
        }
    }
}

/// Completes once `parent` is no longer this process's parent (an orphan is re-parented, so
/// this also catches a parent killed by SIGKILL, which sends no signal); never without one.
async fn parent_gone(parent: Option<u32>) {
    let Some(parent) = parent else {
        return std::future::pending().await;
    };
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        if std::os::unix::process::parent_id() != parent {
            return;
        }
    }
}

/// The state for `config`: single-model mode when `<ml_root>/model` holds files (a folder
/// that is absent or empty means multi-model mode only).
pub async fn build_state(
    loader: Arc<dyn ModelLoader>,
    config: &ServeConfig,
) -> Result<AppState, ServeError> {
    let state = AppState::new(Arc::clone(&loader), config);
    let dir = config.ml_root.join(MODEL_DIR);
    let has_files = std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some());
    if !has_files {
        return Ok(state);
    }
    let load_dir = dir.clone();
    let model = tokio::task::spawn_blocking(move || load_from(loader.as_ref(), &load_dir))
        .await
        .map_err(|err| ServeError::SingleModel {
            dir: dir.clone(),
            reason: err.to_string(),
        })?
        .map_err(|err| ServeError::SingleModel {
            dir: dir.clone(),
            reason: err.0,
        })?;
    let memory_bytes = model.memory_bytes();
    tracing::info!(dir = %dir.display(), memory_bytes, "single model loaded");
    Ok(state.with_single_model(Arc::new(LoadedModel {
        name: MODEL_DIR.to_owned(),
        url: dir.display().to_string(),
        model,
        memory_bytes,
    })))
}

/// Serves `state` on `listener` until `shutdown` completes, then stops accepting and
/// waits for in-flight requests.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let timeouts = state.timeouts();
    crate::http::serve_with_timeouts(listener, router(state), timeouts, shutdown).await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what SageMaker and Docker send).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
