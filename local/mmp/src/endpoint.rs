//! The local multi-model endpoint: one `mmp-container serve` child process, behind the
//! front-end behaviour SageMaker gives a multi-model endpoint. On an invocation whose target
//! model is not loaded it fetches the archive from the multi-model prefix, unpacks it,
//! `POST /models`; on 507 (memory budget) it unloads the least recently used model and
//! retries; then it invokes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use crate::store::{LocalStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// SageMaker answers a missing target model with a client error.
    #[error("target model {0} is not in the endpoint's model prefix")]
    ModelNotFound(String),
    #[error("model {model} could not be loaded: {reason}")]
    LoadFailed { model: String, reason: String },
    #[error("the serving process is unavailable: {0}")]
    Unavailable(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("endpoint I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// What the serving container answered.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A model the serving process holds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadedModel {
    pub model_name: String,
    pub memory_bytes: u64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelPage {
    models: Vec<LoadedModel>,
    next_page_token: Option<String>,
}

pub struct EndpointConfig {
    pub container_bin: PathBuf,
    /// Where archives are unpacked, one folder per target model.
    pub cache_dir: PathBuf,
    /// Key prefix of the multi-model archives in the store.
    pub model_prefix: String,
    /// The serving process's model memory budget, if any.
    pub memory_budget_bytes: Option<u64>,
    pub log_file: PathBuf,
}

struct Server {
    child: Child,
    base_url: String,
}

pub struct LocalEndpoint {
    config: EndpointConfig,
    store: Arc<LocalStore>,
    http: reqwest::Client,
    server: Mutex<Option<Server>>,
    /// Loaded target models and when each was last used.
    loaded: Mutex<HashMap<String, Instant>>,
}

impl LocalEndpoint {
    pub fn new(config: EndpointConfig, store: Arc<LocalStore>) -> Self {
        Self {
            config,
            store,
            http: reqwest::Client::new(),
            server: Mutex::new(None),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// The serving process's URL, starting it if it is not running.
    pub async fn base_url(&self) -> Result<String, EndpointError> {
        let mut server = self.server.lock().await;
        if let Some(s) = server.as_mut() {
            if s.child.try_wait()?.is_none() {
                return Ok(s.base_url.clone());
            }
            tracing::warn!("the serving process exited; starting a new one");
            self.loaded.lock().await.clear();
        }
        let started = self.start().await?;
        let url = started.base_url.clone();
        *server = Some(started);
        Ok(url)
    }

    async fn start(&self) -> Result<Server, EndpointError> {
        let port = free_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.config.log_file)?;
        let mut cmd = Command::new(&self.config.container_bin);
        cmd.arg(mmp_pipeline::contract::CMD_SERVE)
            .env(mmp_serve::PORT_ENV, port.to_string())
            // Loopback only: anyone who reaches the server can load any local folder as a
            // model, unload models and invoke them. (SageMaker's image keeps 0.0.0.0.)
            .env(mmp_serve::BIND_ADDRESS_ENV, "127.0.0.1")
            .env(mmp_pipeline::contract::ML_ROOT_ENV, &self.config.cache_dir)
            // If this process is killed outright, the server goes with it.
            .env(
                mmp_serve::EXIT_WITH_PARENT_ENV,
                std::process::id().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        if let Some(budget) = self.config.memory_budget_bytes {
            cmd.env(mmp_serve::MEMORY_BUDGET_ENV, budget.to_string());
        }
        let mut child = cmd.spawn().map_err(|e| {
            EndpointError::Unavailable(format!(
                "cannot start {}: {e}",
                self.config.container_bin.display()
            ))
        })?;
        let base_url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(EndpointError::Unavailable(format!(
                    "the serving process exited with {status}; see {}",
                    self.config.log_file.display()
                )));
            }
            let ping = self.http.get(format!("{base_url}/ping")).send().await;
            if matches!(&ping, Ok(r) if r.status().is_success()) {
                return Ok(Server { child, base_url });
            }
            if Instant::now() > deadline {
                return Err(EndpointError::Unavailable(
                    "no answer to /ping within 20 s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The models the serving process holds and the memory each is charged, or `None` when
    /// no serving process runs (it starts on the first invocation).
    pub async fn loaded_models(&self) -> Result<Option<Vec<LoadedModel>>, EndpointError> {
        let base = {
            let mut server = self.server.lock().await;
            let Some(s) = server.as_mut() else {
                return Ok(None);
            };
            if s.child.try_wait()?.is_some() {
                return Ok(None);
            }
            s.base_url.clone()
        };
        let mut models = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = self.http.get(format!("{base}/models"));
            if let Some(t) = &token {
                request = request.query(&[("next_page_token", t)]);
            }
            let page: ModelPage = request
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| EndpointError::Unavailable(e.to_string()))?
                .json()
                .await
                .map_err(|e| EndpointError::Unavailable(e.to_string()))?;
            models.extend(page.models);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(Some(models)),
            }
        }
    }

    pub fn memory_budget_bytes(&self) -> Option<u64> {
        self.config.memory_budget_bytes
    }

    /// Stops the serving process (SIGKILL: it holds nothing that needs a graceful end).
    pub async fn stop(&self) {
        if let Some(mut server) = self.server.lock().await.take() {
            let _ = server.child.kill().await;
        }
        self.loaded.lock().await.clear();
    }

    /// InvokeEndpoint with TargetModel.
    pub async fn invoke(
        &self,
        target_model: &str,
        content_type: &str,
        accept: &str,
        body: Vec<u8>,
    ) -> Result<Invocation, EndpointError> {
        let base = self.base_url().await?;
        self.ensure_loaded(&base, target_model).await?;
        let url = format!("{base}/models/{}/invoke", urlencode(target_model));
        let response = self
            .http
            .post(url)
            .header("Content-Type", content_type)
            .header("Accept", accept)
            .header("X-Amzn-SageMaker-Target-Model", target_model)
            .body(body)
            .send()
            .await
            .map_err(|e| EndpointError::Unavailable(e.to_string()))?;
        let status = response.status().as_u16();
        let content_type = content_type_of(&response);
        let body = response
            .bytes()
            .await
            .map_err(|e| EndpointError::Unavailable(e.to_string()))?
            .to_vec();
        Ok(Invocation {
            status,
            content_type,
            body,
        })
    }

    async fn ensure_loaded(&self, base: &str, target: &str) -> Result<(), EndpointError> {
        {
            let mut loaded = self.loaded.lock().await;
            if let Some(used) = loaded.get_mut(target) {
                *used = Instant::now();
                return Ok(());
            }
        }
        let dir = self.unpack(target).await?;
        loop {
            let response = self
                .http
                .post(format!("{base}/models"))
                .json(&serde_json::json!({"model_name": target, "url": dir}))
                .send()
                .await
                .map_err(|e| EndpointError::Unavailable(e.to_string()))?;
            match response.status() {
                s if s.is_success() || s == StatusCode::CONFLICT => break,
                StatusCode::INSUFFICIENT_STORAGE => {
                    if !self.unload_least_recent(base, target).await? {
                        return Err(EndpointError::LoadFailed {
                            model: target.to_string(),
                            reason: "larger than the whole memory budget".into(),
                        });
                    }
                }
                _ => {
                    let reason = response.text().await.unwrap_or_default();
                    return Err(EndpointError::LoadFailed {
                        model: target.to_string(),
                        reason,
                    });
                }
            }
        }
        self.loaded
            .lock()
            .await
            .insert(target.to_string(), Instant::now());
        Ok(())
    }

    /// Unloads the least recently used model other than `keep`; false if there is none.
    async fn unload_least_recent(&self, base: &str, keep: &str) -> Result<bool, EndpointError> {
        let victim = {
            let loaded = self.loaded.lock().await;
            loaded
                .iter()
                .filter(|(name, _)| name.as_str() != keep)
                .min_by_key(|(_, used)| **used)
                .map(|(name, _)| name.clone())
        };
        let Some(victim) = victim else {
            return Ok(false);
        };
        tracing::info!(model = %victim, "unloading the least recently used model");
        self.http
            .delete(format!("{base}/models/{}", urlencode(&victim)))
            .send()
            .await
            .map_err(|e| EndpointError::Unavailable(e.to_string()))?;
        self.loaded.lock().await.remove(&victim);
        Ok(true)
    }

    /// Fetches and unpacks the archive of `target` (once; later loads reuse the folder).
    async fn unpack(&self, target: &str) -> Result<PathBuf, EndpointError> {
        let key = format!("{}{target}", self.config.model_prefix);
        let dir = self.config.cache_dir.join(sanitize(target));
        if dir.join(".complete").exists() {
            return Ok(dir);
        }
        let archive = match self.store.get(&key) {
            Ok(object) => object.body,
            Err(StoreError::NotFound(_) | StoreError::InvalidKey(_)) => {
                return Err(EndpointError::ModelNotFound(target.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        let dir2 = dir.clone();
        tokio::task::spawn_blocking(move || unpack_archive(&archive, &dir2))
            .await
            .map_err(|e| EndpointError::Unavailable(e.to_string()))??;
        Ok(dir)
    }
}

/// Unpacks into a fresh temporary folder and renames it into place, so a half-unpacked
/// archive is never loaded.
pub fn unpack_archive(archive: &[u8], dir: &Path) -> std::io::Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let tmp = tempfile::tempdir_in(parent)?;
    tar::Archive::new(flate2::read::GzDecoder::new(archive)).unpack(tmp.path())?;
    std::fs::write(tmp.path().join(".complete"), b"")?;
    let staged = tmp.keep();
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(staged, dir)
}

/// A response's `Content-Type`, `application/octet-stream` when it has none.
pub fn content_type_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string()
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn urlencode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
