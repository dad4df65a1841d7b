//! Drives the `mmp` binary as a user would: `mmp up` as a child process, the other commands
//! against the same data folder.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::new_without_default
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn mmp_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mmp"))
}

/// The container binary beside `mmp`, built on demand when only this package's tests were built.
pub fn container_bin() -> PathBuf {
    let bin = mmp_bin().with_file_name("mmp-container");
    if !bin.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "mmp-container"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building mmp-container failed");
    }
    assert!(bin.is_file(), "{} is missing", bin.display());
    bin
}

/// A data folder for one test.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> Self {
        container_bin();
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(mmp_bin());
        cmd.arg("--data-dir").arg(self.data_dir()).args(args);
        cmd.env_remove("MMP_HOME").env("RUST_LOG", "warn");
        cmd
    }

    /// Runs a command; returns (success, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.command(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "mmp {args:?} failed:\n{out}\n{err}");
        out
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("mmp {args:?}: {e}: {out}"))
    }

    /// Starts `mmp up` and waits for its Function URL.
    pub fn up(&self) -> Up {
        self.up_with_env(&[])
    }

    /// [`World::up`] with more environment variables for `mmp up`.
    pub fn up_with_env(&self, env: &[(&str, &str)]) -> Up {
        let mut child = self
            .command(&["up", "--max-parallel-jobs", "2"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let (mut url, mut console) = (None, None);
        // The banner ends with the hint about uploading.
        for line in lines.by_ref() {
            let line = line.unwrap();
            let line = line.trim();
            if let Some(u) = line.strip_prefix("Function URL:") {
                url = Some(u.trim().to_string());
            } else if let Some(u) = line.strip_prefix("Console:") {
                console = Some(u.trim().to_string());
            } else if line.starts_with("Upload with") {
                break;
            }
        }
        // Keep draining so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Up {
            child,
            url: url.expect("mmp up printed its Function URL"),
            console: console.expect("mmp up printed its console URL"),
        }
    }

    /// Writes `settings` as the dataset's pipeline.json and uploads `csv` as its data.
    pub fn upload(&self, dataset: &str, file_name: &str, csv: &str, settings: &str) {
        let dir = self.data_dir().join("inputs").join(dataset);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(file_name);
        std::fs::write(&file, csv).unwrap();
        let settings_file = dir.join("pipeline.json");
        std::fs::write(&settings_file, settings).unwrap();
        self.ok(&[
            "upload",
            file.to_str().unwrap(),
            "--dataset",
            dataset,
            "--settings",
            settings_file.to_str().unwrap(),
        ]);
    }

    /// Uploads again a file [`World::upload`] wrote (`inputs/<dataset>/<file_name>`), without
    /// settings, and returns how `mmp upload` ended: success, stdout, stderr.
    pub fn upload_again(&self, dataset: &str, file_name: &str) -> (bool, String, String) {
        let file = self.data_dir().join("inputs").join(dataset).join(file_name);
        self.run(&["upload", file.to_str().unwrap(), "--dataset", dataset])
    }

    pub fn executions(&self) -> Vec<Value> {
        self.json(&["executions", "--json"])
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `dataset` has `count` executions, all ended; returns them newest first.
    pub fn wait_executions(&self, dataset: &str, count: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let list: Vec<Value> = self
                .executions()
                .into_iter()
                .filter(|e| e["parameters"]["DatasetName"] == dataset)
                .collect();
            let ended = list
                .iter()
                .all(|e| e["status"] != "Executing" && e["status"] != "Stopping");
            if list.len() >= count && ended {
                return list;
            }
            assert!(
                Instant::now() < deadline,
                "executions of {dataset} did not end: {list:?}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub fn models(&self) -> Vec<Value> {
        self.json(&["models", "--json"])
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn routing_table(&self) -> Value {
        let path = self.data_dir().join("bucket/endpoint/routing.json");
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    }

    /// Waits until the routing table sends `dataset` to `version` (None: no route).
    pub fn wait_route(&self, dataset: &str, version: Option<u64>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let table = self.routing_table();
            let now = table["routes"][dataset]["version"].as_u64();
            if now == version {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "route of {dataset} is {now:?}, not {version:?}: {table}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A running `mmp up`.
pub struct Up {
    pub child: Child,
    pub url: String,
    pub console: String,
}

impl Up {
    /// `kill -9`.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Up {
    /// SIGTERM, so that `mmp up` stops its serving process too; SIGKILL if it lingers.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sample dataset from the repository.
pub fn sample(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(name)
        .join(format!("{name}.csv"));
    std::fs::read_to_string(path).unwrap()
}

/// A small tuning budget, so a test's execution takes seconds.
pub const FAST: &str = r#"{"max_tuning_jobs": 3, "max_parallel_tuning_jobs": 2}"#;

/// The first `n` data rows of `csv` without the header and the `target` column.
pub fn feature_rows(csv: &str, target: &str, n: usize) -> String {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == target).unwrap();
    lines
        .take(n)
        .map(|l| {
            l.split(',')
                .enumerate()
                .filter(|(i, _)| *i != at)
                .map(|(_, v)| v)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// POSTs JSON and returns the JSON answer (any status).
pub fn post_json(url: &str, body: &Value) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .json(body)
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()
    })
}

/// Serves the registered artifact with `mmp-container serve` in single-model mode and asks
/// it for `rows`' predictions, as JSON.
pub fn predict_directly(world: &World, model_data_url: &str, rows: &str) -> Value {
    let key = model_data_url.strip_prefix("s3://mmp-local/").unwrap();
    let archive = std::fs::read(world.data_dir().join("bucket").join(key)).unwrap();
    let root = tempfile::tempdir().unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(archive.as_slice()))
        .unpack(root.path().join("model"))
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(container_bin())
        .arg("serve")
        .env("MMP_ML_ROOT", root.path())
        .env("SAGEMAKER_BIND_TO_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = rt.block_on(async {
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if client.get(format!("{base}/ping")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let response = client
            .post(format!("{base}/invocations"))
            .header("content-type", "text/csv")
            .header("accept", "application/json")
            .body(rows.to_string())
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()
    });
    let _ = child.kill();
    let _ = child.wait();
    answer
}
