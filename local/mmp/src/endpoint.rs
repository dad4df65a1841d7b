//! The local multi-model endpoint: one `mmp-container serve` child process, behind the
//! front-end behaviour SageMaker gives a multi-model endpoint. On an invocation whose target
//! model is not loaded it fetches the archive from the multi-model prefix, unpacks it,
//! `POST /models`; on 507 (memory budget) it unloads the least recently used model and
//! retries; then it invokes.
//!
//! One load per model at a time: concurrent first invocations of a model wait for the one
//! that unpacks and loads it (a per-model lock), and a 409 from the serving process ("being
//! loaded") is waited out, never taken for loaded. Archives are unpacked by
//! `mmp-model-archive` under a size cap ([`MAX_UNPACKED_BYTES_ENV`]) into a temporary folder
//! that is renamed into place, or removed. An unloaded model's folder is removed, and so is
//! every model whose archive left the model prefix ([`LocalEndpoint::forget_withdrawn`]).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use mmp_model_archive::Limits;
use reqwest::StatusCode;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use mmp_object_store::{LocalStore, StoreError};

/// Why the endpoint could not answer an invocation or a load.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// SageMaker answers a missing target model with a client error.
    #[error("target model {0} is not in the endpoint's model prefix")]
    ModelNotFound(String),
    /// The archive was refused, or the serving process would not load it.
    #[error("model {model} could not be loaded: {reason}")]
    LoadFailed {
        /// The target model (the archive's key below the model prefix).
        model: String,
        /// What went wrong, as the archive check or the serving process said it.
        reason: String,
    },
    /// The serving process could not be started or reached.
    #[error("the serving process is unavailable: {0}")]
    Unavailable(String),
    /// Reading the archive from the local bucket failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The cache folder or the log file could not be written.
    #[error("endpoint I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A setting read from the environment is malformed.
    #[error("environment variable {var}={value:?}: {reason}")]
    Config {
        /// The variable's name.
        var: &'static str,
        /// Its value, as set.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
}

/// Cap on the bytes a model archive may unpack to (default
/// [`mmp_model_archive::DEFAULT_MAX_UNPACKED_BYTES`], 4 GiB).
pub const MAX_UNPACKED_BYTES_ENV: &str = "MMP_MAX_UNPACKED_MODEL_BYTES";

/// The archive limits `mmp up` uses: the defaults, with [`MAX_UNPACKED_BYTES_ENV`] if set.
pub fn archive_limits_from_env() -> Result<Limits, EndpointError> {
    let mut limits = Limits::default();
    if let Ok(value) = std::env::var(MAX_UNPACKED_BYTES_ENV) {
        limits.max_unpacked_bytes = value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| EndpointError::Config {
                var: MAX_UNPACKED_BYTES_ENV,
                value: value.clone(),
                reason: "expected a positive number of bytes".into(),
            })?;
    }
    Ok(limits)
}

/// The marker a fully unpacked folder holds.
const COMPLETE: &str = ".complete";
/// How long a request waits for another load of its model (a 409) to end.
const LOAD_WAIT: Duration = Duration::from_secs(300);

/// What the serving container answered.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The HTTP status.
    pub status: u16,
    /// The response's `Content-Type`.
    pub content_type: String,
    /// The response body, as sent.
    pub body: Vec<u8>,
}

/// A model the serving process holds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadedModel {
    /// The target model's name.
    pub model_name: String,
    /// What it holds in memory, as the serving process measures it.
    pub memory_bytes: u64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelPage {
    models: Vec<LoadedModel>,
    next_page_token: Option<String>,
}

/// How the local endpoint runs its serving process and where it keeps models.
pub struct EndpointConfig {
    /// The `mmp-container` binary, run as `mmp-container serve`.
    pub container_bin: PathBuf,
    /// Where archives are unpacked, one folder per target model.
    pub cache_dir: PathBuf,
    /// Key prefix of the multi-model archives in the store.
    pub model_prefix: String,
    /// The serving process's model memory budget, if any.
    pub memory_budget_bytes: Option<u64>,
    /// Where the serving process's output is appended.
    pub log_file: PathBuf,
    /// What an archive may unpack to.
    pub archive_limits: Limits,
}

struct Server {
    child: Child,
    base_url: String,
}

/// The multi-model endpoint on this machine: one `mmp-container serve` process, started on
/// first use, to which target models are loaded from the store's model prefix on demand.
pub struct LocalEndpoint {
    config: EndpointConfig,
    store: Arc<LocalStore>,
    http: reqwest::Client,
    server: Mutex<Option<Server>>,
    /// Loaded target models and when each was last used.
    loaded: Mutex<HashMap<String, Instant>>,
    /// One lock per target model being loaded or unloaded; held while its folder is unpacked
    /// and `POST /models` answers, so a model is loaded once and the others wait.
    model_locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// A target model's lock, held; on drop the map entry goes too once no one else wants it.
struct ModelLock<'a> {
    endpoint: &'a LocalEndpoint,
    target: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    lock: Option<Arc<Mutex<()>>>,
}

impl Drop for ModelLock<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut locks = self
            .endpoint
            .model_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Ours and the map's only: nobody else holds or awaits it.
        if self.lock.take().is_some_and(|l| Arc::strong_count(&l) == 2) {
            locks.remove(&self.target);
        }
    }
}

/// The serving process closes a connection idle past its header read timeout (30 s by
/// default); dropping idle ones sooner here means a request is never sent on a connection the
/// server is closing.
fn idle_connections_closed_before_the_server_does() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

impl LocalEndpoint {
    /// An endpoint reading archives from `store`; nothing runs until the first request.
    pub fn new(config: EndpointConfig, store: Arc<LocalStore>) -> Self {
        Self {
            config,
            store,
            http: idle_connections_closed_before_the_server_does(),
            server: Mutex::new(None),
            loaded: Mutex::new(HashMap::new()),
            model_locks: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn model_lock_handle(&self, target: &str) -> Arc<Mutex<()>> {
        let mut locks = self.model_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(target.to_string()).or_default().clone()
    }

    /// Waits for `target`'s lock.
    async fn lock_model(&self, target: &str) -> ModelLock<'_> {
        let mut held = ModelLock {
            endpoint: self,
            target: target.to_string(),
            guard: None,
            lock: Some(self.model_lock_handle(target)),
        };
        if let Some(lock) = held.lock.clone() {
            held.guard = Some(lock.lock_owned().await);
        }
        held
    }

    /// `target`'s lock if no one holds it now.
    fn try_lock_model(&self, target: &str) -> Option<ModelLock<'_>> {
        let mut held = ModelLock {
            endpoint: self,
            target: target.to_string(),
            guard: None,
            lock: Some(self.model_lock_handle(target)),
        };
        held.guard = Some(held.lock.clone()?.try_lock_owned().ok()?);
        Some(held)
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
        // The paths go to the log only: these errors reach the Function URL's callers.
        let mut child = cmd.spawn().map_err(|e| {
            tracing::error!(bin = %self.config.container_bin.display(), error = %e, "cannot start the serving process");
            EndpointError::Unavailable(format!("cannot start the serving process: {e}"))
        })?;
        let base_url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait()? {
                tracing::error!(%status, log = %self.config.log_file.display(), "the serving process exited at its start");
                return Err(EndpointError::Unavailable(format!(
                    "the serving process exited with {status}; see endpoint.log"
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

    /// The model memory budget the serving process was given, if any.
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

    /// Marks `target` used if it is loaded.
    async fn touch(&self, target: &str) -> bool {
        let mut loaded = self.loaded.lock().await;
        match loaded.get_mut(target) {
            Some(used) => {
                *used = Instant::now();
                true
            }
            None => false,
        }
    }

    async fn ensure_loaded(&self, base: &str, target: &str) -> Result<(), EndpointError> {
        if self.touch(target).await {
            return Ok(());
        }
        let _held = self.lock_model(target).await;
        // Loaded by the request we waited for.
        if self.touch(target).await {
            return Ok(());
        }
        let dir = self.unpack(target).await?;
        let loaded = self.load(base, target, &dir).await;
        if let Err(EndpointError::LoadFailed { .. }) = &loaded {
            // A folder that does not load is not kept: the next try unpacks afresh.
            remove_folder(&dir);
        }
        loaded
    }

    /// `POST /models` until the serving process holds `target`; with the model's lock held.
    async fn load(&self, base: &str, target: &str, dir: &Path) -> Result<(), EndpointError> {
        let deadline = Instant::now() + LOAD_WAIT;
        let mut pause = Duration::from_millis(20);
        loop {
            let response = self
                .http
                .post(format!("{base}/models"))
                .json(&serde_json::json!({"model_name": target, "url": dir}))
                .send()
                .await
                .map_err(|e| EndpointError::Unavailable(e.to_string()))?;
            match response.status() {
                s if s.is_success() => break,
                // Loaded, or being loaded (by a request that is not ours): only a describe
                // that answers 200 says it is served.
                StatusCode::CONFLICT => {
                    if self.is_served(base, target).await? {
                        break;
                    }
                    if Instant::now() > deadline {
                        return Err(EndpointError::Unavailable(format!(
                            "model {target} was still being loaded after {} s",
                            LOAD_WAIT.as_secs()
                        )));
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
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

    /// Whether `GET /models/{target}` answers 200.
    async fn is_served(&self, base: &str, target: &str) -> Result<bool, EndpointError> {
        let response = self
            .http
            .get(format!("{base}/models/{}", urlencode(target)))
            .send()
            .await
            .map_err(|e| EndpointError::Unavailable(e.to_string()))?;
        Ok(response.status().is_success())
    }

    /// Unloads the least recently used model other than `keep` (and other than models being
    /// loaded or unloaded right now), and removes its folder; false if there is none.
    async fn unload_least_recent(&self, base: &str, keep: &str) -> Result<bool, EndpointError> {
        let mut candidates: Vec<(String, Instant)> = {
            let loaded = self.loaded.lock().await;
            loaded
                .iter()
                .filter(|(name, _)| name.as_str() != keep)
                .map(|(name, used)| (name.clone(), *used))
                .collect()
        };
        candidates.sort_by_key(|(_, used)| *used);
        for (victim, _) in candidates {
            // try_lock: the caller holds `keep`'s lock, so waiting here could deadlock with a
            // request holding the victim's and evicting `keep`.
            let Some(_held) = self.try_lock_model(&victim) else {
                continue;
            };
            if self.loaded.lock().await.remove(&victim).is_none() {
                continue;
            }
            tracing::info!(model = %victim, "unloading the least recently used model");
            self.delete_from_server(base, &victim).await?;
            remove_folder(&self.folder_of(&victim));
            return Ok(true);
        }
        Ok(false)
    }

    async fn delete_from_server(&self, base: &str, target: &str) -> Result<(), EndpointError> {
        let response = self
            .http
            .delete(format!("{base}/models/{}", urlencode(target)))
            .send()
            .await
            .map_err(|e| EndpointError::Unavailable(e.to_string()))?;
        // 404: not loaded there (a restarted server); the outcome is the same.
        if !(response.status().is_success() || response.status() == StatusCode::NOT_FOUND) {
            return Err(EndpointError::Unavailable(format!(
                "DELETE /models/{target} answered {}",
                response.status()
            )));
        }
        Ok(())
    }

    /// Unloads every model whose archive is no longer in the model prefix (a withdrawn or
    /// replaced version, after the deployer deleted it) and removes its folder, and any other
    /// folder in the cache no archive in the prefix accounts for. SageMaker would keep such a
    /// model cached until evicted; locally it goes at once, so what was withdrawn is neither
    /// served nor left on disk.
    pub async fn forget_withdrawn(&self) -> Result<(), EndpointError> {
        let prefix = self.config.model_prefix.clone();
        let store = self.store.clone();
        let live: HashSet<String> = tokio::task::spawn_blocking(move || store.list(&prefix))
            .await
            .map_err(|e| EndpointError::Unavailable(e.to_string()))??
            .iter()
            .filter_map(|key| key.strip_prefix(&self.config.model_prefix))
            .map(str::to_string)
            .collect();
        let gone: Vec<String> = {
            let loaded = self.loaded.lock().await;
            loaded
                .keys()
                .filter(|target| !live.contains(*target))
                .cloned()
                .collect()
        };
        for target in gone {
            self.unload(&target).await?;
        }
        let keep: HashSet<String> = live.iter().map(|t| folder_name(t)).collect();
        let entries = match std::fs::read_dir(&self.config.cache_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // A `.tmp*` folder belongs to an unpack in flight, which removes it itself.
            if name.starts_with(".tmp") || keep.contains(&name) || !entry.file_type()?.is_dir() {
                continue;
            }
            tracing::info!(folder = %name, "removing the folder of a withdrawn model");
            remove_folder(&entry.path());
        }
        Ok(())
    }

    /// Unloads `target` from the serving process (if it holds it) and removes its folder.
    pub async fn unload(&self, target: &str) -> Result<(), EndpointError> {
        let _held = self.lock_model(target).await;
        if self.loaded.lock().await.remove(target).is_some() {
            let base = {
                let mut server = self.server.lock().await;
                match server.as_mut() {
                    Some(s) => s.child.try_wait()?.is_none().then(|| s.base_url.clone()),
                    None => None,
                }
            };
            if let Some(base) = base {
                tracing::info!(model = %target, "unloading a withdrawn model");
                self.delete_from_server(&base, target).await?;
            }
        }
        remove_folder(&self.folder_of(target));
        Ok(())
    }

    fn folder_of(&self, target: &str) -> PathBuf {
        self.config.cache_dir.join(folder_name(target))
    }

    /// Fetches and unpacks the archive of `target` (once; later loads reuse the folder).
    /// Called with the model's lock held.
    async fn unpack(&self, target: &str) -> Result<PathBuf, EndpointError> {
        let key = format!("{}{target}", self.config.model_prefix);
        let dir = self.folder_of(target);
        if dir.join(COMPLETE).is_file() {
            return Ok(dir);
        }
        let archive = match self.store.get(&key) {
            Ok(object) => object.body,
            Err(StoreError::NotFound(_) | StoreError::InvalidKey(_)) => {
                return Err(EndpointError::ModelNotFound(target.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        let (dir2, limits) = (dir.clone(), self.config.archive_limits);
        tokio::task::spawn_blocking(move || unpack_archive(&archive, &dir2, &limits))
            .await
            .map_err(|e| EndpointError::Unavailable(e.to_string()))?
            .map_err(|e| match e {
                UnpackError::Archive(e) => EndpointError::LoadFailed {
                    model: target.to_string(),
                    reason: e.to_string(),
                },
                UnpackError::Io(e) => EndpointError::Io(e),
            })?;
        Ok(dir)
    }
}

/// Why [`unpack_archive`] failed: the archive, or this machine.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The archive is malformed, or holds what may not be unpacked (links, paths out of the
    /// folder, too much).
    #[error(transparent)]
    Archive(#[from] mmp_model_archive::ArchiveError),
    /// The folder could not be written or renamed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Unpacks into a fresh temporary folder beside `dir` and renames it into place, so a
/// half-unpacked archive is never loaded; on any failure the temporary folder is removed.
pub fn unpack_archive(archive: &[u8], dir: &Path, limits: &Limits) -> Result<(), UnpackError> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    // Dropped (and removed) on every early return below.
    let tmp = tempfile::tempdir_in(parent)?;
    mmp_model_archive::unpack(archive, tmp.path(), limits)?;
    std::fs::write(tmp.path().join(COMPLETE), b"")?;
    if dir.exists() {
        // Left by an unpack that did not finish (no marker).
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(tmp.path(), dir)?;
    // Renamed away: nothing left for the guard to remove.
    let _ = tmp.keep();
    Ok(())
}

/// Removes a model folder; a failure is logged (the folder is retried at the next sweep).
fn remove_folder(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(folder = %dir.display(), error = %e, "could not remove a model folder")
        }
    }
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

/// A target model's folder name: the name itself when it is plain, else its sanitized form
/// with a hash of the name, so two names never share a folder and none is `.`, `..` or
/// hidden.
fn folder_name(target: &str) -> String {
    let safe = sanitize(target);
    if safe == target && !target.starts_with('.') && !target.is_empty() {
        return safe;
    }
    let hash = Md5::digest(target.as_bytes());
    format!(
        "{}-{}",
        safe.trim_start_matches('.'),
        hex::encode(&hash[..8])
    )
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
