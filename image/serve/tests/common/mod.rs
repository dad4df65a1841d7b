//! An in-process server on an ephemeral port, serving fake models from a temporary folder.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers: failing loudly is the point

pub mod fake;

use std::path::PathBuf;
use std::sync::Arc;

use mmp_serve::{build_state, serve_with_shutdown, ServeConfig};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use fake::{FakeLoader, FakeSpec};

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ServeConfig::default(), |_| {}).await
    }

    /// Starts a server with `config` (its ML root replaced by a temporary folder that
    /// `prepare` may fill first).
    pub async fn start_with(
        mut config: ServeConfig,
        prepare: impl FnOnce(&std::path::Path),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path());
        config.ml_root = dir.path().to_path_buf();
        let state = build_state(Arc::new(FakeLoader), &config).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_with_shutdown(listener, Arc::new(state), async {
            let _ = stopped.await;
        }));
        Self {
            base,
            client: reqwest::Client::new(),
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Writes a fake model into the temporary folder and returns its folder.
    pub fn model_dir(&self, name: &str, spec: &FakeSpec) -> PathBuf {
        let dir = self.dir.path().join("models").join(name);
        spec.write_to(&dir);
        dir
    }

    pub async fn load(&self, name: &str, dir: &std::path::Path) -> reqwest::Response {
        self.client
            .post(self.url("/models"))
            .json(&serde_json::json!({"model_name": name, "url": dir}))
            .send()
            .await
            .unwrap()
    }

    /// Writes and loads a fake model, asserting success.
    pub async fn load_ok(&self, name: &str, spec: &FakeSpec) {
        let dir = self.model_dir(name, spec);
        let response = self.load(name, &dir).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    pub async fn invoke(&self, name: &str, content_type: &str, body: &str) -> reqwest::Response {
        self.post(&format!("/models/{name}/invoke"), content_type, None, body)
            .await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    /// POSTs `body` to `path` with a Content-Type and, if given, an Accept header.
    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        accept: Option<&str>,
        body: &str,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body.to_owned());
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send().await.unwrap()
    }

    /// Stops accepting, waits for in-flight requests, and returns the server's result.
    pub async fn stop(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap(),
            None => Ok(()),
        }
    }
}

/// Status and parsed JSON body.
pub async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "status {status}, body {text}"
    );
    (status, serde_json::from_str(&text).unwrap())
}

/// Asserts a JSON error response with `status` whose message contains `needle`; returns
/// the body for further checks.
pub async fn expect_error(response: reqwest::Response, status: u16, needle: &str) -> Value {
    let (actual, body) = json(response).await;
    assert_eq!(actual, status, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    body
}

/// A port nothing listens on right now (for servers started in another process).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
