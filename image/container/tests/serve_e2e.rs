//! End to end: a model refit by `mmp-container train` is served by `mmp-container serve`
//! (single-model mode from `model/`, and multi-model mode via `POST /models`), over HTTP.

#![allow(clippy::unwrap_used)] // test helpers too: a failure is the test failing

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{preprocess, Root};

/// Kills the server when the test ends, however it ends.
struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(root: &Root) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_mmp-container"))
        .arg("serve")
        .env("MMP_ML_ROOT", root.dir.path())
        .env("SAGEMAKER_BIND_TO_PORT", port.to_string())
        .env("MMP_SERVE_WORKERS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child, port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok((200, _)) = request(port, "GET", "/ping", "", "") {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not answer /ping");
}

/// One HTTP/1.1 request; returns status and body.
fn request(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// The test split's rows without the target (last column), and the true labels.
fn test_rows(root: &Root) -> (String, Vec<String>) {
    let text = root.read("processing/test/dataset.csv");
    let mut rows = String::new();
    let mut labels = Vec::new();
    for line in text.lines().skip(1) {
        let (features, label) = line.rsplit_once(',').unwrap();
        rows.push_str(features);
        rows.push('\n');
        labels.push(label.to_string());
    }
    (rows, labels)
}

fn refit(root: &Root, target: &str) {
    root.hyperparameters(
        &[
            ("algorithm", "RandomForest"),
            ("target", target),
            ("n-estimators", "30"),
            ("cross-validation", "false"),
        ],
        true,
    );
    root.ok(&["train"]);
}

#[test]
fn a_refit_model_is_served_with_its_labels() {
    let root = Root::new();
    preprocess(&root, "wine", "CLASS");
    refit(&root, "CLASS");
    let server = start(&root);
    let (rows, truth) = test_rows(&root);
    let (status, body) = request(server.1, "POST", "/invocations", "text/csv", &rows).unwrap();
    assert_eq!(status, 200, "{body}");
    let predicted: Vec<&str> = body.lines().collect();
    assert_eq!(predicted.len(), truth.len());
    let hits = predicted
        .iter()
        .zip(&truth)
        .filter(|(p, t)| **p == t.as_str())
        .count();
    assert!(
        hits * 10 >= truth.len() * 9,
        "{hits}/{} right: {body}",
        truth.len()
    );
    // A bad cell is refused naming its row and column.
    let bad = rows
        .lines()
        .next()
        .unwrap()
        .replacen(|c: char| c.is_ascii_digit(), "x", 1);
    let (status, body) = request(server.1, "POST", "/invocations", "text/csv", &bad).unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("alcohol") && body.contains("is not a number"),
        "{body}"
    );
}

#[test]
fn multi_model_mode_loads_unpacked_artifacts() {
    let models = Root::new();
    preprocess(&models, "breast-cancer", "CLASS");
    refit(&models, "CLASS");
    // An empty ML root: multi-model mode only.
    let serving = Root::new();
    let server = start(&serving);
    let url = models.path("model");
    let load = format!(r#"{{"model_name": "bc", "url": "{}"}}"#, url.display());
    let (status, body) = request(server.1, "POST", "/models", "application/json", &load).unwrap();
    assert_eq!(status, 200, "{body}");
    let (rows, truth) = test_rows(&models);
    let first = rows.lines().next().unwrap();
    let (status, body) = request(server.1, "POST", "/models/bc/invoke", "text/csv", first).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.trim(), truth[0]);
    let (status, body) = request(
        server.1,
        "POST",
        "/models/bc/invoke",
        "application/json",
        &format!("[[{first}]]"),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let p = &answer["predictions"][0]["probabilities"];
    let sum = p["0"].as_f64().unwrap() + p["1"].as_f64().unwrap();
    assert!((sum - 1.0).abs() < 1e-9, "{body}");
}

/// Whether process `pid` still runs (an exited child not yet reaped is a zombie: gone).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn a_server_told_its_parent_exits_when_the_parent_is_killed() {
    let root = Root::new();
    // A shell stands in for `mmp up`: it starts the server naming itself as the parent (the
    // server's output goes nowhere, so that it holds none of the test's pipes), prints the
    // server's pid, and waits.
    let mut parent = Command::new("sh")
        .arg("-c")
        .arg(r#"MMP_EXIT_WITH_PARENT=$$ "$0" serve >/dev/null 2>&1 & echo $!; wait"#)
        .arg(env!("CARGO_BIN_EXE_mmp-container"))
        .env("MMP_ML_ROOT", root.dir.path())
        .env("SAGEMAKER_BIND_TO_PORT", "0")
        .env("MMP_SERVE_WORKERS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = parent.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0] as char);
    }
    let server: u32 = line.trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let alive_with_parent = running(server);
    parent.kill().unwrap(); // SIGKILL: the parent gets no chance to stop it
    parent.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while running(server) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let outlived = running(server);
    if outlived {
        let _ = Command::new("kill")
            .arg("-9")
            .arg(server.to_string())
            .status();
    }
    assert!(alive_with_parent, "the server runs while its parent does");
    assert!(!outlived, "the server outlived its parent");
}
