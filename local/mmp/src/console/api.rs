//! The console's JSON API: reads of the deployment's executions, registry and routing table
//! through the operator's code (either target), this machine's job logs and endpoint memory
//! (local target), and the three things a user does from the page (upload, approve/reject,
//! invoke).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::multipart::MultipartError;
use axum::extract::{Extension, Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mmp_common::ports::{ExecutionStatus, ModelVersionSummary, StepJob, StepStatus};
use mmp_executor::{ExecutorError, StepInfo};
use mmp_object_store::Staged;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{ApiError, ConsoleState, UploadLimit, ENV_UPLOAD_LIMIT_BYTES};
use crate::actions;
use crate::operator::{ExecutionView, GroupModels};
use crate::registry::parse_status;

type Shared = State<Arc<ConsoleState>>;
type ApiResult<T> = Result<T, ApiError>;

/// Runs SQLite and file reads off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

impl From<ExecutorError> for ApiError {
    fn from(e: ExecutorError) -> Self {
        match e {
            ExecutorError::NotFound(_) => Self::NotFound(e.to_string()),
            ExecutorError::NotRetryable { .. } => Self::Conflict(e.to_string()),
            _ => Self::Internal(e.to_string()),
        }
    }
}

/// How often the pages refresh themselves: every call on AWS is a billed, throttled API call.
const REFRESH_MS_LOCAL: u64 = 1500;
const REFRESH_MS_AWS: u64 = 10_000;

pub(super) async fn info(State(s): Shared) -> Json<Value> {
    let deployment = s.target.deployment();
    let mut info = json!({
        "target": s.target.kind(),
        "pipeline_name": deployment.pipeline_name,
        "function_url": s.target.function_url(),
        "bucket": format!("s3://{}/", deployment.store.bucket()),
        "refresh_ms": if s.local.is_some() { REFRESH_MS_LOCAL } else { REFRESH_MS_AWS },
        // What only this machine has: the page hides what is absent.
        "local": s.local.is_some(),
    });
    if let Some(local) = &s.local {
        // The data folder's size, each file once (job inputs are links into the bucket).
        let root = local.system.home.root().to_path_buf();
        info["data_folder"] = json!(root.display().to_string());
        info["data_folder_bytes"] = json!(tokio::task::spawn_blocking(move || {
            mmp_executor::retention::disk_usage(&root)
        })
        .await
        .ok()
        .and_then(Result::ok));
    }
    Json(info)
}

#[derive(Serialize)]
pub(super) struct ExecutionRow {
    id: String,
    arn: String,
    dataset: Option<String>,
    status: ExecutionStatus,
    created_ms: Option<i64>,
    ended_ms: Option<i64>,
    failure_reason: Option<String>,
}

impl From<ExecutionView> for ExecutionRow {
    fn from(e: ExecutionView) -> Self {
        Self {
            id: e.id,
            dataset: e.dataset,
            status: e.summary.status,
            created_ms: e.summary.started_at_ms,
            ended_ms: e.summary.ended_at_ms,
            arn: e.summary.arn,
            failure_reason: e.summary.failure_reason,
        }
    }
}

/// Executions listed at most, unless asked for more.
const EXECUTIONS_SHOWN: usize = 100;
/// Executions read at most to count and filter them (SageMaker pages 100 at a time).
const EXECUTIONS_READ: usize = 1000;

#[derive(Deserialize)]
pub(super) struct ExecutionsQuery {
    /// Only this dataset's executions.
    dataset: Option<String>,
    limit: Option<usize>,
}

/// `{"executions": [newest first, at most `limit`], "total", "datasets"}`: `total` counts the
/// dataset's (or all) executions, `datasets` names every dataset that has one.
pub(super) async fn executions(
    State(s): Shared,
    Query(q): Query<ExecutionsQuery>,
) -> ApiResult<Json<Value>> {
    let deployment = s.target.deployment();
    let rejected: Vec<_> = deployment
        .rejected_uploads()
        .await?
        .into_iter()
        .filter(|r| q.dataset.as_ref().is_none_or(|d| *d == r.dataset))
        .collect();
    let all: Vec<ExecutionRow> = deployment
        .executions(EXECUTIONS_READ)
        .await?
        .into_iter()
        .map(|e| ExecutionRow::from(ExecutionView::from(e)))
        .collect();
    let datasets: std::collections::BTreeSet<&str> =
        all.iter().filter_map(|e| e.dataset.as_deref()).collect();
    let wanted: Vec<&ExecutionRow> = all
        .iter()
        .filter(|e| q.dataset.is_none() || e.dataset == q.dataset)
        .collect();
    let shown = &wanted[..wanted.len().min(q.limit.unwrap_or(EXECUTIONS_SHOWN))];
    Ok(Json(json!({
        "executions": shown,
        "total": wanted.len(),
        "datasets": datasets,
        "rejected_uploads": rejected,
    })))
}

#[derive(Serialize)]
struct JobRow {
    name: String,
    status: String,
    started_ms: Option<i64>,
    ended_ms: Option<i64>,
    failure_reason: Option<String>,
    /// Tuning trials: the algorithm (training job definition) and the objective.
    definition_name: Option<String>,
    objective: Option<f64>,
    hyperparameters: BTreeMap<String, String>,
}

impl From<StepJob> for JobRow {
    fn from(j: StepJob) -> Self {
        Self {
            name: j.name,
            status: j.status,
            started_ms: j.started_at_ms,
            ended_ms: j.ended_at_ms,
            failure_reason: j.failure_reason,
            definition_name: j.definition_name,
            objective: j.objective,
            hyperparameters: j.hyperparameters,
        }
    }
}

/// A step of the graph, with how far this execution got with it.
#[derive(Serialize)]
struct StepRow {
    name: String,
    step_type: String,
    depends_on: Vec<String>,
    branch_of: Option<(String, bool)>,
    /// SageMaker's step status, or `NotStarted` (not reached, or a branch not taken).
    status: &'static str,
    started_ms: Option<i64>,
    ended_ms: Option<i64>,
    failure_reason: Option<String>,
    jobs: Vec<JobRow>,
    /// A tuning step that succeeded, on the local target: its best trial's objective.
    objective: Option<ObjectiveRow>,
}

/// `BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric`: `Maximize` or `Minimize`,
/// the metric's name and the best trial's value.
#[derive(Serialize)]
struct ObjectiveRow {
    #[serde(rename = "type")]
    kind: String,
    metric_name: String,
    value: Option<f64>,
}

/// Longest objective type or metric name passed on; past it they are cut.
const OBJECTIVE_TEXT_CHARS: usize = 128;

impl ObjectiveRow {
    /// From a step's outputs, if they name a best trial's objective.
    fn from_outputs(outputs: &Value) -> Option<Self> {
        let metric = &outputs["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"];
        let text = |v: &Value| -> String {
            v.as_str()
                .unwrap_or_default()
                .chars()
                .take(OBJECTIVE_TEXT_CHARS)
                .collect()
        };
        metric.is_object().then(|| Self {
            kind: text(&metric["Type"]),
            metric_name: text(&metric["MetricName"]),
            value: metric["Value"].as_f64(),
        })
    }
}

pub(super) async fn execution(State(s): Shared, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let detail = s.target.deployment().execution(&id).await?;
    let objectives = tuning_objectives(&s, &id, &detail.steps).await;
    let mut ran: BTreeMap<String, _> = detail
        .steps
        .into_iter()
        .map(|view| (view.step.name.clone(), view))
        .collect();
    let steps: Vec<StepRow> = s
        .steps
        .iter()
        .map(|node| {
            let run = ran.remove(&node.name);
            let (status, started_ms, ended_ms, failure_reason, jobs) = match run {
                Some(v) => (
                    v.step.status.as_str(),
                    v.step.started_at_ms,
                    v.step.ended_at_ms,
                    v.step.failure_reason,
                    v.jobs.into_iter().map(JobRow::from).collect(),
                ),
                None => ("NotStarted", None, None, None, Vec::new()),
            };
            StepRow {
                name: node.name.clone(),
                step_type: node.step_type.clone(),
                depends_on: node.depends_on.clone(),
                branch_of: node.branch_of.clone(),
                status,
                started_ms,
                ended_ms,
                failure_reason,
                jobs,
                objective: objectives
                    .get(&node.name)
                    .and_then(ObjectiveRow::from_outputs),
            }
        })
        .collect();
    Ok(Json(json!({
        "execution": ExecutionRow::from(detail.execution),
        "parameters": detail.parameters,
        "steps": steps,
    })))
}

/// The outputs of the tuning steps that succeeded, by step name, read from this machine's
/// executor (the operator's steps do not carry them). Empty on AWS, before a tuning step
/// succeeded, and if the read fails: the page then takes the objective as `Maximize`.
async fn tuning_objectives(
    s: &ConsoleState,
    id: &str,
    ran: &[crate::operator::StepView],
) -> BTreeMap<String, Value> {
    let Some(local) = &s.local else {
        return BTreeMap::new();
    };
    let tuned = |name: &str| {
        s.steps
            .iter()
            .any(|n| n.name == name && n.step_type == "Tuning")
    };
    if !ran
        .iter()
        .any(|v| v.step.status == StepStatus::Succeeded && tuned(&v.step.name))
    {
        return BTreeMap::new();
    }
    let executor = local.executor.clone();
    let id = id.to_string();
    let steps = tokio::task::spawn_blocking(move || executor.steps(&id)).await;
    match steps {
        Ok(Ok(steps)) => steps
            .into_iter()
            .filter(|st| st.step_type == "Tuning")
            .map(|st| (st.name, st.outputs))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// StopPipelineExecution: running jobs are stopped and the execution ends as Stopped.
pub(super) async fn stop_execution(
    State(s): Shared,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let executor = s
        .local("stopping an execution from the console")?
        .executor
        .clone();
    let stopped = blocking(move || Ok(executor.stop(&id)?)).await?;
    Ok(Json(json!({"id": stopped.id, "status": stopped.status})))
}

/// RetryPipelineExecution: a Failed or Stopped execution resumes under the same ARN, keeping
/// the steps that succeeded; 409 for any other status. Answers the execution.
pub(super) async fn retry_execution(
    State(s): Shared,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let executor = s
        .local("retrying an execution from the console")?
        .executor
        .clone();
    let retried = blocking(move || Ok(executor.retry(&id)?)).await?;
    Ok(Json(json!({"id": retried.id, "status": retried.status})))
}

/// Bytes of log sent at most per request.
const LOG_CHUNK: u64 = 256 * 1024;

#[derive(Deserialize)]
pub(super) struct LogQuery {
    /// Where to read from; absent: the last [`LOG_CHUNK`] bytes.
    offset: Option<u64>,
}

/// A job's log from `offset` (or its tail): `{"text", "offset", "next_offset", "size"}`.
pub(super) async fn job_log(
    State(s): Shared,
    Path((id, job)): Path<(String, String)>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Value>> {
    let executor = s.local("a job's log")?.executor.clone();
    blocking(move || {
        let steps: Vec<StepInfo> = executor.steps(&id)?;
        let path = steps
            .iter()
            .flat_map(|st| &st.jobs)
            .find(|j| j.name == job)
            .map(|j| j.log_path.clone())
            .ok_or_else(|| ApiError::NotFound(format!("execution {id} has no job {job}")))?;
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            // The job is queued: no output yet.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Json(
                    json!({"text": "", "offset": 0, "next_offset": 0, "size": 0}),
                ))
            }
            Err(e) => return Err(ApiError::Internal(format!("{}: {e}", path.display()))),
        };
        let size = file
            .metadata()
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .len();
        let start = q.offset.unwrap_or(size.saturating_sub(LOG_CHUNK)).min(size);
        let mut buf = Vec::new();
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.take(LOG_CHUNK).read_to_end(&mut buf))
            .map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))?;
        // A character cut by the chunk's end is sent with the next chunk, whole.
        let whole = complete_utf8_prefix(&buf);
        Ok(Json(json!({
            "text": String::from_utf8_lossy(whole),
            "offset": start,
            "next_offset": start + whole.len() as u64,
            "size": size,
        })))
    })
    .await
}

/// `bytes` without a UTF-8 sequence left incomplete at its end (invalid bytes elsewhere stay,
/// to be shown as replacement characters).
fn complete_utf8_prefix(bytes: &[u8]) -> &[u8] {
    match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => &bytes[..e.valid_up_to()],
        _ => bytes,
    }
}

/// Every group of the pipeline with its versions described and what is served, through the
/// operator (the same code `mmp models` runs, on either target).
pub(super) async fn models(State(s): Shared) -> ApiResult<Json<Vec<GroupModels>>> {
    Ok(Json(s.target.deployment().models().await?))
}

/// The version's evaluation report (`evaluation.json`), as the evaluate step wrote it.
pub(super) async fn evaluation(
    State(s): Shared,
    Path((group, version)): Path<(String, u32)>,
) -> ApiResult<Response> {
    let body = s.target.deployment().evaluation(&group, version).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Deserialize)]
pub(super) struct ApprovalRequest {
    status: String,
}

/// Approve or reject, exactly as `mmp approve` / `mmp reject` do.
pub(super) async fn set_approval(
    State(s): Shared,
    Path((group, version)): Path<(String, u32)>,
    body: Result<Json<ApprovalRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<ModelVersionSummary>> {
    let Json(request) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let status = parse_status(&request.status).map_err(actions::ActionError::from)?;
    let decided = s
        .target
        .deployment()
        .set_approval(&group, Some(version), status)
        .await?;
    Ok(Json(decided))
}

/// What the endpoint serves (the routing table), and on the local target what its serving
/// process holds in memory.
pub(super) async fn endpoint(State(s): Shared) -> ApiResult<Json<Value>> {
    let routes = s.target.deployment().routing_table().await?;
    let mut answer = json!({
        "routes": routes.routes,
        "function_url": s.target.function_url(),
        "target": s.target.kind(),
    });
    if let Some(local) = &s.local {
        let loaded = local
            .endpoint
            .loaded_models()
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        answer["serving"] = json!(loaded.is_some());
        answer["loaded"] = json!(loaded.unwrap_or_default());
        answer["memory_budget_bytes"] = json!(local.endpoint.memory_budget_bytes());
    }
    Ok(Json(answer))
}

/// The dataset name and the settings file are small: read whole up to this.
const SMALL_FIELD_BYTES: usize = 64 * 1024;

/// A form upload: `dataset` (text), `file` (the CSV) and optionally `settings` (pipeline.json).
/// The CSV streams to a temporary file in the bucket's folder, renamed into place once every
/// check passed; over the limit it is 413 and nothing is written.
pub(super) async fn upload(
    State(s): Shared,
    Extension(UploadLimit(limit)): Extension<UploadLimit>,
    mut form: Multipart,
) -> ApiResult<Json<Value>> {
    let too_large = || {
        ApiError::TooLarge(format!(
            "the upload is larger than the console's limit of {limit} bytes ({ENV_UPLOAD_LIMIT_BYTES}); `mmp upload` takes files of any size"
        ))
    };
    let bad = |e: MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::BadRequest(e.body_text())
        }
    };
    let (mut dataset, mut file, mut settings) = (None, None, None);
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "dataset" => {
                let text = small_field(&mut field, "dataset", bad).await?;
                dataset = Some(String::from_utf8_lossy(&text).trim().to_string());
            }
            "file" => {
                let name = field.file_name().unwrap_or_default().to_string();
                let mut sink = match &s.local {
                    Some(local) => CsvSink::Staged(
                        local
                            .system
                            .store
                            .stage()
                            .map_err(|e| ApiError::Internal(e.to_string()))?,
                    ),
                    None => CsvSink::Memory(Vec::new()),
                };
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if sink.size().saturating_add(chunk.len() as u64) > limit {
                        // A staged file is dropped with `sink`: its temporary file goes too.
                        return Err(too_large());
                    }
                    sink.write(&chunk)?;
                }
                file = Some((name, sink));
            }
            "settings" => {
                let body = small_field(&mut field, "settings", bad).await?;
                if !body.is_empty() {
                    settings = Some(body);
                }
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unexpected form field {other:?} (dataset, file, settings)"
                )))
            }
        }
    }
    let dataset = dataset
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::BadRequest("the dataset name is missing".into()))?;
    let (file_name, csv) =
        file.ok_or_else(|| ApiError::BadRequest("no CSV file was chosen".into()))?;
    let uploaded = match csv {
        CsvSink::Staged(csv) => {
            let system = s.local("a staged upload")?.system.clone();
            blocking(move || {
                let upload = actions::upload_staged_dataset(
                    &system,
                    &dataset,
                    &file_name,
                    csv,
                    settings.as_deref(),
                )?;
                Ok(json!({
                    "uploaded": upload.uploaded,
                    "key": upload.key,
                    "earlier_execution": upload.earlier_execution.as_deref().map(|arn| {
                        arn.rsplit('/').next().unwrap_or(arn).to_string()
                    }),
                }))
            })
            .await?
        }
        CsvSink::Memory(csv) => {
            let written = s
                .target
                .deployment()
                .upload(&dataset, &file_name, csv, settings)
                .await?;
            json!({
                "key": written.last(),
                "uploaded": written,
                "earlier_execution": null,
            })
        }
    };
    Ok(Json(uploaded))
}

/// Where an uploaded CSV goes while the form is read: a staged file in the local bucket's
/// folder (renamed into place), or memory for a PutObject to S3 (within the upload limit).
enum CsvSink {
    Staged(Staged),
    Memory(Vec<u8>),
}

impl CsvSink {
    fn size(&self) -> u64 {
        match self {
            Self::Staged(staged) => staged.size(),
            Self::Memory(bytes) => bytes.len() as u64,
        }
    }

    fn write(&mut self, chunk: &[u8]) -> ApiResult<()> {
        match self {
            Self::Staged(staged) => staged
                .write(chunk)
                .map_err(|e| ApiError::Internal(format!("staging the upload: {e}"))),
            Self::Memory(bytes) => {
                bytes.extend_from_slice(chunk);
                Ok(())
            }
        }
    }
}

/// A form field read whole, refused over [`SMALL_FIELD_BYTES`].
async fn small_field(
    field: &mut axum::extract::multipart::Field<'_>,
    name: &str,
    bad: impl Fn(MultipartError) -> ApiError,
) -> ApiResult<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(&bad)? {
        if body.len() + chunk.len() > SMALL_FIELD_BYTES {
            return Err(ApiError::TooLarge(format!(
                "the {name} field is over {SMALL_FIELD_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Sends the body to the Function URL as it is (signed, on AWS) and answers with what the
/// Function URL answered.
pub(super) async fn invoke(State(s): Shared, body: Bytes) -> ApiResult<Response> {
    let answer = s
        .target
        .post_function_url(body.to_vec())
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = answer
        .content_type
        .unwrap_or_else(|| "application/octet-stream".into());
    Ok((status, [(header::CONTENT_TYPE, content_type)], answer.body).into_response())
}

#[cfg(test)]
mod tests {
    use super::complete_utf8_prefix;

    #[test]
    fn a_character_cut_at_the_end_waits_for_the_next_chunk() {
        let text = "score é".as_bytes();
        assert_eq!(complete_utf8_prefix(text), text);
        let cut = &text[..text.len() - 1];
        assert_eq!(complete_utf8_prefix(cut), b"score ");
        // Invalid bytes in the middle are not held back.
        assert_eq!(complete_utf8_prefix(b"a\xffb"), b"a\xffb");
    }
}
