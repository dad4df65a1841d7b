//! What the API returns: executions, steps and jobs, with SageMaker's status names.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

pub use mmp_pipeline::status::{ExecutionStatus, StepStatus};

/// A job's status, as `DescribeTrainingJob`/`DescribeProcessingJob` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum JobStatus {
    /// Running (or waiting for a worker).
    InProgress,
    /// Exited 0; its outputs were uploaded.
    Completed,
    /// Exited non-zero, ran past its limit, or could not start; the reason is kept.
    Failed,
    /// Killed by a stop request.
    Stopped,
}

impl JobStatus {
    /// SageMaker's name of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Stopped => "Stopped",
        }
    }

    /// The status SageMaker names `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::InProgress,
            Self::Completed,
            Self::Failed,
            Self::Stopped,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One pipeline execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionInfo {
    /// `arn:aws:sagemaker:<region>:<account>:pipeline/<name>/execution/<id>`
    pub arn: String,
    /// 12 lowercase letters and digits, as SageMaker makes them.
    pub id: String,
    /// The pipeline it runs, as started.
    pub pipeline_name: String,
    /// Where it is: Executing until it ends.
    pub status: ExecutionStatus,
    /// Why it failed (`Step <name> failed: …`, a Fail step's message, or an interruption).
    pub failure_reason: Option<String>,
    /// Every parameter of the definition with the value the execution uses (defaults filled in).
    pub parameters: BTreeMap<String, String>,
    /// The idempotency token it was started with.
    pub client_request_token: Option<String>,
    /// `PipelineExecutionDisplayName`, when given.
    pub display_name: Option<String>,
    /// `PipelineExecutionDescription`, when given.
    pub description: Option<String>,
    /// When it started (`CreationTime`).
    #[serde(serialize_with = "as_rfc3339")]
    pub created: SystemTime,
    /// When it ended, if it has.
    #[serde(serialize_with = "as_optional_rfc3339")]
    pub ended: Option<SystemTime>,
}

impl ExecutionInfo {
    /// When the execution last changed status (`LastModifiedTime`).
    pub fn last_modified(&self) -> SystemTime {
        self.ended.unwrap_or(self.created)
    }
}

/// One step of an execution that has started (steps of a condition branch not taken, and
/// steps never reached because another failed, are not listed, as in SageMaker).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepInfo {
    /// The step's name in the definition.
    pub name: String,
    /// The definition's `Type`: Processing, Training, Tuning, Condition, Fail, RegisterModel.
    pub step_type: String,
    /// Where it is: Executing until it ends.
    pub status: StepStatus,
    /// When it started.
    #[serde(serialize_with = "as_optional_rfc3339")]
    pub started: Option<SystemTime>,
    /// When it ended, if it has.
    #[serde(serialize_with = "as_optional_rfc3339")]
    pub ended: Option<SystemTime>,
    /// Why it failed, as its `FailureReason`.
    pub failure_reason: Option<String>,
    /// The step's properties, shaped as SageMaker's `Steps.<name>.…` references read them:
    /// `ProcessingOutputConfig.Outputs.<name>.S3Output.S3Uri`, `ModelArtifacts.S3ModelArtifacts`,
    /// `BestTrainingJob.{TrainingJobName,TrainingJobDefinitionName,
    /// FinalHyperParameterTuningJobObjectiveMetric}`, `PropertyFiles.<name>`, `Outcome`,
    /// `ModelPackageArn`. `Null` until the step succeeds.
    pub outputs: serde_json::Value,
    /// The jobs the step ran (one, or every tuning trial), by name (trials in trial order).
    pub jobs: Vec<JobInfo>,
}

/// A step of the definition, as the step graph draws it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepNode {
    /// The step's name in the definition.
    pub name: String,
    /// The definition's `Type`.
    pub step_type: String,
    /// Steps it waits for: `DependsOn`, the steps its arguments refer to, its condition step.
    pub depends_on: Vec<String>,
    /// For a condition's branch steps: the condition step and the outcome that runs it.
    pub branch_of: Option<(String, bool)>,
}

/// One container run: a processing job, a training job or a tuning trial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobInfo {
    /// The job's name: `<step>-<execution id>[-<trial>]`.
    pub name: String,
    /// Where it is.
    pub status: JobStatus,
    /// The job's folder, laid out as `/opt/ml`.
    pub job_dir: PathBuf,
    /// The container's stdout and stderr, interleaved.
    pub log_path: PathBuf,
    /// Why it failed (`AlgorithmError: …`, `ClientError: …`, `MaxRuntimeExceeded: …`).
    pub failure_reason: Option<String>,
    /// Tuning trials: the training job definition the trial ran.
    pub definition_name: Option<String>,
    /// Training jobs: the hyperparameters the job was given.
    pub hyperparameters: Option<BTreeMap<String, String>>,
    /// Tuning trials: the objective metric's final value.
    pub objective: Option<f64>,
    /// When it started.
    #[serde(serialize_with = "as_optional_rfc3339")]
    pub started: Option<SystemTime>,
    /// When it ended, if it has.
    #[serde(serialize_with = "as_optional_rfc3339")]
    pub ended: Option<SystemTime>,
}

pub(crate) fn to_millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// RFC 3339 in UTC with milliseconds, the form `Execution.StartDateTime` resolves to.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let ms = to_millis(t);
    let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Times serialize as RFC 3339 strings (what the CLI's `--json` prints), not serde's
/// `{secs_since_epoch, nanos_since_epoch}` for `SystemTime`.
fn as_rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

fn as_optional_rfc3339<S: serde::Serializer>(
    t: &Option<SystemTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => as_rfc3339(t, s),
        None => s.serialize_none(),
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_as_rfc3339() {
        assert_eq!(rfc3339(from_millis(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(from_millis(1_709_251_199_123)),
            "2024-02-29T23:59:59.123Z"
        );
    }

    #[test]
    fn times_serialize_as_rfc3339_strings() {
        let job = JobInfo {
            name: "j".into(),
            status: JobStatus::Completed,
            job_dir: PathBuf::from("j"),
            log_path: PathBuf::from("j/log"),
            failure_reason: None,
            definition_name: None,
            hyperparameters: None,
            objective: None,
            started: Some(from_millis(1_709_251_199_123)),
            ended: None,
        };
        let step = StepInfo {
            name: "s".into(),
            step_type: "Training".into(),
            status: StepStatus::Succeeded,
            started: Some(from_millis(0)),
            ended: Some(from_millis(1_000)),
            failure_reason: None,
            outputs: serde_json::Value::Null,
            jobs: vec![job],
        };
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!(json["started"], "1970-01-01T00:00:00.000Z");
        assert_eq!(json["ended"], "1970-01-01T00:00:01.000Z");
        assert_eq!(json["jobs"][0]["started"], "2024-02-29T23:59:59.123Z");
        assert_eq!(json["jobs"][0]["ended"], serde_json::Value::Null);
        let execution = ExecutionInfo {
            arn: "a".into(),
            id: "i".into(),
            pipeline_name: "p".into(),
            status: ExecutionStatus::Executing,
            failure_reason: None,
            parameters: BTreeMap::new(),
            client_request_token: None,
            display_name: None,
            description: None,
            created: from_millis(1_000),
            ended: None,
        };
        let json = serde_json::to_value(&execution).unwrap();
        assert_eq!(json["created"], "1970-01-01T00:00:01.000Z");
        assert_eq!(json["ended"], serde_json::Value::Null);
    }

    #[test]
    fn status_names_round_trip() {
        for s in [
            ExecutionStatus::Executing,
            ExecutionStatus::Failed,
            ExecutionStatus::Succeeded,
        ] {
            assert_eq!(ExecutionStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(StepStatus::parse("Nope"), None);
    }
}
