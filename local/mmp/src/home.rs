//! The data folder: every piece of local state lives under one root (`--data-dir`, `MMP_HOME`,
//! default `./.mmp`), so deleting it resets the system.

use std::path::{Path, PathBuf};

/// Paths inside the data folder.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// Creates the folder tree if needed. The root is made absolute, because jobs run in
    /// folders of their own.
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        let home = Self {
            root: root.canonicalize()?,
        };
        for dir in [home.bucket(), home.jobs(), home.endpoint_cache()] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(home)
    }

    /// The data folder itself.
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

    /// CloudWatch Embedded Metric Format documents the metrics reporter emits.
    pub fn metrics_file(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    /// Where a running `mmp up` records its URLs, for the other commands.
    pub fn runtime_file(&self) -> PathBuf {
        self.root.join("runtime.json")
    }
}
