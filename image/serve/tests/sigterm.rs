//! `run_from_env` as a real process: it reads its port and ML root from the environment,
//! and on SIGTERM finishes the request in flight and exits cleanly.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, FakeLoader, FakeSpec};

const CHILD_ENV: &str = "MMP_SERVE_TEST_CHILD";

/// The server process the test below starts (this test binary, re-run with `--ignored`).
#[test]
#[ignore = "started as a child process by sigterm_lets_the_request_in_flight_finish"]
fn child_server() {
    if std::env::var_os(CHILD_ENV).is_some() {
        mmp_serve::run_from_env(Arc::new(FakeLoader)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish() {
    let root = tempfile::tempdir().unwrap();
    let model_dir = root.path().join("models/slow");
    FakeSpec {
        sleep_ms: 500,
        ..FakeSpec::classifier(&["a"])
    }
    .write_to(&model_dir);
    let port = free_port();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_server", "--nocapture"])
        .env(CHILD_ENV, "1")
        .env(mmp_serve::PORT_ENV, port.to_string())
        .env("MMP_ML_ROOT", root.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

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
        .json(&serde_json::json!({"model_name": "slow", "url": model_dir}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let in_flight = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/models/slow/invoke");
        async move {
            let response = client
                .post(url)
                .header("content-type", "text/csv")
                .body("2")
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    assert_eq!(in_flight.await.unwrap(), (200, "yes\n".to_owned()));
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "the server exited with {status}");
    assert!(client.get(format!("{base}/ping")).send().await.is_err());
}
