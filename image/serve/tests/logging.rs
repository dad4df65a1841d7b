//! SageMaker's `X-Amzn-SageMaker-Target-Model` header reaches the logs.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{FakeSpec, TestServer};

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// The default single-threaded test runtime runs the server's handlers on this thread, where
// the subscriber below is installed.
#[tokio::test]
async fn the_target_model_header_is_logged_with_each_invocation() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::start().await;
    server.load_ok("m", &FakeSpec::classifier(&["a"])).await;
    let response = server
        .client
        .post(server.url("/models/m/invoke"))
        .header("content-type", "text/csv")
        .header(
            "X-Amzn-SageMaker-Target-Model",
            "breast-cancer-20260101.tar.gz",
        )
        .body("1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = logs
        .lines()
        .find(|line| line.contains("invoke"))
        .unwrap_or_else(|| panic!("no invocation logged in:\n{logs}"));
    assert!(line.contains("model=m"), "{line}");
    assert!(
        line.contains("target_model=") && line.contains("breast-cancer-20260101.tar.gz"),
        "{line}"
    );
    assert!(logs.contains("model loaded"), "{logs}");
}
