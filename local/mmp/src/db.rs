//! The SQLite database shared by the registry, the event bus and the executor.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// Opens the database in WAL mode, so a `kill -9` never leaves it half-written and several
/// processes (`mmp up`, `mmp approve`) can use it at once.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

const SCHEMA: &str = "
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
