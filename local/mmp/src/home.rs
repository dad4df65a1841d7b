//! The data folder: every piece of local state lives under one root (`--data-dir`, `MMP_HOME`,
//! default `./.mmp`), so deleting it resets the system.

use std::path::{Path, PathBuf};

/// Paths inside the data folder.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let home = Self { root: root.into() };
        for dir in [home.bucket(), home.jobs(), home.endpoint_cache()] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(home)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// SQLite database: registry, events, executions.
    pub fn database(&self) -> PathBuf {
        self.root.join("state.db")
    }

    /// The local bucket: S3 key `a/b` is the file `bucket/a/b`.
    pub fn bucket(&self) -> PathBuf {
        self.root.join("bucket")
    }

    /// One folder per job, laid out as `/opt/ml`.
    pub fn jobs(&self) -> PathBuf {
        self.root.join("jobs")
    }

    /// Model archives unpacked for the endpoint's serving process.
    pub fn endpoint_cache(&self) -> PathBuf {
        self.root.join("endpoint")
    }

    /// Where a running `mmp up` records its URLs, for the other commands.
    pub fn runtime_file(&self) -> PathBuf {
        self.root.join("runtime.json")
    }
}
