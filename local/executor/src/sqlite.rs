//! The workspace's one SQLite opener: the pragmas every connection gets and versioned
//! migrations for each schema kept in a database file.
//!
//! It lives here rather than in a crate of its own because `mmp` depends on `mmp-executor`
//! (never the reverse): both open the same file through it, with no extra crate to build.
//!
//! Versions are kept per schema in a `schema_versions` table, not in `PRAGMA user_version`
//! (which `rusqlite_migration` uses): one file holds two schemas, the executor's `exec_` tables
//! and mmp's registry and outbox, each versioned by its own crate, and `user_version` is one
//! number per file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

/// How long a statement waits for another connection's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Extra work of a migration, after its SQL, in the same transaction.
pub type MigrationHook = fn(&Transaction<'_>) -> rusqlite::Result<()>;

/// One schema in a database file: its name and its migrations, oldest first. Migration `n`
/// (counting from 1) takes the schema from version `n - 1` to `n`. A released migration is
/// never edited: a change is a new migration appended to the list.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Its name in `schema_versions` (`executor`, `mmp`).
    pub name: &'static str,
    /// Its migrations, oldest first.
    pub migrations: &'static [Migration],
}

impl Schema {
    /// The version a database reaches once every migration has run.
    pub fn latest(&self) -> i64 {
        i64::try_from(self.migrations.len()).unwrap_or(i64::MAX)
    }
}

/// One step of a schema: SQL, and optionally a hook run after it in the same transaction.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    sql: &'static str,
    hook: Option<MigrationHook>,
}

impl Migration {
    /// A migration of SQL statements.
    pub const fn sql(sql: &'static str) -> Self {
        Self { sql, hook: None }
    }

    /// Also runs `hook` after the SQL, for what SQL alone cannot say (such as adopting a
    /// database made before versions were kept).
    pub const fn then(self, hook: MigrationHook) -> Self {
        Self {
            sql: self.sql,
            hook: Some(hook),
        }
    }
}

/// Why a database could not be opened or brought to its latest version.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The database's folder could not be created.
    #[error("cannot create {}: {source}", dir.display())]
    CreateDir {
        /// The folder.
        dir: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// SQLite refused to open the file or to set its pragmas.
    #[error("{}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file holds a schema version this build does not know (a newer mmp wrote it).
    #[error(
        "{}: schema {schema} is at version {found}, but this build knows only up to {known} \
         (the file was written by a newer mmp)",
        path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The schema's name.
        schema: &'static str,
        /// The version in the file.
        found: i64,
        /// The latest version this build knows.
        known: i64,
    },
    /// A migration failed; its transaction was rolled back.
    #[error("{}: migrating schema {schema} to version {version}: {source}", path.display())]
    Migration {
        /// The database file.
        path: PathBuf,
        /// The schema's name.
        schema: &'static str,
        /// The version the migration would have reached.
        version: i64,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

/// Opens (or creates) the database at `path` with the pragmas every connection gets, and
/// brings `schema` up to its latest version.
///
/// WAL mode, so a `kill -9` never leaves the file half-written and several processes
/// (`mmp up`, `mmp upload`, `mmp approve`) use it at once; `synchronous = NORMAL`, which WAL
/// keeps consistent; foreign keys enforced; a busy timeout instead of failing at once when
/// another connection writes.
pub fn open(path: &Path, schema: &Schema) -> Result<Connection, OpenError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    let sqlite = |source| OpenError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut conn = Connection::open(path).map_err(sqlite)?;
    configure(&conn).map_err(sqlite)?;
    migrate(&mut conn, path, schema)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

const VERSIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_versions (
    schema  TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)";

fn migrate(conn: &mut Connection, path: &Path, schema: &Schema) -> Result<(), OpenError> {
    let sqlite = |source| OpenError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let known = schema.latest();
    let newer = |found| OpenError::NewerSchema {
        path: path.to_path_buf(),
        schema: schema.name,
        found,
        known,
    };
    // Read first, so opening an up-to-date file does not take the write lock.
    let found = version(conn, schema.name).map_err(sqlite)?;
    if found == known {
        return Ok(());
    }
    if found > known {
        return Err(newer(found));
    }
    // One write transaction: a concurrent opener waits, then finds the work done.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    tx.execute_batch(VERSIONS_TABLE).map_err(sqlite)?;
    let found = version(&tx, schema.name).map_err(sqlite)?;
    if found > known {
        return Err(newer(found));
    }
    for (version, migration) in (1..)
        .zip(schema.migrations)
        .skip_while(|(v, _)| *v <= found)
    {
        let failed = |source| OpenError::Migration {
            path: path.to_path_buf(),
            schema: schema.name,
            version,
            source,
        };
        tx.execute_batch(migration.sql).map_err(failed)?;
        if let Some(hook) = migration.hook {
            hook(&tx).map_err(failed)?;
        }
        tracing::info!(schema = schema.name, version, "database schema migrated");
    }
    tx.execute(
        "INSERT INTO schema_versions (schema, version) VALUES (?1, ?2)
         ON CONFLICT (schema) DO UPDATE SET version = excluded.version",
        params![schema.name, known],
    )
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)
}

/// The schema's version in the file: 0 for a new file, or one made before versions were kept.
pub fn version(conn: &Connection, schema: &str) -> rusqlite::Result<i64> {
    let kept: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions')",
        [],
        |r| r.get(0),
    )?;
    if !kept {
        return Ok(0);
    }
    Ok(conn
        .query_row(
            "SELECT version FROM schema_versions WHERE schema = ?1",
            params![schema],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Schema = Schema {
        name: "test",
        migrations: &[Migration::sql(
            "CREATE TABLE IF NOT EXISTS t (a TEXT NOT NULL)",
        )],
    };

    const SECOND: Schema = Schema {
        name: "test",
        migrations: &[
            Migration::sql("CREATE TABLE IF NOT EXISTS t (a TEXT NOT NULL)"),
            Migration::sql("ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'added'"),
        ],
    };

    const OTHER: Schema = Schema {
        name: "other",
        migrations: &[Migration::sql("CREATE TABLE IF NOT EXISTS u (x INTEGER)")],
    };

    #[test]
    fn migrations_run_once_each_in_order_and_keep_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("db");
        let conn = open(&path, &FIRST).unwrap();
        conn.execute("INSERT INTO t (a) VALUES ('kept')", [])
            .unwrap();
        drop(conn);
        // A second migration runs on the file made by the first; reopening runs nothing
        // again (the ALTER TABLE would fail with a duplicate column).
        for _ in 0..2 {
            let conn = open(&path, &SECOND).unwrap();
            let row: (String, String) = conn
                .query_row("SELECT a, b FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            assert_eq!(row, ("kept".to_string(), "added".to_string()));
            assert_eq!(version(&conn, "test").unwrap(), 2);
        }
    }

    #[test]
    fn schemas_sharing_a_file_are_versioned_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        open(&path, &SECOND).unwrap();
        let conn = open(&path, &OTHER).unwrap();
        assert_eq!(version(&conn, "test").unwrap(), 2);
        assert_eq!(version(&conn, "other").unwrap(), 1);
    }

    #[test]
    fn a_file_from_a_newer_build_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        open(&path, &SECOND).unwrap();
        match open(&path, &FIRST) {
            Err(OpenError::NewerSchema { found, known, .. }) => assert_eq!((found, known), (2, 1)),
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        let conn = Connection::open(&path).unwrap();
        assert_eq!(version(&conn, "test").unwrap(), 2);
    }

    #[test]
    fn every_connection_gets_the_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("db"), &FIRST).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let synchronous: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        let foreign_keys: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        let busy_ms: i64 = conn
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            (mode.as_str(), synchronous, foreign_keys, busy_ms),
            ("wal", 1, 1, 10_000)
        );
    }
}
