//! A model whose prediction never returns (as one walking a crafted, cyclic tree would):
//! the request is answered past its compute deadline and the server keeps answering.

#![allow(clippy::unwrap_used)] // test harness: failing loudly is the point

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{expect_error, FakeLoader, FakeSpec};
use mmp_serve::{build_state, serve_with_shutdown, ServeConfig};

/// A server on a runtime of its own with two workers (as on a two-core host), so that a
/// model blocking those workers could not be hidden by the test's own runtime.
struct OwnRuntimeServer {
    base: String,
    root: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl OwnRuntimeServer {
    fn start(config: ServeConfig) -> Self {
        let root = tempfile::tempdir().unwrap();
        let mut config = config;
        config.ml_root = root.path().to_path_buf();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let state = build_state(Arc::new(FakeLoader), &config).await.unwrap();
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                bound.send(listener.local_addr().unwrap()).unwrap();
                let _ = serve_with_shutdown(listener, Arc::new(state), async {
                    let _ = stopped.await;
                })
                .await;
            });
            // A model thread that never returns must not hold this thread.
            runtime.shutdown_background();
        });
        let address = address.recv().unwrap();
        Self {
            base: format!("http://{address}"),
            root,
            stop: Some(stop),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for OwnRuntimeServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prediction_that_never_returns_is_a_504_and_ping_keeps_answering() {
    let server = OwnRuntimeServer::start(ServeConfig {
        predict_timeout: Duration::from_millis(1500),
        ..ServeConfig::default()
    });
    let dir = server.root.path().join("models/stuck");
    FakeSpec {
        hangs: true,
        ..FakeSpec::classifier(&["a"])
    }
    .write_to(&dir);
    // Without a timeout of its own the client would wait forever on a server that hangs.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let loaded = client
        .post(server.url("/models"))
        .json(&serde_json::json!({"model_name": "stuck", "url": dir}))
        .send()
        .await
        .unwrap();
    assert_eq!(loaded.status(), 200);

    // More stuck one-row requests than the server has workers.
    let stuck: Vec<_> = (0..3)
        .map(|_| {
            let request = client
                .post(server.url("/models/stuck/invoke"))
                .header("content-type", "text/csv")
                .body("1\n");
            tokio::spawn(request.send())
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        let ping = client.get(server.url("/ping")).send().await;
        assert_eq!(
            ping.map(|r| r.status().as_u16()).ok(),
            Some(200),
            "/ping answers while predictions are stuck"
        );
    }
    for request in stuck {
        let response = request.await.unwrap().unwrap();
        let body = expect_error(response, 504, "did not finish its prediction").await;
        let message = body["error"].as_str().unwrap();
        assert!(message.contains("MMP_PREDICT_TIMEOUT_SECONDS"), "{message}");
    }
    let ping = client.get(server.url("/ping")).send().await.unwrap();
    assert_eq!(ping.status(), 200);
}
