//! The SQLite database shared by the registry, the event bus and the executor, opened through
//! the workspace's one opener ([`mmp_executor::sqlite`]: pragmas, versioned migrations), and
//! the one way async code here runs blocking database work.

use std::path::Path;

use mmp_executor::sqlite::{self, Migration, OpenError, Schema};
use rusqlite::Connection;

/// mmp's tables (registry, outbox), versioned apart from the executor's in the same file.
/// A change to them is a new migration appended here.
pub const SCHEMA: Schema = Schema {
    name: "mmp",
    // 1: the tables as they were when versions began to be kept (a database made before that
    // already has them: every statement is IF NOT EXISTS).
    migrations: &[Migration::sql(SCHEMA_V1)],
};

/// Opens the database (WAL mode, so a `kill -9` never leaves it half-written and several
/// processes — `mmp up`, `mmp approve` — can use it at once) and migrates mmp's tables.
pub fn open(path: &Path) -> Result<Connection, OpenError> {
    sqlite::open(path, &SCHEMA)
}

/// A blocking task that did not finish: it panicked, or the runtime is shutting down.
#[derive(Debug, thiserror::Error)]
#[error("a database task did not finish: {0}")]
pub struct Interrupted(#[from] tokio::task::JoinError);

/// Runs blocking work (rusqlite calls, file I/O) on tokio's blocking pool, so it never holds
/// an async worker: every async path of mmp that reaches SQLite goes through here.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Interrupted> {
    Ok(tokio::task::spawn_blocking(work).await?)
}

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS model_package_groups (
    name        TEXT PRIMARY KEY,
    created_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS model_packages (
    group_name      TEXT NOT NULL REFERENCES model_package_groups(name),
    version         INTEGER NOT NULL,
    approval_status TEXT NOT NULL,
    description     TEXT,
    model_data_url  TEXT NOT NULL,
    metrics_url     TEXT,
    metadata        TEXT NOT NULL DEFAULT '{}',
    created_ms      INTEGER NOT NULL,
    modified_ms     INTEGER NOT NULL,
    PRIMARY KEY (group_name, version)
);
CREATE TABLE IF NOT EXISTS events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    target       TEXT NOT NULL,
    event        TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    delivered_ms INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_try_ms  INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    dead         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_pending ON events (delivered_ms, dead, next_try_ms);
";

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Outbox;
    use crate::registry::Registry;

    /// mmp's tables exactly as the code before versioned migrations made them, with rows.
    const UNVERSIONED: &str = "
        CREATE TABLE model_package_groups (name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);
        CREATE TABLE model_packages (
            group_name TEXT NOT NULL REFERENCES model_package_groups(name),
            version INTEGER NOT NULL, approval_status TEXT NOT NULL, description TEXT,
            model_data_url TEXT NOT NULL, metrics_url TEXT, metadata TEXT NOT NULL DEFAULT '{}',
            created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL,
            PRIMARY KEY (group_name, version));
        CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL,
            event TEXT NOT NULL, created_ms INTEGER NOT NULL, delivered_ms INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0, next_try_ms INTEGER NOT NULL DEFAULT 0,
            last_error TEXT, dead INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX events_pending ON events (delivered_ms, dead, next_try_ms);
        INSERT INTO model_package_groups VALUES ('mmp-wine', 1);
        INSERT INTO model_packages VALUES ('mmp-wine', 1, 'Approved', 'first',
            's3://b/m.tar.gz', 's3://b/e.json', '{\"algorithm\":\"RandomForest\"}', 2, 3);
        INSERT INTO events (target, event, created_ms) VALUES ('model-deployer', '{\"n\":1}', 4);
        INSERT INTO events (target, event, created_ms, attempts, last_error, dead)
            VALUES ('metrics-reporter', '{}', 5, 8, 'boom', 1);
    ";

    #[test]
    fn a_database_made_before_versioned_migrations_opens_with_its_rows_and_is_versioned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(UNVERSIONED)
            .unwrap();

        let registry = Registry::new(open(&path).unwrap(), "us-east-1", "000000000000");
        let package = registry.describe("mmp-wine", 1).unwrap();
        assert_eq!(
            (
                package.approval_status.as_str(),
                package.description.as_deref()
            ),
            ("Approved", Some("first"))
        );
        assert_eq!(package.metadata["algorithm"], "RandomForest");
        let outbox = Outbox::new(open(&path).unwrap());
        assert_eq!(outbox.backlog().unwrap(), (1, 1));
        let due = outbox.due(10).unwrap();
        assert_eq!(due[0].event, serde_json::json!({"n": 1}));

        let conn = open(&path).unwrap();
        assert_eq!(
            sqlite::version(&conn, SCHEMA.name).unwrap(),
            SCHEMA.latest()
        );
        // The executor's tables, in the same file, are versioned on their own.
        assert_eq!(sqlite::version(&conn, "executor").unwrap(), 0);
    }
}
