//! Server settings, read once from the environment.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use mmp_pipeline::contract::{DEFAULT_ML_ROOT, ML_ROOT_ENV};

use crate::http::Timeouts;
use crate::ServeError;

/// Port SageMaker asks the container to listen on (multi-container endpoints set it).
pub const PORT_ENV: &str = "SAGEMAKER_BIND_TO_PORT";
/// IP address to listen on; unset means every interface, as SageMaker expects. `mmp up` sets
/// it to `127.0.0.1` so that its local serving process is reachable from this machine only.
pub const BIND_ADDRESS_ENV: &str = "MMP_BIND_ADDRESS";
/// Total bytes the loaded models may claim (their `Model::memory_bytes`); unset means no limit.
pub const MEMORY_BUDGET_ENV: &str = "MMP_MODEL_MEMORY_BUDGET_BYTES";
/// Largest request body accepted, in bytes.
pub const MAX_REQUEST_ENV: &str = "MMP_MAX_REQUEST_BYTES";
/// Models per page of `GET /models`.
pub const LIST_PAGE_SIZE_ENV: &str = "MMP_LIST_PAGE_SIZE";
/// Tokio worker threads; unset means one per core.
pub const WORKERS_ENV: &str = "MMP_SERVE_WORKERS";
/// Seconds requests in flight get to finish after SIGTERM before the server exits anyway.
pub const SHUTDOWN_GRACE_ENV: &str = "MMP_SHUTDOWN_GRACE_SECONDS";
/// The process id of a parent the server must not outlive (set by `mmp up`): when the server's
/// parent is no longer that process (it died, even by SIGKILL), the server shuts down.
pub const EXIT_WITH_PARENT_ENV: &str = "MMP_EXIT_WITH_PARENT";
/// Seconds a client has to send a request's headers before its connection is closed.
pub const HEADER_READ_TIMEOUT_ENV: &str = "MMP_HEADER_READ_TIMEOUT_SECONDS";
/// Seconds a client has to send a request's whole body (408 when it passes).
pub const BODY_READ_TIMEOUT_ENV: &str = "MMP_BODY_READ_TIMEOUT_SECONDS";
/// Seconds one prediction may compute before the request is answered 504 (the model keeps
/// its thread until it returns; see `routes::invoke`).
pub const PREDICT_TIMEOUT_ENV: &str = "MMP_PREDICT_TIMEOUT_SECONDS";

/// The port SageMaker sends requests to.
pub const DEFAULT_PORT: u16 = 8080;
/// SageMaker's own InvokeEndpoint payload limit is 6 MB (decimal).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 6_000_000;
/// Models per page of `GET /models` unless [`LIST_PAGE_SIZE_ENV`] says otherwise.
pub const DEFAULT_LIST_PAGE_SIZE: usize = 1000;
/// Docker's `stop` waits 10 s before SIGKILL; finish before it.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// SageMaker gives an invocation 60 s; answer before it gives up.
pub const DEFAULT_PREDICT_TIMEOUT: Duration = Duration::from_secs(55);

/// Everything the server needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// The address to listen on (all interfaces, [`DEFAULT_PORT`], unless set).
    pub bind: SocketAddr,
    /// The ML root; single-model mode serves `<ml_root>/model` when that folder exists.
    pub ml_root: PathBuf,
    /// Bytes the loaded models may hold together; `None`: no limit.
    pub memory_budget_bytes: Option<usize>,
    /// The largest request body accepted (413 beyond).
    pub max_request_bytes: usize,
    /// Models per page of `GET /models`.
    pub list_page_size: usize,
    /// Tokio worker threads; `None`: one per core.
    pub worker_threads: Option<usize>,
    /// How long requests in flight may finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// See [`EXIT_WITH_PARENT_ENV`].
    pub exit_with_parent: Option<u32>,
    /// See [`HEADER_READ_TIMEOUT_ENV`] and [`BODY_READ_TIMEOUT_ENV`].
    pub timeouts: Timeouts,
    /// See [`PREDICT_TIMEOUT_ENV`].
    pub predict_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::UNSPECIFIED, DEFAULT_PORT)),
            ml_root: PathBuf::from(DEFAULT_ML_ROOT),
            memory_budget_bytes: None,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            list_page_size: DEFAULT_LIST_PAGE_SIZE,
            worker_threads: None,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            exit_with_parent: None,
            timeouts: Timeouts::default(),
            predict_timeout: DEFAULT_PREDICT_TIMEOUT,
        }
    }
}

impl ServeConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ServeError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests). Empty values
    /// count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ServeError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(ip) = get(BIND_ADDRESS_ENV) {
            config.bind.set_ip(parse_number(BIND_ADDRESS_ENV, &ip)?);
        }
        if let Some(port) = get(PORT_ENV) {
            config.bind.set_port(parse_number(PORT_ENV, &port)?);
        }
        if let Some(root) = get(ML_ROOT_ENV) {
            config.ml_root = PathBuf::from(root);
        }
        if let Some(budget) = get(MEMORY_BUDGET_ENV) {
            config.memory_budget_bytes = Some(parse_number(MEMORY_BUDGET_ENV, &budget)?);
        }
        if let Some(limit) = get(MAX_REQUEST_ENV) {
            config.max_request_bytes = parse_positive(MAX_REQUEST_ENV, &limit)?;
        }
        if let Some(size) = get(LIST_PAGE_SIZE_ENV) {
            config.list_page_size = parse_positive(LIST_PAGE_SIZE_ENV, &size)?;
        }
        if let Some(workers) = get(WORKERS_ENV) {
            config.worker_threads = Some(parse_positive(WORKERS_ENV, &workers)?);
        }
        if let Some(grace) = get(SHUTDOWN_GRACE_ENV) {
            config.shutdown_grace = parse_seconds(SHUTDOWN_GRACE_ENV, &grace)?;
        }
        if let Some(seconds) = get(HEADER_READ_TIMEOUT_ENV) {
            config.timeouts.header_read = parse_timeout(HEADER_READ_TIMEOUT_ENV, &seconds)?;
        }
        if let Some(seconds) = get(BODY_READ_TIMEOUT_ENV) {
            config.timeouts.body_read = parse_timeout(BODY_READ_TIMEOUT_ENV, &seconds)?;
        }
        if let Some(seconds) = get(PREDICT_TIMEOUT_ENV) {
            config.predict_timeout = parse_timeout(PREDICT_TIMEOUT_ENV, &seconds)?;
        }
        if let Some(parent) = get(EXIT_WITH_PARENT_ENV) {
            let pid = parse_positive(EXIT_WITH_PARENT_ENV, &parent)?;
            config.exit_with_parent = Some(u32::try_from(pid).map_err(|_| ServeError::Config {
                var: EXIT_WITH_PARENT_ENV,
                value: parent.clone(),
                reason: "is not a process id".to_owned(),
            })?);
        }
        Ok(config)
    }
}

fn parse_number<T: std::str::FromStr>(var: &'static str, value: &str) -> Result<T, ServeError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|err: T::Err| ServeError::Config {
            var,
            value: value.to_owned(),
            reason: err.to_string(),
        })
}

fn parse_seconds(var: &'static str, value: &str) -> Result<Duration, ServeError> {
    let seconds: f64 = parse_number(var, value)?;
    Duration::try_from_secs_f64(seconds).map_err(|err| ServeError::Config {
        var,
        value: value.to_owned(),
        reason: format!("must be a number of seconds, 0 or more: {err}"),
    })
}

/// A timeout: more than 0 seconds (0 would refuse every request).
fn parse_timeout(var: &'static str, value: &str) -> Result<Duration, ServeError> {
    match parse_seconds(var, value)? {
        Duration::ZERO => Err(ServeError::Config {
            var,
            value: value.to_owned(),
            reason: "must be more than 0 seconds".to_owned(),
        }),
        timeout => Ok(timeout),
    }
}

fn parse_positive(var: &'static str, value: &str) -> Result<usize, ServeError> {
    match parse_number(var, value)? {
        0 => Err(ServeError::Config {
            var,
            value: value.to_owned(),
            reason: "must be at least 1".to_owned(),
        }),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<ServeConfig, ServeError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ServeConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_sagemaker_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind, SocketAddr::from(([0, 0, 0, 0], 8080)));
        assert_eq!(c.ml_root, PathBuf::from("/opt/ml"));
        assert_eq!(c.memory_budget_bytes, None);
        assert_eq!(c.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES);
    }

    #[test]
    fn reads_every_variable() {
        let c = config(&[
            (PORT_ENV, "9001"),
            (BIND_ADDRESS_ENV, "127.0.0.1"),
            (ML_ROOT_ENV, "/tmp/ml"),
            (MEMORY_BUDGET_ENV, "1048576"),
            (MAX_REQUEST_ENV, "100"),
            (LIST_PAGE_SIZE_ENV, "7"),
            (WORKERS_ENV, "3"),
            (SHUTDOWN_GRACE_ENV, "2.5"),
            (HEADER_READ_TIMEOUT_ENV, "4"),
            (BODY_READ_TIMEOUT_ENV, "5.5"),
            (PREDICT_TIMEOUT_ENV, "0.25"),
            ("UNRELATED", "x"),
        ])
        .unwrap();
        assert_eq!(c.bind, SocketAddr::from(([127, 0, 0, 1], 9001)));
        assert_eq!(c.ml_root, PathBuf::from("/tmp/ml"));
        assert_eq!(c.memory_budget_bytes, Some(1_048_576));
        assert_eq!(c.max_request_bytes, 100);
        assert_eq!(c.list_page_size, 7);
        assert_eq!(c.worker_threads, Some(3));
        assert_eq!(c.shutdown_grace, Duration::from_millis(2500));
        assert_eq!(c.timeouts.header_read, Duration::from_secs(4));
        assert_eq!(c.timeouts.body_read, Duration::from_millis(5500));
        assert_eq!(c.predict_timeout, Duration::from_millis(250));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[(BIND_ADDRESS_ENV, "localhost")]).unwrap_err();
        assert!(err.to_string().contains(BIND_ADDRESS_ENV), "{err}");
        let err = config(&[(PORT_ENV, "eighty")]).unwrap_err();
        assert!(err.to_string().contains(PORT_ENV), "{err}");
        let err = config(&[(MAX_REQUEST_ENV, "0")]).unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
        let err = config(&[(MEMORY_BUDGET_ENV, "-5")]).unwrap_err();
        assert!(err.to_string().contains(MEMORY_BUDGET_ENV), "{err}");
        let err = config(&[(SHUTDOWN_GRACE_ENV, "-1")]).unwrap_err();
        assert!(err.to_string().contains("0 or more"), "{err}");
        let err = config(&[(PREDICT_TIMEOUT_ENV, "0")]).unwrap_err();
        assert!(err.to_string().contains(PREDICT_TIMEOUT_ENV), "{err}");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = config(&[(PORT_ENV, " "), (MEMORY_BUDGET_ENV, "")]).unwrap();
        assert_eq!(c.bind.port(), 8080);
        assert_eq!(c.memory_budget_bytes, None);
    }
}
