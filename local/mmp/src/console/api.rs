//! The console's JSON API: reads of the executor, registry, routing table and endpoint, and
//! the three things a user does from the page (upload, approve/reject, invoke).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::multipart::MultipartError;
use axum::extract::{Extension, Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mmp_executor::{ExecutionInfo, ExecutionStatus, ExecutorError, JobInfo, StepInfo};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{ApiError, ConsoleState, UploadLimit, ENV_UPLOAD_LIMIT_BYTES};
use crate::actions;
use crate::operator::GroupModels;
use crate::registry::{parse_status, ModelPackage};
use crate::system::{unix_ms, BUCKET_NAME};

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

pub(super) async fn info(State(s): Shared) -> Json<Value> {
    // The data folder's size, each file once (job inputs are links into the bucket).
    let root = s.system.home.root().to_path_buf();
    let data_folder_bytes =
        tokio::task::spawn_blocking(move || mmp_executor::retention::disk_usage(&root))
            .await
            .ok()
            .and_then(Result::ok);
    Json(json!({
        "pipeline_name": s.system.pipeline_name,
        "function_url": s.function_url,
        "bucket": format!("s3://{BUCKET_NAME}/"),
        "data_folder": s.system.home.root().display().to_string(),
        "data_folder_bytes": data_folder_bytes,
    }))
}

#[derive(Serialize)]
pub(super) struct ExecutionRow {
    id: String,
    arn: String,
    dataset: Option<String>,
    status: ExecutionStatus,
    created_ms: i64,
    ended_ms: Option<i64>,
    failure_reason: Option<String>,
}

impl From<ExecutionInfo> for ExecutionRow {
    fn from(e: ExecutionInfo) -> Self {
        Self {
            dataset: e
                .parameters
                .get(mmp_pipeline::parameters::DATASET_NAME)
                .cloned(),
            status: e.status,
            created_ms: unix_ms(e.created),
            ended_ms: e.ended.map(unix_ms),
            id: e.id,
            arn: e.arn,
            failure_reason: e.failure_reason,
        }
    }
}

/// Executions listed at most, unless asked for more.
const EXECUTIONS_SHOWN: usize = 100;

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
    let rejected: Vec<_> = actions::rejected_uploads(&s.ports)
        .await?
        .into_iter()
        .filter(|r| q.dataset.as_ref().is_none_or(|d| *d == r.dataset))
        .collect();
    blocking(move || {
        let all: Vec<ExecutionRow> = s
            .executor
            .list(Some(&s.system.pipeline_name))?
            .into_iter()
            .map(ExecutionRow::from)
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
    })
    .await
}

#[derive(Serialize)]
struct JobRow {
    name: String,
    status: &'static str,
    started_ms: Option<i64>,
    ended_ms: Option<i64>,
    failure_reason: Option<String>,
    /// Tuning trials: the algorithm (training job definition) and the objective.
    definition_name: Option<String>,
    objective: Option<f64>,
    hyperparameters: Option<BTreeMap<String, String>>,
}

impl From<&JobInfo> for JobRow {
    fn from(j: &JobInfo) -> Self {
        Self {
            name: j.name.clone(),
            status: j.status.as_str(),
            started_ms: j.started.map(unix_ms),
            ended_ms: j.ended.map(unix_ms),
            failure_reason: j.failure_reason.clone(),
            definition_name: j.definition_name.clone(),
            objective: j.objective,
            hyperparameters: j.hyperparameters.clone(),
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
}

pub(super) async fn execution(State(s): Shared, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    blocking(move || {
        let execution = s.executor.describe(&id)?;
        // Only here, not in the list: every parameter with the value the execution used.
        let parameters = execution.parameters.clone();
        let ran = s.executor.steps(&id)?;
        let steps: Vec<StepRow> = s
            .steps
            .iter()
            .map(|node| {
                let run = ran.iter().find(|r| r.name == node.name);
                StepRow {
                    name: node.name.clone(),
                    step_type: node.step_type.clone(),
                    depends_on: node.depends_on.clone(),
                    branch_of: node.branch_of.clone(),
                    status: run.map_or("NotStarted", |r| r.status.as_str()),
                    started_ms: run.and_then(|r| r.started).map(unix_ms),
                    ended_ms: run.and_then(|r| r.ended).map(unix_ms),
                    failure_reason: run.and_then(|r| r.failure_reason.clone()),
                    jobs: run.map_or_else(Vec::new, |r| r.jobs.iter().map(JobRow::from).collect()),
                }
            })
            .collect();
        Ok(Json(json!({
            "execution": ExecutionRow::from(execution),
            "parameters": parameters,
            "steps": steps,
        })))
    })
    .await
}

/// StopPipelineExecution: running jobs are stopped and the execution ends as Stopped.
pub(super) async fn stop_execution(
    State(s): Shared,
    Path(id): Path<String>,
) -> ApiResult<Json<ExecutionRow>> {
    blocking(move || Ok(Json(ExecutionRow::from(s.executor.stop(&id)?)))).await
}

/// RetryPipelineExecution: a Failed or Stopped execution resumes under the same ARN, keeping
/// the steps that succeeded; 409 for any other status. Answers the execution.
pub(super) async fn retry_execution(
    State(s): Shared,
    Path(id): Path<String>,
) -> ApiResult<Json<ExecutionRow>> {
    blocking(move || Ok(Json(ExecutionRow::from(s.executor.retry(&id)?)))).await
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
    blocking(move || {
        let steps: Vec<StepInfo> = s.executor.steps(&id)?;
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
    Ok(Json(
        s.ports
            .deployment()
            .models()
            .await
            .map_err(actions::ActionError::from)?,
    ))
}

/// The version's evaluation report (`evaluation.json`), as the evaluate step wrote it.
pub(super) async fn evaluation(
    State(s): Shared,
    Path((group, version)): Path<(String, u32)>,
) -> ApiResult<Response> {
    let body = s
        .ports
        .deployment()
        .evaluation(&group, version)
        .await
        .map_err(actions::ActionError::from)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Deserialize)]
pub(super) struct ApprovalRequest {
    status: String,
}

/// Approve or reject, exactly as `mmp approve` / `mmp reject` do.
pub(super) async fn set_approval(
    State(s): Shared,
    Path((group, version)): Path<(String, i64)>,
    body: Result<Json<ApprovalRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<ModelPackage>> {
    let Json(request) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let status = parse_status(&request.status).map_err(actions::ActionError::from)?;
    let package = actions::set_approval(&s.system, &s.ports, &group, Some(version), status).await?;
    Ok(Json(package))
}

pub(super) async fn endpoint(State(s): Shared) -> ApiResult<Json<Value>> {
    let state = s.clone();
    let routes = blocking(move || Ok(actions::routing_table(&state.system)?)).await?;
    let loaded = s
        .endpoint
        .loaded_models()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(json!({
        "routes": routes.routes,
        "serving": loaded.is_some(),
        "loaded": loaded.unwrap_or_default(),
        "memory_budget_bytes": s.endpoint.memory_budget_bytes(),
        "function_url": s.function_url,
    })))
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
                let mut staged = s
                    .system
                    .store
                    .stage()
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if staged.size().saturating_add(chunk.len() as u64) > limit {
                        // `staged` is dropped: its temporary file goes with it.
                        return Err(too_large());
                    }
                    staged
                        .write(&chunk)
                        .map_err(|e| ApiError::Internal(format!("staging the upload: {e}")))?;
                }
                file = Some((name, staged));
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
    blocking(move || {
        let upload = actions::upload_staged_dataset(
            &s.system,
            &dataset,
            &file_name,
            csv,
            settings.as_deref(),
        )?;
        Ok(Json(json!({
            "uploaded": upload.uploaded,
            "key": upload.key,
            "earlier_execution": upload.earlier_execution.as_deref().map(|arn| {
                arn.rsplit('/').next().unwrap_or(arn).to_string()
            }),
        })))
    })
    .await
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

/// Sends the body to the Function URL as it is and answers with what the Function URL answered.
pub(super) async fn invoke(State(s): Shared, body: Bytes) -> ApiResult<Response> {
    let response = s
        .http
        .post(&s.function_url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| ApiError::Unavailable(format!("the Function URL did not answer: {e}")))?;
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = crate::endpoint::content_type_of(&response);
    let body = response
        .bytes()
        .await
        .map_err(|e| ApiError::Unavailable(format!("reading the Function URL's answer: {e}")))?;
    Ok((status, [(header::CONTENT_TYPE, content_type)], body).into_response())
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
