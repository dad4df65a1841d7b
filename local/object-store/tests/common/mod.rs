//! A store over a temporary folder, locked by a temporary SQLite file.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::Path;

use mmp_object_store::LocalStore;

pub const BUCKET: &str = "bkt";

/// A store of the bucket in `dir/bucket`; several opened over one `dir` act as several
/// processes sharing the folder.
pub fn open(dir: &Path) -> LocalStore {
    let lock = rusqlite::Connection::open(dir.join("state.db")).unwrap();
    lock.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    LocalStore::new(BUCKET, dir.join("bucket"), lock)
}

pub fn store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    (dir, store)
}
