//! Typed configuration from the environment. Each function reads its own variables through an
//! [`Env`], which records every name it was asked for, so that a test can prove a function's
//! `ENV_VARS` list is exactly what its configuration reads.

use std::cell::RefCell;
use std::time::Duration;

use crate::naming;

/// The bucket holding datasets, pipeline outputs, the endpoint prefix and reports.
pub const ENV_BUCKET: &str = "MMP_BUCKET";
/// The SageMaker pipeline's name (also the model package groups' prefix).
pub const ENV_PIPELINE_NAME: &str = "MMP_PIPELINE_NAME";
/// The multi-model endpoint's name.
pub const ENV_ENDPOINT_NAME: &str = "MMP_ENDPOINT_NAME";
/// Key of the routing table (default [`naming::DEFAULT_ROUTING_KEY`]).
pub const ENV_ROUTING_KEY: &str = "MMP_ROUTING_KEY";
/// The multi-model prefix (default [`naming::DEFAULT_MODELS_PREFIX`]).
pub const ENV_MODELS_PREFIX: &str = "MMP_MODELS_PREFIX";
/// Prefix of the reporter's output (default [`naming::DEFAULT_REPORTS_PREFIX`]).
pub const ENV_REPORTS_PREFIX: &str = "MMP_REPORTS_PREFIX";
/// Prefix of the trigger's idempotency claims (default [`naming::DEFAULT_TRIGGER_CLAIMS_PREFIX`]).
pub const ENV_TRIGGER_CLAIMS_PREFIX: &str = "MMP_TRIGGER_CLAIMS_PREFIX";
/// `true` to address S3 path-style (S3 emulators on loopback: moto, the benchmarks); default false.
pub const ENV_S3_FORCE_PATH_STYLE: &str = "MMP_S3_FORCE_PATH_STYLE";
/// Log filter (tracing `EnvFilter` syntax, default `info`).
pub const ENV_LOG: &str = "RUST_LOG";

/// A missing or malformed variable, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    /// The variable is required and not set.
    Missing(&'static str),
    #[error("environment variable {name} is empty")]
    /// The variable is set to an empty value.
    Empty {
        /// The variable.
        name: &'static str,
    },
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    /// The variable's value cannot be used.
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
}

/// Reads variables through a lookup function and remembers which were read.
pub struct Env<F: Fn(&str) -> Option<String>> {
    lookup: F,
    read: RefCell<Vec<&'static str>>,
}

impl Env<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Env::new(|name| std::env::var(name).ok())
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// Reads variables through `lookup`.
    pub fn new(lookup: F) -> Self {
        Env {
            lookup,
            read: RefCell::new(Vec::new()),
        }
    }

    fn raw(&self, name: &'static str) -> Option<String> {
        self.read.borrow_mut().push(name);
        (self.lookup)(name)
    }

    /// A variable that must be set and not empty.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        match self.raw(name) {
            None => Err(ConfigError::Missing(name)),
            Some(value) if value.trim().is_empty() => Err(ConfigError::Empty { name }),
            Some(value) => Ok(value),
        }
    }

    /// A variable with a default when unset or empty.
    pub fn optional(&self, name: &'static str, default: &str) -> String {
        match self.raw(name) {
            Some(value) if !value.trim().is_empty() => value,
            _ => default.to_string(),
        }
    }

    /// A key prefix: must end in `/` and not start with one.
    pub fn prefix(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let value = self.optional(name, default);
        if !value.ends_with('/') || value.starts_with('/') {
            return Err(ConfigError::Invalid {
                name,
                value,
                reason: "a key prefix must end in `/` and must not start with `/`".into(),
            });
        }
        Ok(value)
    }

    /// A positive number of something, with a default.
    pub fn number(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.raw(name) {
            Some(value) if !value.trim().is_empty() => {
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|error| ConfigError::Invalid {
                        name,
                        value: value.clone(),
                        reason: error.to_string(),
                    })
            }
            _ => Ok(default),
        }
    }

    /// Seconds, with a default.
    pub fn seconds(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.number(name, default).map(Duration::from_secs)
    }

    /// A boolean (`true`/`false`, `1`/`0`), with a default.
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self
            .raw(name)
            .map(|value| value.trim().to_ascii_lowercase())
        {
            None => Ok(default),
            Some(value) if value.is_empty() => Ok(default),
            Some(value) if value == "true" || value == "1" => Ok(true),
            Some(value) if value == "false" || value == "0" => Ok(false),
            Some(value) => Err(ConfigError::Invalid {
                name,
                value,
                reason: "expected true or false".into(),
            }),
        }
    }

    /// Every name read so far, deduplicated and sorted.
    pub fn names_read(&self) -> Vec<&'static str> {
        let mut names = self.read.borrow().clone();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// What every function reads: the log filter, S3 addressing and the bucket (plus, for the
/// functions that work on the pipeline's executions and models, its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonConfig {
    /// [`ENV_LOG`], default `info` (applied by the log setup, read here so that `ENV_VARS`
    /// lists it).
    pub log_filter: String,
    /// Path-style S3 addressing (emulators only).
    pub s3_path_style: bool,
    /// The data bucket ([`ENV_BUCKET`]).
    pub bucket: String,
}

impl CommonConfig {
    /// Reads the shared fields; fails naming the first missing or bad variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(CommonConfig {
            log_filter: env.optional(ENV_LOG, "info"),
            s3_path_style: env.flag(ENV_S3_FORCE_PATH_STYLE, false)?,
            bucket: env.required(ENV_BUCKET)?,
        })
    }

    /// [`CommonConfig::from_env`] and the pipeline's name ([`ENV_PIPELINE_NAME`]).
    pub fn with_pipeline<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
    ) -> Result<(Self, String), ConfigError> {
        let common = CommonConfig::from_env(env)?;
        Ok((common, env.required(ENV_PIPELINE_NAME)?))
    }
}

/// Where the endpoint's files live; shared by the deployer and the invoker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointLayout {
    /// Key of the routing table ([`ENV_ROUTING_KEY`]).
    pub routing_key: String,
    /// The multi-model prefix, ending in `/` ([`ENV_MODELS_PREFIX`]).
    pub models_prefix: String,
}

impl Default for EndpointLayout {
    fn default() -> Self {
        EndpointLayout {
            routing_key: naming::DEFAULT_ROUTING_KEY.to_string(),
            models_prefix: naming::DEFAULT_MODELS_PREFIX.to_string(),
        }
    }
}

impl EndpointLayout {
    /// Reads the layout, each key defaulting to the project's layout.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(EndpointLayout {
            routing_key: env.optional(ENV_ROUTING_KEY, naming::DEFAULT_ROUTING_KEY),
            models_prefix: env.prefix(ENV_MODELS_PREFIX, naming::DEFAULT_MODELS_PREFIX)?,
        })
    }

    /// The key of an artifact in the multi-model prefix.
    pub fn artifact_key(&self, artifact: &str) -> String {
        format!("{}{artifact}", self.models_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::new(move |name| map.get(name).cloned())
    }

    #[test]
    fn missing_and_empty_variables_are_named() {
        let env = env(&[(ENV_BUCKET, " ")]);
        assert_eq!(
            env.required(ENV_PIPELINE_NAME),
            Err(ConfigError::Missing(ENV_PIPELINE_NAME))
        );
        assert_eq!(
            env.required(ENV_BUCKET),
            Err(ConfigError::Empty { name: ENV_BUCKET })
        );
        assert!(ConfigError::Missing(ENV_PIPELINE_NAME)
            .to_string()
            .contains("MMP_PIPELINE_NAME"));
        assert_eq!(env.names_read(), vec![ENV_BUCKET, ENV_PIPELINE_NAME]);
    }

    #[test]
    fn the_common_configuration_reads_the_shared_variables() {
        let env = env(&[
            (ENV_BUCKET, "b"),
            (ENV_PIPELINE_NAME, "p"),
            (ENV_S3_FORCE_PATH_STYLE, "1"),
        ]);
        let (common, pipeline) = CommonConfig::with_pipeline(&env).unwrap();
        assert_eq!(
            common,
            CommonConfig {
                log_filter: "info".into(),
                s3_path_style: true,
                bucket: "b".into(),
            }
        );
        assert_eq!(pipeline, "p");
        assert_eq!(
            env.names_read(),
            vec![
                ENV_BUCKET,
                ENV_PIPELINE_NAME,
                ENV_S3_FORCE_PATH_STYLE,
                ENV_LOG
            ]
        );
        let without_bucket = self::env(&[(ENV_PIPELINE_NAME, "p")]);
        assert_eq!(
            CommonConfig::from_env(&without_bucket),
            Err(ConfigError::Missing(ENV_BUCKET))
        );
    }

    #[test]
    fn prefixes_and_numbers_are_checked() {
        let env = env(&[(ENV_MODELS_PREFIX, "models"), ("N", "x")]);
        let error = EndpointLayout::from_env(&env).unwrap_err();
        assert!(error.to_string().contains("MMP_MODELS_PREFIX"), "{error}");
        assert!(matches!(
            env.number("N", 1),
            Err(ConfigError::Invalid { name: "N", .. })
        ));
        assert_eq!(env.number("UNSET", 7), Ok(7));
        let defaults = EndpointLayout::from_env(&self::env(&[])).unwrap();
        assert_eq!(defaults, EndpointLayout::default());
        assert_eq!(
            defaults.artifact_key("a.tar.gz"),
            "endpoint/models/a.tar.gz"
        );
    }
}
