//! `datasets/<dataset>/pipeline.json`: optional per-dataset pipeline settings.
//!
//! | field | pipeline parameter | valid values |
//! |---|---|---|
//! | `target_column` | `TargetColumn` | non-empty column name |
//! | `scorer` | `CrossValidationScorer` | one of `mmp_pipeline::parameters::CV_SCORERS` |
//! | `registration_metric` | `MetricForRegistrationThreshold` | one of `REGISTRATION_METRICS` |
//! | `registration_threshold` | `MinThesholdForRegisterMetric` | a finite number |
//! | `approval_status` | `RegisterModelApprovalStatus` | `Approved` or `PendingManualApproval` |
//! | `max_tuning_jobs` | `MaxTuningJobs` | 1 or more |
//! | `max_parallel_tuning_jobs` | `MaxTuningParallelJobs` | 1 or more, at most `max_tuning_jobs` |
//! | `stratify_split` | `StratifySplit` | `true` / `false` (use `false` for regression) |
//! | `test_set_size` | `TestSetSize` | strictly between 0 and 1 |
//! | `random_state` | `RandomState` | a non-negative integer |
//! | `tuning_strategy` | `TuningStrategy` | `Random`, `Bayesian`, `Hyperband` or `Grid` |
//! | `early_stopping` | none | `Off` only: see [`EARLY_STOPPING_REFUSED`] |
//! | `target_objective` | `TuningTargetObjective` | a finite number |
//! | `max_trials_not_improving` | `TuningMaxTrialsNotImproving` | 3 or more |
//! | `complete_on_convergence` | `TuningCompleteOnConvergence` | `true` / `false` |
//!
//! Every field is optional; an absent field leaves the pipeline's default.

use mmp_common::ports::Parameter;
use mmp_pipeline::parameters as p;
use serde::{Deserialize, Serialize};

/// Why `early_stopping` is `Off`: SageMaker offers early stopping (and warm start) only to a
/// tuning job over one algorithm, and the pipeline's tuning step tunes every family at once.
pub const EARLY_STOPPING_REFUSED: &str = "SageMaker stops trials early (Auto) only in a tuning \
job over one algorithm, and this pipeline tunes every family in one job; set tuning_strategy \
to Hyperband, which stops trials that trail the others";

/// The settings file, as written by the user (serializable so that checks can write it back).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSettings {
    /// The column to predict (`TargetColumn`).
    pub target_column: Option<String>,
    /// The cross-validation scorer.
    pub scorer: Option<String>,
    /// The metric the registration gate compares.
    pub registration_metric: Option<String>,
    /// Its minimum for a version to be registered.
    pub registration_threshold: Option<f64>,
    /// The status new versions are registered with.
    pub approval_status: Option<String>,
    /// The tuning job's budget of trials.
    pub max_tuning_jobs: Option<u32>,
    /// Trials run at once.
    pub max_parallel_tuning_jobs: Option<u32>,
    /// Whether the train/test split is stratified.
    pub stratify_split: Option<bool>,
    /// The test set's share of the rows.
    pub test_set_size: Option<f64>,
    /// The seed of every random choice.
    pub random_state: Option<u64>,
    /// How the tuning step chooses trials.
    pub tuning_strategy: Option<String>,
    /// SageMaker's TrainingJobEarlyStoppingType: accepted only as `Off`, its default.
    pub early_stopping: Option<String>,
    /// Tuning ends once a trial's objective reaches this.
    pub target_objective: Option<f64>,
    /// Tuning ends after this many trials in a row without a better objective.
    pub max_trials_not_improving: Option<u32>,
    /// Tuning ends once the search has converged.
    pub complete_on_convergence: Option<bool>,
}

/// A settings file that cannot be used, naming the file and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{key}: not valid settings JSON: {reason}")]
    /// `pipeline.json` is not JSON of the settings' shape.
    Malformed {
        /// The settings' key.
        key: String,
        /// The JSON error.
        reason: String,
    },
    #[error("{key}: field `{field}`: {reason}")]
    /// A setting is out of range.
    Invalid {
        /// The settings' key.
        key: String,
        /// The field at fault.
        field: &'static str,
        /// Why it is refused.
        reason: String,
    },
}

impl DatasetSettings {
    /// Parses and checks the file at `key`.
    pub fn parse(key: &str, bytes: &[u8]) -> Result<DatasetSettings, SettingsError> {
        let settings: DatasetSettings =
            serde_json::from_slice(bytes).map_err(|error| SettingsError::Malformed {
                key: key.to_string(),
                reason: error.to_string(),
            })?;
        settings.check(key)?;
        Ok(settings)
    }

    fn check(&self, key: &str) -> Result<(), SettingsError> {
        let invalid = |field: &'static str, reason: String| {
            Err(SettingsError::Invalid {
                key: key.to_string(),
                field,
                reason,
            })
        };
        if let Some(target) = &self.target_column {
            if target.trim().is_empty() {
                return invalid("target_column", "must not be empty".into());
            }
        }
        if let Some(scorer) = &self.scorer {
            if !p::CV_SCORERS.contains(&scorer.as_str()) {
                return invalid(
                    "scorer",
                    format!("`{scorer}` is not one of {}", p::CV_SCORERS.join(", ")),
                );
            }
        }
        if let Some(metric) = &self.registration_metric {
            if !p::REGISTRATION_METRICS.contains(&metric.as_str()) {
                return invalid(
                    "registration_metric",
                    format!(
                        "`{metric}` is not one of {}",
                        p::REGISTRATION_METRICS.join(", ")
                    ),
                );
            }
        }
        if let Some(threshold) = self.registration_threshold {
            if !threshold.is_finite() {
                return invalid("registration_threshold", "must be a finite number".into());
            }
        }
        if let Some(status) = &self.approval_status {
            if status != "Approved" && status != "PendingManualApproval" {
                return invalid(
                    "approval_status",
                    format!("`{status}` is not Approved or PendingManualApproval"),
                );
            }
        }
        if self.max_tuning_jobs == Some(0) {
            return invalid("max_tuning_jobs", "must be at least 1".into());
        }
        if let Some(parallel) = self.max_parallel_tuning_jobs {
            if parallel == 0 {
                return invalid("max_parallel_tuning_jobs", "must be at least 1".into());
            }
            if let Some(total) = self.max_tuning_jobs {
                if parallel > total {
                    return invalid(
                        "max_parallel_tuning_jobs",
                        format!("{parallel} is more than max_tuning_jobs ({total})"),
                    );
                }
            }
        }
        if let Some(strategy) = &self.tuning_strategy {
            if !p::TUNING_STRATEGIES.contains(&strategy.as_str()) {
                return invalid(
                    "tuning_strategy",
                    format!(
                        "`{strategy}` is not one of {}",
                        p::TUNING_STRATEGIES.join(", ")
                    ),
                );
            }
        }
        if let Some(stopping) = &self.early_stopping {
            if stopping != "Off" {
                return invalid(
                    "early_stopping",
                    format!("`{stopping}` is refused: {EARLY_STOPPING_REFUSED}"),
                );
            }
        }
        if let Some(target) = self.target_objective {
            if !target.is_finite() {
                return invalid("target_objective", "must be a finite number".into());
            }
        }
        if let Some(n) = self.max_trials_not_improving {
            if n < 3 {
                return invalid(
                    "max_trials_not_improving",
                    format!("{n} is less than 3, SageMaker's least"),
                );
            }
        }
        if let Some(size) = self.test_set_size {
            if !(size > 0.0 && size < 1.0) {
                return invalid(
                    "test_set_size",
                    format!("{size} is not strictly between 0 and 1"),
                );
            }
        }
        Ok(())
    }

    /// The pipeline parameters these settings set, in a fixed order.
    pub fn parameters(&self) -> Vec<Parameter> {
        let mut parameters = Vec::new();
        let mut set = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                parameters.push(Parameter::new(name, value));
            }
        };
        set(p::TARGET_COLUMN, self.target_column.clone());
        set(p::CROSS_VALIDATION_SCORER, self.scorer.clone());
        set(
            p::METRIC_FOR_REGISTRATION_THRESHOLD,
            self.registration_metric.clone(),
        );
        set(
            p::MIN_THRESHOLD_FOR_REGISTER_METRIC,
            self.registration_threshold.map(|v| v.to_string()),
        );
        set(
            p::REGISTER_MODEL_APPROVAL_STATUS,
            self.approval_status.clone(),
        );
        set(
            p::MAX_TUNING_JOBS,
            self.max_tuning_jobs.map(|v| v.to_string()),
        );
        set(
            p::MAX_TUNING_PARALLEL_JOBS,
            self.max_parallel_tuning_jobs.map(|v| v.to_string()),
        );
        // The pipeline's StratifySplit is the original's string enum `True`/`False`.
        set(
            p::STRATIFY_SPLIT,
            self.stratify_split
                .map(|v| if v { "True" } else { "False" }.to_string()),
        );
        set(p::TEST_SET_SIZE, self.test_set_size.map(|v| v.to_string()));
        set(p::RANDOM_STATE, self.random_state.map(|v| v.to_string()));
        set(p::TUNING_STRATEGY, self.tuning_strategy.clone());
        set(
            p::TUNING_TARGET_OBJECTIVE,
            self.target_objective.map(|v| v.to_string()),
        );
        set(
            p::TUNING_MAX_TRIALS_NOT_IMPROVING,
            self.max_trials_not_improving.map(|v| v.to_string()),
        );
        set(
            p::TUNING_COMPLETE_ON_CONVERGENCE,
            self.complete_on_convergence
                .map(|v| if v { "Enabled" } else { "Disabled" }.to_string()),
        );
        parameters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "datasets/diabetes/pipeline.json";

    fn error(json: &str) -> String {
        DatasetSettings::parse(KEY, json.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn full_settings_become_parameters() {
        let settings = DatasetSettings::parse(
            KEY,
            br#"{"target_column": "progression", "scorer": "r2", "registration_metric": "r2",
                 "registration_threshold": 0.3, "approval_status": "Approved", "max_tuning_jobs": 12,
                 "max_parallel_tuning_jobs": 3, "stratify_split": false, "test_set_size": 0.25, "random_state": 7,
                 "tuning_strategy": "Bayesian", "early_stopping": "Off", "target_objective": 0.95,
                 "max_trials_not_improving": 10, "complete_on_convergence": true}"#,
        )
        .unwrap();
        let pairs: Vec<(String, String)> = settings
            .parameters()
            .into_iter()
            .map(|p| (p.name, p.value))
            .collect();
        let expected = [
            ("TargetColumn", "progression"),
            ("CrossValidationScorer", "r2"),
            ("MetricForRegistrationThreshold", "r2"),
            ("MinThesholdForRegisterMetric", "0.3"),
            ("RegisterModelApprovalStatus", "Approved"),
            ("MaxTuningJobs", "12"),
            ("MaxTuningParallelJobs", "3"),
            ("StratifySplit", "False"),
            ("TestSetSize", "0.25"),
            ("RandomState", "7"),
            ("TuningStrategy", "Bayesian"),
            ("TuningTargetObjective", "0.95"),
            ("TuningMaxTrialsNotImproving", "10"),
            ("TuningCompleteOnConvergence", "Enabled"),
        ];
        assert_eq!(pairs, expected.map(|(n, v)| (n.to_string(), v.to_string())));
        assert!(DatasetSettings::parse(KEY, b"{}")
            .unwrap()
            .parameters()
            .is_empty());
    }

    #[test]
    fn bad_settings_name_the_file_and_field() {
        let message = error(r#"{"target": "x"}"#);
        assert!(
            message.contains(KEY) && message.contains("unknown field `target`"),
            "{message}"
        );
        let message = error(r#"{"scorer": "r3"}"#);
        assert!(
            message.contains("field `scorer`") && message.contains("`r3`"),
            "{message}"
        );
        assert!(error(r#"{"registration_metric": "mse"}"#).contains("field `registration_metric`"));
        assert!(error(r#"{"approval_status": "Rejected"}"#).contains("field `approval_status`"));
        assert!(error(r#"{"max_tuning_jobs": 0}"#).contains("field `max_tuning_jobs`"));
        assert!(
            error(r#"{"max_tuning_jobs": 2, "max_parallel_tuning_jobs": 3}"#)
                .contains("max_parallel_tuning_jobs")
        );
        assert!(error(r#"{"test_set_size": 1.0}"#).contains("field `test_set_size`"));
        assert!(error(r#"{"target_column": " "}"#).contains("field `target_column`"));
        assert!(error(r#"{"max_tuning_jobs": -1}"#).contains(KEY));
        assert!(error("not json").contains("not valid settings JSON"));
        assert!(error(r#"{"tuning_strategy": "bayesian"}"#).contains("field `tuning_strategy`"));
        assert!(error(r#"{"early_stopping": "On"}"#).contains("field `early_stopping`"));
        let message = error(r#"{"early_stopping": "Auto"}"#);
        assert!(
            message.contains("field `early_stopping`") && message.contains("Hyperband"),
            "{message}"
        );
        assert!(error(r#"{"max_trials_not_improving": 2}"#).contains("max_trials_not_improving"));
    }
}
