//! `run_from_env` as a real process: it reads its port and ML root from the environment,
//! and on SIGTERM finishes the requests in flight (for at most the grace period) and exits
//! cleanly.

#![allow(clippy::unwrap_used)] // test harness: failing loudly is the point

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, FakeLoader, FakeSpec};
use tokio::task::JoinHandle;

const CHILD_ENV: &str = "MMP_SERVE_TEST_CHILD";

/// The server process the tests below start (this test binary, re-run with `--ignored`).
#[test]
#[ignore = "started as a child process by the SIGTERM tests"]
fn child_server() {
    if std::env::var_os(CHILD_ENV).is_some() {
        mmp_serve::run_from_env(Arc::new(FakeLoader)).unwrap();
    }
}

/// A server process with a loaded model `slow` whose predictions take `sleep_ms`.
struct ChildServer {
    /// `None` once the test has waited for it.
    child: Option<Child>,
    base: String,
    client: reqwest::Client,
    _root: tempfile::TempDir,
}

impl ChildServer {
    async fn start(sleep_ms: u64, grace_seconds: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        let model_dir = root.path().join("models/slow");
        FakeSpec {
            sleep_ms,
            ..FakeSpec::classifier(&["a"])
        }
        .write_to(&model_dir);
        let port = free_port();
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "child_server", "--nocapture"])
            .env(CHILD_ENV, "1")
            .env(mmp_serve::PORT_ENV, port.to_string())
            .env(mmp_serve::SHUTDOWN_GRACE_ENV, grace_seconds)
            .env("MMP_ML_ROOT", root.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _root: root,
        };
        let started = Instant::now();
        while server.client.get(server.url("/ping")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the server never answered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let response = server
            .client
            .post(server.url("/models"))
            .json(&serde_json::json!({"model_name": "slow", "url": model_dir}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Starts a prediction of `rows` rows by the slow model; resolves to its status and
    /// body, or the error.
    fn invoke_slow(&self, rows: usize) -> JoinHandle<Result<(u16, String), reqwest::Error>> {
        let request = self
            .client
            .post(self.url("/models/slow/invoke"))
            .header("content-type", "text/csv")
            .body("2\n".repeat(rows));
        tokio::spawn(async move {
            let response = request.send().await?;
            let status = response.status().as_u16();
            Ok((status, response.text().await?))
        })
    }

    fn sigterm(&self) {
        let id = self.child.as_ref().unwrap().id();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(id).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    }

    /// Waits for the process to exit and asserts it exited cleanly.
    async fn exits_cleanly(mut self) {
        let mut child = self.child.take().unwrap();
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "the server exited with {status}");
    }
}

/// A failed test leaves no server behind.
impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish() {
    let server = ChildServer::start(500, "20").await;
    let in_flight = server.invoke_slow(1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.sigterm();

    assert_eq!(in_flight.await.unwrap().unwrap(), (200, "yes\n".to_owned()));
    let ping = server.url("/ping");
    let client = server.client.clone();
    server.exits_cleanly().await;
    assert!(
        client.get(ping).send().await.is_err(),
        "nothing listens any more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_outliving_the_grace_period_does_not_hold_the_exit() {
    let server = ChildServer::start(30_000, "0.3").await;
    // A batch big enough to be predicted on the blocking pool: the runtime's workers stay free
    // to take the signal and run the deadline. (A model that blocked a worker thread for 30 s
    // on a small payload would delay both; real models answer one row in microseconds.)
    let in_flight = server.invoke_slow(300);
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.sigterm();

    server.exits_cleanly().await;
    assert!(
        in_flight.await.unwrap().is_err(),
        "the 30 s prediction was cut off when the process exited"
    );
}
