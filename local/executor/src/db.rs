//! Execution, step and job state in SQLite. Tables are prefixed `exec_` (the database file is
//! shared with the rest of mmp). Every change is one statement or one transaction, and the
//! database runs in WAL mode, so a process killed at any point leaves a consistent state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use crate::error::ExecutorError;
use crate::model::{
    from_millis, to_millis, ExecutionInfo, ExecutionStatus, JobInfo, JobStatus, StepInfo,
    StepStatus,
};
use crate::sqlite::{self, Migration, Schema};

/// The executor's tables, versioned apart from the rest of the file (see [`crate::sqlite`]).
/// A change to them is a new migration appended here.
pub(crate) const SCHEMA: Schema = Schema {
    name: "executor",
    migrations: &[
        // 1: the tables as they were when versions began to be kept; a database made before
        // that by the first schema lacks two columns, added here.
        Migration::sql(SCHEMA_V1).then(add_missing_columns),
    ],
};

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS exec_executions (
    id TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    pipeline_name TEXT NOT NULL,
    status TEXT NOT NULL,
    failure_reason TEXT,
    parameters TEXT NOT NULL,
    definition TEXT NOT NULL,
    client_request_token TEXT,
    display_name TEXT,
    description TEXT,
    owner TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    ended_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS exec_executions_token
    ON exec_executions (pipeline_name, client_request_token)
    WHERE client_request_token IS NOT NULL;
CREATE INDEX IF NOT EXISTS exec_executions_status ON exec_executions (status);
CREATE TABLE IF NOT EXISTS exec_steps (
    execution_id TEXT NOT NULL REFERENCES exec_executions (id),
    name TEXT NOT NULL,
    step_type TEXT NOT NULL,
    status TEXT NOT NULL,
    failure_reason TEXT,
    properties TEXT,
    started_ms INTEGER,
    ended_ms INTEGER,
    PRIMARY KEY (execution_id, name)
);
CREATE TABLE IF NOT EXISTS exec_jobs (
    execution_id TEXT NOT NULL REFERENCES exec_executions (id),
    step_name TEXT NOT NULL,
    job_name TEXT NOT NULL,
    status TEXT NOT NULL,
    failure_reason TEXT,
    job_dir TEXT NOT NULL,
    log_path TEXT NOT NULL,
    definition_name TEXT,
    hyperparameters TEXT,
    objective REAL,
    started_ms INTEGER,
    ended_ms INTEGER,
    PRIMARY KEY (execution_id, job_name)
);
";

/// A new execution's row.
pub(crate) struct NewExecution<'a> {
    pub id: &'a str,
    pub arn: &'a str,
    pub pipeline_name: &'a str,
    pub parameters: &'a BTreeMap<String, String>,
    pub definition: &'a str,
    pub client_request_token: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub owner: &'a str,
    pub created: SystemTime,
}

/// A job's row when it starts.
pub(crate) struct NewJob<'a> {
    pub execution_id: &'a str,
    pub step_name: &'a str,
    pub job_name: &'a str,
    pub job_dir: &'a Path,
    pub log_path: &'a Path,
    pub definition_name: Option<&'a str>,
    pub hyperparameters: Option<&'a BTreeMap<String, String>>,
}

pub(crate) struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    pub fn open(path: &Path) -> Result<Self, ExecutorError> {
        let conn = sqlite::open(path, &SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written: keep going.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Inserts the execution, unless the pipeline already has one with this client request
    /// token: then returns that one. The bool says whether a new row was made.
    pub fn insert_execution(
        &self,
        new: &NewExecution,
    ) -> Result<(ExecutionInfo, bool), ExecutorError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(token) = new.client_request_token {
            let existing = tx
                .query_row(
                    &format!(
                        "{SELECT_EXECUTION} WHERE pipeline_name = ?1 AND client_request_token = ?2"
                    ),
                    params![new.pipeline_name, token],
                    execution_from_row,
                )
                .optional()?;
            if let Some(existing) = existing {
                return Ok((existing?, false));
            }
        }
        let parameters = serde_json::to_string(new.parameters).unwrap_or_default();
        tx.execute(
            "INSERT INTO exec_executions (id, arn, pipeline_name, status, parameters, definition,
                 client_request_token, display_name, description, owner, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                new.id,
                new.arn,
                new.pipeline_name,
                ExecutionStatus::Executing.as_str(),
                parameters,
                new.definition,
                new.client_request_token,
                new.display_name,
                new.description,
                new.owner,
                to_millis(new.created),
            ],
        )?;
        let info = tx.query_row(
            &format!("{SELECT_EXECUTION} WHERE id = ?1"),
            params![new.id],
            execution_from_row,
        )??;
        tx.commit()?;
        Ok((info, true))
    }

    /// By id or by ARN.
    pub fn execution(&self, id_or_arn: &str) -> Result<ExecutionInfo, ExecutorError> {
        self.conn()
            .query_row(
                &format!("{SELECT_EXECUTION} WHERE id = ?1 OR arn = ?1"),
                params![id_or_arn],
                execution_from_row,
            )
            .optional()?
            .ok_or_else(|| ExecutorError::NotFound(id_or_arn.to_string()))?
    }

    /// Newest first.
    pub fn executions(&self, pipeline: Option<&str>) -> Result<Vec<ExecutionInfo>, ExecutorError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "{SELECT_EXECUTION} WHERE ?1 IS NULL OR pipeline_name = ?1
             ORDER BY created_ms DESC, rowid DESC"
        ))?;
        let rows = stmt.query_map(params![pipeline], execution_from_row)?;
        rows.map(|r| r.map_err(ExecutorError::from).and_then(|x| x))
            .collect()
    }

    /// Ends an execution that is still Executing, together with any of its steps and jobs left
    /// running (they are marked Failed, or Stopped when the execution is). Returns the
    /// execution before and after, or `None` when it had already ended.
    pub fn end_execution(
        &self,
        id: &str,
        status: ExecutionStatus,
        reason: Option<&str>,
    ) -> Result<Option<(ExecutionInfo, ExecutionInfo)>, ExecutorError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = tx.query_row(
            &format!("{SELECT_EXECUTION} WHERE id = ?1"),
            params![id],
            execution_from_row,
        )??;
        if before.status.is_terminal() {
            return Ok(None);
        }
        let now = to_millis(SystemTime::now());
        tx.execute(
            "UPDATE exec_executions SET status = ?2, failure_reason = ?3, ended_ms = ?4 WHERE id = ?1",
            params![id, status.as_str(), reason, now],
        )?;
        let (step_status, job_status) = if status == ExecutionStatus::Stopped {
            (StepStatus::Stopped, JobStatus::Stopped)
        } else {
            (StepStatus::Failed, JobStatus::Failed)
        };
        let leftover = reason.unwrap_or("the execution ended before this finished");
        tx.execute(
            "UPDATE exec_steps SET status = ?2, failure_reason = COALESCE(failure_reason, ?3), ended_ms = ?4
             WHERE execution_id = ?1 AND status IN ('Starting', 'Executing', 'Stopping')",
            params![id, step_status.as_str(), leftover, now],
        )?;
        tx.execute(
            "UPDATE exec_jobs SET status = ?2, failure_reason = COALESCE(failure_reason, ?3), ended_ms = ?4
             WHERE execution_id = ?1 AND status = 'InProgress'",
            params![id, job_status.as_str(), leftover, now],
        )?;
        let after = tx.query_row(
            &format!("{SELECT_EXECUTION} WHERE id = ?1"),
            params![id],
            execution_from_row,
        )??;
        tx.commit()?;
        Ok(Some((before, after)))
    }

    /// The definition the execution was started with.
    pub fn definition(&self, id: &str) -> Result<String, ExecutorError> {
        self.conn()
            .query_row(
                "SELECT definition FROM exec_executions WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| ExecutorError::NotFound(id.to_string()))
    }

    /// RetryPipelineExecution: a Failed or Stopped execution is Executing again under `owner`
    /// (its failure reason and end cleared). Returns it before and after; refused for any
    /// other status, in the same transaction, so two retries cannot both resume it.
    pub fn restart_execution(
        &self,
        id: &str,
        owner: &str,
    ) -> Result<(ExecutionInfo, ExecutionInfo), ExecutorError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = tx
            .query_row(
                &format!("{SELECT_EXECUTION} WHERE id = ?1"),
                params![id],
                execution_from_row,
            )
            .optional()?
            .ok_or_else(|| ExecutorError::NotFound(id.to_string()))??;
        if !matches!(
            before.status,
            ExecutionStatus::Failed | ExecutionStatus::Stopped
        ) {
            return Err(ExecutorError::NotRetryable {
                id: before.id,
                status: before.status.as_str().to_string(),
            });
        }
        tx.execute(
            "UPDATE exec_executions SET status = ?2, failure_reason = NULL, ended_ms = NULL, owner = ?3
             WHERE id = ?1",
            params![id, ExecutionStatus::Executing.as_str(), owner],
        )?;
        let after = tx.query_row(
            &format!("{SELECT_EXECUTION} WHERE id = ?1"),
            params![id],
            execution_from_row,
        )??;
        tx.commit()?;
        Ok((before, after))
    }

    /// Executions left Executing whose owner is not alive, with their owners.
    pub fn orphaned(
        &self,
        alive: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, String)>, ExecutorError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, owner FROM exec_executions WHERE status IN ('Executing', 'Stopping')",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, owner) = row?;
            if !alive(&owner) {
                out.push((id, owner));
            }
        }
        Ok(out)
    }

    pub fn start_step(
        &self,
        execution_id: &str,
        name: &str,
        step_type: &str,
    ) -> Result<(), ExecutorError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO exec_steps (execution_id, name, step_type, status, started_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                execution_id,
                name,
                step_type,
                StepStatus::Executing.as_str(),
                to_millis(SystemTime::now())
            ],
        )?;
        Ok(())
    }

    pub fn end_step(
        &self,
        execution_id: &str,
        name: &str,
        status: StepStatus,
        reason: Option<&str>,
        properties: Option<&serde_json::Value>,
    ) -> Result<(), ExecutorError> {
        self.conn().execute(
            "UPDATE exec_steps SET status = ?3, failure_reason = ?4, properties = ?5, ended_ms = ?6
             WHERE execution_id = ?1 AND name = ?2",
            params![
                execution_id,
                name,
                status.as_str(),
                reason,
                properties.map(|p| p.to_string()),
                to_millis(SystemTime::now())
            ],
        )?;
        Ok(())
    }

    pub fn start_job(&self, job: &NewJob) -> Result<(), ExecutorError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO exec_jobs (execution_id, step_name, job_name, status, job_dir,
                 log_path, definition_name, hyperparameters, started_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                job.execution_id,
                job.step_name,
                job.job_name,
                JobStatus::InProgress.as_str(),
                job.job_dir.to_string_lossy(),
                job.log_path.to_string_lossy(),
                job.definition_name,
                job.hyperparameters
                    .map(|h| serde_json::to_string(h).unwrap_or_default()),
                to_millis(SystemTime::now())
            ],
        )?;
        Ok(())
    }

    pub fn end_job(
        &self,
        execution_id: &str,
        job_name: &str,
        status: JobStatus,
        reason: Option<&str>,
        objective: Option<f64>,
    ) -> Result<(), ExecutorError> {
        self.conn().execute(
            "UPDATE exec_jobs SET status = ?3, failure_reason = ?4, objective = ?5, ended_ms = ?6
             WHERE execution_id = ?1 AND job_name = ?2",
            params![
                execution_id,
                job_name,
                status.as_str(),
                reason,
                objective,
                to_millis(SystemTime::now())
            ],
        )?;
        Ok(())
    }

    /// The steps that started, in start order, each with its jobs.
    pub fn steps(&self, execution_id: &str) -> Result<Vec<StepInfo>, ExecutorError> {
        let conn = self.conn();
        let mut jobs: BTreeMap<String, Vec<JobInfo>> = BTreeMap::new();
        let mut stmt = conn.prepare(
            "SELECT step_name, job_name, status, failure_reason, job_dir, log_path, definition_name,
                    hyperparameters, objective, started_ms, ended_ms
             FROM exec_jobs WHERE execution_id = ?1 ORDER BY job_name",
        )?;
        let rows = stmt.query_map(params![execution_id], |r| {
            let step: String = r.get(0)?;
            let hyperparameters: Option<String> = r.get(7)?;
            let status: String = r.get(2)?;
            Ok((
                step,
                status.clone(),
                JobInfo {
                    name: r.get(1)?,
                    status: JobStatus::parse(&status).unwrap_or(JobStatus::Failed),
                    failure_reason: r.get(3)?,
                    job_dir: PathBuf::from(r.get::<_, String>(4)?),
                    log_path: PathBuf::from(r.get::<_, String>(5)?),
                    definition_name: r.get(6)?,
                    hyperparameters: hyperparameters.and_then(|h| serde_json::from_str(&h).ok()),
                    objective: r.get(8)?,
                    started: r.get::<_, Option<i64>>(9)?.map(from_millis),
                    ended: r.get::<_, Option<i64>>(10)?.map(from_millis),
                },
            ))
        })?;
        for row in rows {
            let (step, status, job) = row?;
            if JobStatus::parse(&status).is_none() {
                return Err(corrupt(execution_id, format!("job status {status:?}")));
            }
            jobs.entry(step).or_default().push(job);
        }
        let mut stmt = conn.prepare(
            "SELECT name, step_type, status, failure_reason, properties, started_ms, ended_ms
             FROM exec_steps WHERE execution_id = ?1 ORDER BY started_ms, rowid",
        )?;
        let rows = stmt.query_map(params![execution_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<i64>>(6)?,
            ))
        })?;
        let mut steps = Vec::new();
        for row in rows {
            let (name, step_type, status, failure_reason, properties, started, ended) = row?;
            let status = StepStatus::parse(&status)
                .ok_or_else(|| corrupt(execution_id, format!("step {name} status {status:?}")))?;
            let outputs = match properties {
                Some(p) => serde_json::from_str(&p)
                    .map_err(|e| corrupt(execution_id, format!("step {name} properties: {e}")))?,
                None => serde_json::Value::Null,
            };
            steps.push(StepInfo {
                jobs: jobs.remove(&name).unwrap_or_default(),
                name,
                step_type,
                status,
                started: started.map(from_millis),
                ended: ended.map(from_millis),
                failure_reason,
                outputs,
            });
        }
        Ok(steps)
    }
}

/// Columns added after the first schema, before versions were kept: a database of that time
/// may or may not have them, so only this probe can tell.
const ADDED_COLUMNS: [(&str, &str); 2] = [
    ("exec_executions", "display_name TEXT"),
    ("exec_executions", "description TEXT"),
];

fn add_missing_columns(conn: &Transaction<'_>) -> rusqlite::Result<()> {
    for (table, column) in ADDED_COLUMNS {
        let name = column.split_whitespace().next().unwrap_or(column);
        let present: bool = conn.query_row(
            &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
            params![name],
            |r| r.get(0),
        )?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column}"))?;
        }
    }
    Ok(())
}

fn corrupt(id: &str, reason: String) -> ExecutorError {
    ExecutorError::Corrupt {
        id: id.to_string(),
        reason,
    }
}

const SELECT_EXECUTION: &str = "SELECT id, arn, pipeline_name, status, failure_reason, parameters,
    client_request_token, created_ms, ended_ms, display_name, description FROM exec_executions";

/// A row of [`SELECT_EXECUTION`]; the inner result reports values this crate did not write.
fn execution_from_row(r: &Row) -> rusqlite::Result<Result<ExecutionInfo, ExecutorError>> {
    let id: String = r.get(0)?;
    let status: String = r.get(3)?;
    let parameters: String = r.get(5)?;
    let Some(status) = ExecutionStatus::parse(&status) else {
        return Ok(Err(corrupt(&id, format!("status {status:?}"))));
    };
    let parameters = match serde_json::from_str(&parameters) {
        Ok(p) => p,
        Err(e) => return Ok(Err(corrupt(&id, format!("parameters: {e}")))),
    };
    Ok(Ok(ExecutionInfo {
        arn: r.get(1)?,
        pipeline_name: r.get(2)?,
        status,
        failure_reason: r.get(4)?,
        parameters,
        client_request_token: r.get(6)?,
        created: from_millis(r.get(7)?),
        ended: r.get::<_, Option<i64>>(8)?.map(from_millis),
        display_name: r.get(9)?,
        description: r.get(10)?,
        id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_a_database_of_the_first_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE exec_executions (id TEXT PRIMARY KEY, arn TEXT NOT NULL,
                pipeline_name TEXT NOT NULL, status TEXT NOT NULL, failure_reason TEXT,
                parameters TEXT NOT NULL, definition TEXT NOT NULL, client_request_token TEXT,
                owner TEXT NOT NULL, created_ms INTEGER NOT NULL, ended_ms INTEGER);
             INSERT INTO exec_executions VALUES ('abc', 'arn', 'p', 'Succeeded', NULL, '{}', '{}',
                NULL, '1:2:3', 5, 6);",
        )
        .unwrap();
        drop(old);
        let db = Db::open(&path).unwrap();
        let info = db.execution("abc").unwrap();
        assert_eq!(info.status, ExecutionStatus::Succeeded);
        assert_eq!(info.display_name, None);
        Db::open(&path).unwrap();
    }

    /// The tables exactly as the code before versioned migrations made them (with the two
    /// columns it added), and rows in them.
    const UNVERSIONED: &str = "
        CREATE TABLE exec_executions (id TEXT PRIMARY KEY, arn TEXT NOT NULL,
            pipeline_name TEXT NOT NULL, status TEXT NOT NULL, failure_reason TEXT,
            parameters TEXT NOT NULL, definition TEXT NOT NULL, client_request_token TEXT,
            display_name TEXT, description TEXT, owner TEXT NOT NULL,
            created_ms INTEGER NOT NULL, ended_ms INTEGER);
        CREATE UNIQUE INDEX exec_executions_token ON exec_executions
            (pipeline_name, client_request_token) WHERE client_request_token IS NOT NULL;
        CREATE INDEX exec_executions_status ON exec_executions (status);
        CREATE TABLE exec_steps (execution_id TEXT NOT NULL REFERENCES exec_executions (id),
            name TEXT NOT NULL, step_type TEXT NOT NULL, status TEXT NOT NULL,
            failure_reason TEXT, properties TEXT, started_ms INTEGER, ended_ms INTEGER,
            PRIMARY KEY (execution_id, name));
        CREATE TABLE exec_jobs (execution_id TEXT NOT NULL REFERENCES exec_executions (id),
            step_name TEXT NOT NULL, job_name TEXT NOT NULL, status TEXT NOT NULL,
            failure_reason TEXT, job_dir TEXT NOT NULL, log_path TEXT NOT NULL,
            definition_name TEXT, hyperparameters TEXT, objective REAL, started_ms INTEGER,
            ended_ms INTEGER, PRIMARY KEY (execution_id, job_name));
        INSERT INTO exec_executions VALUES ('abc', 'arn', 'p', 'Failed', 'boom', '{\"A\":\"1\"}',
            '{}', 'tok', 'shown', 'described', '1:2:3', 5, 6);
        INSERT INTO exec_steps VALUES ('abc', 'Train', 'Training', 'Failed', 'boom', NULL, 5, 6);
        INSERT INTO exec_jobs VALUES ('abc', 'Train', 'Train-abc', 'Failed', 'boom', 'd', 'l',
            NULL, NULL, NULL, 5, 6);
    ";

    #[test]
    fn a_database_made_before_versioned_migrations_opens_with_its_rows_and_is_versioned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(UNVERSIONED)
            .unwrap();
        let db = Db::open(&path).unwrap();
        let info = db.execution("abc").unwrap();
        assert_eq!(info.status, ExecutionStatus::Failed);
        assert_eq!(info.display_name.as_deref(), Some("shown"));
        assert_eq!(info.description.as_deref(), Some("described"));
        assert_eq!(info.parameters["A"], "1");
        let steps = db.steps("abc").unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].jobs[0].name, "Train-abc");
        assert_eq!(
            sqlite::version(&db.conn(), SCHEMA.name).unwrap(),
            SCHEMA.latest()
        );
        drop(db);
        // Reopening an up-to-date file runs nothing again.
        Db::open(&path).unwrap().execution("abc").unwrap();
    }
}
