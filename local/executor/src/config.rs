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
    /// Bytes of memory the jobs running at once may need together, by their estimates
    /// (`mmp_pipeline::memory`); 0 means what the machine has available when the executor opens.
    pub memory_budget: u64,
    /// Region and account in the ARNs the executor makes.
    pub region: String,
    /// The account id in those ARNs.
    pub account: String,
    /// Extra environment for every job (e.g. `RUST_LOG`); the executor's own environment is
    /// inherited, and `MMP_ML_ROOT` is always the job's folder.
    pub job_env: Vec<(String, String)>,
    /// Keep every job folder whole after its execution ends (for debugging a job's inputs).
    /// By default the parts that the bucket holds already are dropped (`crate::retention`).
    pub keep_job_inputs: bool,
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
            memory_budget: 0,
            region: "us-east-1".into(),
            account: "000000000000".into(),
            job_env: Vec::new(),
            keep_job_inputs: false,
        }
    }
}

impl ExecutorConfig {
    /// The bound on container processes at once: `max_parallel_jobs`, or the number of cores.
    pub fn parallelism(&self) -> usize {
        if self.max_parallel_jobs > 0 {
            self.max_parallel_jobs
        } else {
            cores()
        }
    }

    /// The memory budget in bytes: `memory_budget`, or what the machine has available.
    pub fn memory_budget(&self) -> u64 {
        if self.memory_budget > 0 {
            self.memory_budget
        } else {
            crate::memory::available()
        }
    }

    /// Threads each container job may compute on: the cores divided between the jobs that run
    /// at once, so `parallelism()` jobs of one rayon pool each do not oversubscribe the machine
    /// (results do not depend on it: every fold and tree has its own seed). `None` when the
    /// caller chose already (`RAYON_NUM_THREADS` in `job_env` or in the executor's environment,
    /// which jobs inherit). On SageMaker each job has its instance, and this is never set.
    pub fn threads_per_job(&self) -> Option<usize> {
        let chosen = self.job_env.iter().any(|(k, _)| k == THREADS_ENV)
            || std::env::var_os(THREADS_ENV).is_some();
        (!chosen).then(|| (cores() / self.parallelism()).max(1))
    }
}

/// The variable that sizes an `mmp-container` process's one rayon pool (docs/container.md).
pub const THREADS_ENV: &str = "RAYON_NUM_THREADS";

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_share_the_cores_unless_told_otherwise() {
        let many = ExecutorConfig {
            max_parallel_jobs: 100_000,
            ..ExecutorConfig::default()
        };
        let one = ExecutorConfig {
            max_parallel_jobs: 1,
            ..ExecutorConfig::default()
        };
        if std::env::var_os(THREADS_ENV).is_none() {
            assert_eq!(many.threads_per_job(), Some(1));
            assert_eq!(one.threads_per_job(), Some(cores()));
        }
        let told = ExecutorConfig {
            job_env: vec![(THREADS_ENV.into(), "3".into())],
            ..ExecutorConfig::default()
        };
        assert_eq!(told.threads_per_job(), None);
    }
}
