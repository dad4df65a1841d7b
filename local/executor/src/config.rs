//! How the executor is set up: where it keeps things and how many jobs it runs at once.

use std::path::PathBuf;

/// Where the executor keeps things and how it runs jobs.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// The SQLite file (shared with the rest of mmp; this crate's tables start with `exec_`).
    pub db_path: PathBuf,
    /// The local store: S3 key `a/b` of the local bucket is the file `<bucket_root>/a/b`.
    pub bucket_root: PathBuf,
    /// The bucket name in the `s3://` URIs of the rendered definition.
    pub bucket_name: String,
    /// One folder per job: `<jobs_root>/<execution id>/<job name>/`, laid out as `/opt/ml`.
    pub jobs_root: PathBuf,
    /// The `mmp-container` binary.
    pub container_bin: PathBuf,
    /// Bound on container processes running at once, over all executions; 0 means the number
    /// of cores.
    pub max_parallel_jobs: usize,
    /// Region and account in the ARNs the executor makes.
    pub region: String,
    /// The account id in those ARNs.
    pub account: String,
    /// Extra environment for every job (e.g. `RUST_LOG`); the executor's own environment is
    /// inherited, and `MMP_ML_ROOT` is always the job's folder.
    pub job_env: Vec<(String, String)>,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            db_path: PathBuf::from("mmp.db"),
            bucket_root: PathBuf::from("bucket"),
            bucket_name: "mmp".into(),
            jobs_root: PathBuf::from("jobs"),
            container_bin: PathBuf::from(mmp_pipeline::contract::CONTAINER_BINARY),
            max_parallel_jobs: 0,
            region: "us-east-1".into(),
            account: "000000000000".into(),
            job_env: Vec::new(),
        }
    }
}

impl ExecutorConfig {
    /// The bound on container processes at once: `max_parallel_jobs`, or the number of cores.
    pub fn parallelism(&self) -> usize {
        if self.max_parallel_jobs > 0 {
            self.max_parallel_jobs
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}
