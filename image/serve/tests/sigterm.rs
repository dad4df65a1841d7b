//! `run_from_env` as a real process: it reads its port and ML root from the environment,
//! and on SIGTERM finishes the requests in flight (for at most the grace period) and exits
//! cleanly.

#![allow(clippy::unwrap_used)] // test harness: failing loudly is the point

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fake::predictions_started;
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
    /// Grows a byte as each prediction starts.
    started: std::path::PathBuf,
    _root: tempfile::TempDir,
}

impl ChildServer {
    async fn start(sleep_ms: u64, grace_seconds: &str) -> Self {
        let spec = FakeSpec {
            sleep_ms,
            ..FakeSpec::classifier(&["a"])
        };
        Self::start_with(spec, &[(mmp_serve::SHUTDOWN_GRACE_ENV, grace_seconds)]).await
    }

    /// A server process with `spec` loaded as `slow`, and `env` set.
    async fn start_with(spec: FakeSpec, env: &[(&str, &str)]) -> Self {
        let root = tempfile::tempdir().unwrap();
        let model_dir = root.path().join("models/slow");
        let started = root.path().join("predictions-started");
        FakeSpec {
            started_marker: Some(started.clone()),
            ..spec
        }
        .write_to(&model_dir);
        let port = free_port();
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "child_server", "--nocapture"])
            .env(CHILD_ENV, "1")
            .env(mmp_serve::PORT_ENV, port.to_string())
            .env("MMP_ML_ROOT", root.path())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            started,
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

    /// Waits until `count` predictions are in the model.
    async fn predicting(&self, count: u64) {
        predictions_started(&self.started, count).await;
    }

    fn sigterm(&self) {
        let id = self.child.as_ref().unwrap().id();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(id).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    }

    /// Asserts the process exits cleanly before `bound` (far beyond its grace period; a
    /// bound only so that a server that never exits fails the test instead of hanging it).
    async fn exits_cleanly_within(mut self, bound: Duration) {
        let mut child = self.child.take().unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > bound {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server was still running {bound:?} after SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(status.success(), "the server exited with {status}");
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
    server.predicting(1).await;
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
    server.predicting(1).await;
    server.sigterm();

    server.exits_cleanly().await;
    assert!(
        in_flight.await.unwrap().is_err(),
        "the 30 s prediction was cut off when the process exited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_predictions_that_never_return_exits_within_the_grace_period() {
    let spec = FakeSpec {
        hangs: true,
        ..FakeSpec::classifier(&["a"])
    };
    let server = ChildServer::start_with(
        spec,
        &[
            (mmp_serve::SHUTDOWN_GRACE_ENV, "0.3"),
            (mmp_serve::WORKERS_ENV, "2"),
            // Longer than the test: the requests are still stuck when the signal comes.
            (mmp_serve::PREDICT_TIMEOUT_ENV, "600"),
        ],
    )
    .await;
    // One-row requests, more of them than the server has workers.
    let stuck: Vec<_> = (0..3).map(|_| server.invoke_slow(1)).collect();
    // Both workers stuck; the third request waits for one.
    server.predicting(2).await;
    // A bound of its own, so that a server that stopped answering fails the test.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let ping = client.get(server.url("/ping")).send().await;
    assert_eq!(
        ping.map(|r| r.status().as_u16()).ok(),
        Some(200),
        "/ping answers while predictions are stuck"
    );
    server.sigterm();

    server.exits_cleanly_within(Duration::from_secs(60)).await;
    for request in stuck {
        assert!(
            request.await.unwrap().is_err(),
            "the stuck prediction was cut off when the process exited"
        );
    }
}

/// Whether process `pid` has exited (gone, or a zombie no one has reaped yet).
fn has_exited(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) state ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_parent_with_predictions_that_never_return_still_stops_the_server() {
    let root = tempfile::tempdir().unwrap();
    let model_dir = root.path().join("models/stuck");
    FakeSpec {
        hangs: true,
        ..FakeSpec::classifier(&["a"])
    }
    .write_to(&model_dir);
    let port = free_port();
    // A shell stands in for `mmp up`: the server watches it, and it is killed by SIGKILL.
    let mut parent = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{}=$$ \"$0\" --ignored --exact child_server --nocapture >/dev/null & echo $!; wait",
            mmp_serve::EXIT_WITH_PARENT_ENV
        ))
        .arg(std::env::current_exe().unwrap())
        .env(CHILD_ENV, "1")
        .env(mmp_serve::PORT_ENV, port.to_string())
        .env(mmp_serve::SHUTDOWN_GRACE_ENV, "0.3")
        .env(mmp_serve::WORKERS_ENV, "2")
        .env(mmp_serve::PREDICT_TIMEOUT_ENV, "600")
        .env("MMP_ML_ROOT", root.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(parent.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let server_pid: i32 = line.trim().parse().unwrap();
    let server = nix::unistd::Pid::from_raw(server_pid);
    // Whatever happens below, no server is left behind.
    struct Reap(nix::unistd::Pid);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGKILL);
        }
    }
    let _reap = Reap(server);

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while client.get(format!("{base}/ping")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let response = client
        .post(format!("{base}/models"))
        .json(&serde_json::json!({"model_name": "stuck", "url": model_dir}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for _ in 0..3 {
        let request = client
            .post(format!("{base}/models/stuck/invoke"))
            .header("content-type", "text/csv")
            .body("1\n");
        tokio::spawn(request.send());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    parent.kill().unwrap();
    parent.wait().unwrap();
    let started = Instant::now();
    while !has_exited(server_pid) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server outlived its parent with predictions stuck"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
