//! SageMaker's `/opt/ml` tree, re-rooted by the `MMP_ML_ROOT` environment variable.

use std::path::{Path, PathBuf};

use mmp_pipeline::contract::{DEFAULT_ML_ROOT, ML_ROOT_ENV};

/// The ML root every contract path is relative to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlRoot(PathBuf);

impl MlRoot {
    /// `MMP_ML_ROOT`, or `/opt/ml`.
    pub fn from_env() -> MlRoot {
        match std::env::var_os(ML_ROOT_ENV) {
            Some(v) if !v.is_empty() => MlRoot(PathBuf::from(v)),
            _ => MlRoot(PathBuf::from(DEFAULT_ML_ROOT)),
        }
    }

    /// A root at `root` (tests lay out a temporary `/opt/ml`).
    pub fn new(root: impl Into<PathBuf>) -> MlRoot {
        MlRoot(root.into())
    }

    /// `relative` (a `mmp_pipeline::contract` path) under the root.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.0.join(relative)
    }

    /// The root folder itself.
    pub fn root(&self) -> &Path {
        &self.0
    }
}

/// The data file of a channel or input folder: `preferred` when given and present, else
/// the only file there (hidden files and `manifest` files aside).
pub fn data_file(dir: &Path, preferred: Option<&str>) -> Result<PathBuf, String> {
    if let Some(name) = preferred {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    files.sort();
    match (files.len(), preferred) {
        (1, _) => Ok(files.remove(0)),
        (0, _) => Err(format!("{}: no data file", dir.display())),
        (_, Some(name)) => Err(format!(
            "{}: no file named {name}, and {} files to choose from",
            dir.display(),
            files.len()
        )),
        (n, None) => Err(format!(
            "{}: {n} files and no file name to pick one by",
            dir.display()
        )),
    }
}
