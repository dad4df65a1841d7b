//! The servers the serving benchmark (scripts/bench-serve.sh) measures:
//!
//! - `bench_server noop`: the HTTP ceiling, the same axum/hyper/tokio stack with a handler on
//!   `POST /models/{name}/invoke` that extracts what the real one does and answers a constant;
//! - `bench_server fake`: the real server (`run_from_env`) with the test suite's fake models.
//!
//! Both read `SAGEMAKER_BIND_TO_PORT` and `MMP_SERVE_WORKERS` like the real server.

#[path = "../tests/common/fake.rs"]
#[allow(dead_code)] // the spec builders serve the tests
mod fake;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use mmp_serve::ServeConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::args().nth(1).as_deref() {
        Some("fake") => Ok(mmp_serve::run_from_env(Arc::new(fake::FakeLoader))?),
        Some("noop") => noop(ServeConfig::from_env()?),
        _ => Err("usage: bench_server noop|fake".into()),
    }
}

async fn noop_invoke(
    Path(_name): Path<String>,
    _headers: HeaderMap,
    _body: Bytes,
) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/csv")], "1\n")
}

fn noop(config: ServeConfig) -> Result<(), Box<dyn std::error::Error>> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(workers) = config.worker_threads {
        runtime.worker_threads(workers);
    }
    runtime.build()?.block_on(async {
        let router = Router::new()
            .route("/ping", get(|| async { "" }))
            .route("/models/{name}/invoke", post(noop_invoke));
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await?
            .tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
        axum::serve(listener, router)
            .with_graceful_shutdown(mmp_serve::shutdown_signal())
            .await?;
        Ok(())
    })
}
