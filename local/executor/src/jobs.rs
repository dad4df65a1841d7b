//! Running one container process: its own folder as the ML root, stdout and stderr in a log
//! file there, a run-time limit and a stop flag.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mmp_pipeline::contract;

/// The log file of every job, in its folder.
pub(crate) const LOG_FILE: &str = "job.log";
/// How often a running job checks for a stop request or its run-time limit.
const STOP_CHECK: Duration = Duration::from_millis(50);
/// SageMaker keeps at most this much of a failure reason.
const MAX_REASON: usize = 1024;

/// One process to run.
pub(crate) struct JobSpec<'a> {
    pub dir: &'a Path,
    pub program: &'a Path,
    pub args: &'a [String],
    pub env: &'a [(String, String)],
    pub max_runtime: Option<Duration>,
    pub stop: &'a AtomicBool,
}

/// How a job ended.
#[derive(Debug)]
pub(crate) enum JobEnd {
    Completed,
    /// SageMaker's FailureReason form: `AlgorithmError: ...` or `ClientError: ...`.
    Failed(String),
    Stopped,
}

pub(crate) fn log_path(dir: &Path) -> PathBuf {
    dir.join(LOG_FILE)
}

/// Runs the job to its end on the calling worker (the pool's size bounds jobs at once).
pub(crate) fn run(spec: &JobSpec) -> JobEnd {
    if spec.stop.load(Ordering::SeqCst) {
        return JobEnd::Stopped;
    }
    let log = match fs::File::create(log_path(spec.dir)) {
        Ok(f) => f,
        Err(e) => return JobEnd::Failed(format!("ClientError: cannot create the job log: {e}")),
    };
    let stderr = match log.try_clone() {
        Ok(f) => f,
        Err(e) => return JobEnd::Failed(format!("ClientError: cannot share the job log: {e}")),
    };
    let mut command = Command::new(spec.program);
    command
        .args(spec.args)
        .current_dir(spec.dir)
        .env(contract::ML_ROOT_ENV, spec.dir)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            return JobEnd::Failed(format!(
                "ClientError: cannot start {}: {e}",
                spec.program.display()
            ))
        }
    };
    let started = Instant::now();
    // Poll rather than block so that a stop request or the run-time limit can end the job.
    // The pause is a fiftieth of the job's age, between a millisecond and STOP_CHECK: the end
    // of a job is seen within 2% of its run time, so its slot never idles for long. (A pause
    // that grew by half each time, as before, left a 100 ms trial's slot idle for some 20 ms
    // on average: 13% of a default `mmp demo`'s cores.)
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return JobEnd::Failed(format!("ClientError: cannot wait for the job: {e}")),
        }
        if spec.stop.load(Ordering::SeqCst) {
            let _ = child.kill();
            let _ = child.wait();
            return JobEnd::Stopped;
        }
        if let Some(limit) = spec.max_runtime {
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                return JobEnd::Failed(format!(
                    "MaxRuntimeExceeded: the job ran longer than {} seconds",
                    limit.as_secs()
                ));
            }
        }
        std::thread::sleep(poll_pause(started.elapsed()));
    };
    if status.success() {
        return JobEnd::Completed;
    }
    JobEnd::Failed(failure_reason(spec.dir, &status.to_string()))
}

/// How long to wait before looking at a job of this age again.
fn poll_pause(age: Duration) -> Duration {
    (age / 50).clamp(Duration::from_millis(1), STOP_CHECK)
}

/// The container's own reason (`output/failure`), else the log's last line, with the exit status.
fn failure_reason(dir: &Path, status: &str) -> String {
    // Training jobs write `output/failure`; processing jobs `output/message` (their ExitMessage).
    let written = [contract::FAILURE_FILE, contract::PROCESSING_MESSAGE_FILE]
        .iter()
        .filter_map(|f| fs::read_to_string(dir.join(f)).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty());
    let reason = match written {
        Some(r) => format!("AlgorithmError: {r}"),
        None => {
            let last = fs::read_to_string(log_path(dir)).ok().and_then(|log| {
                log.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_string)
            });
            match last {
                Some(line) => format!("AlgorithmError: {status}; last log line: {}", line.trim()),
                None => format!("AlgorithmError: {status}, with no output"),
            }
        }
    };
    truncate(reason)
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The final value of each metric: the last match of its regex in the job's log, as SageMaker
/// keeps the latest value it scrapes.
pub(crate) fn scrape_metrics(
    log: &str,
    definitions: &[(String, regex::Regex)],
) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for (name, re) in definitions {
        let last = re
            .captures_iter(log)
            .filter_map(|c| c.get(1).or_else(|| c.get(0)))
            .filter_map(|m| m.as_str().trim().parse::<f64>().ok())
            .filter(|x| x.is_finite())
            .last();
        if let Some(v) = last {
            out.push((name.clone(), v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_looked_at_within_2_percent_of_its_age() {
        let ms = Duration::from_millis;
        assert_eq!(poll_pause(ms(0)), ms(1));
        assert_eq!(poll_pause(ms(100)), ms(2));
        assert_eq!(poll_pause(ms(1000)), ms(20));
        assert_eq!(poll_pause(Duration::from_secs(600)), STOP_CHECK);
    }

    #[test]
    fn scrapes_the_last_metric_value() {
        let re = regex::Regex::new(contract::METRIC_REGEX).unwrap();
        let log = format!(
            "x\n{}\n{}\nbye",
            contract::metric_line(0.5),
            contract::metric_line(-1.25e-3)
        );
        let m = scrape_metrics(&log, &[("val_score".into(), re.clone())]);
        assert_eq!(m, [("val_score".to_string(), -0.00125)]);
        assert!(scrape_metrics("nothing", &[("val_score".into(), re)]).is_empty());
    }

    #[test]
    fn runs_a_process_and_reports_its_failure() {
        let dir = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let sh = Path::new("/bin/sh");
        let args = ["-c".to_string(), "echo hello; echo \"$MMP_ML_ROOT\"; mkdir -p output; echo 'bad input' > output/failure; exit 3".to_string()];
        let spec = JobSpec {
            dir: dir.path(),
            program: sh,
            args: &args,
            env: &[],
            max_runtime: None,
            stop: &stop,
        };
        match run(&spec) {
            JobEnd::Failed(r) => assert_eq!(r, "AlgorithmError: bad input"),
            other => panic!("{other:?}"),
        }
        // A processing job's exit message counts too.
        fs::remove_file(dir.path().join(contract::FAILURE_FILE)).unwrap();
        fs::write(
            dir.path().join(contract::PROCESSING_MESSAGE_FILE),
            "no rows\n",
        )
        .unwrap();
        assert_eq!(
            failure_reason(dir.path(), "exit status: 3"),
            "AlgorithmError: no rows"
        );
        let log = fs::read_to_string(log_path(dir.path())).unwrap();
        assert!(log.starts_with("hello\n"), "{log}");
        assert!(log.contains(&dir.path().display().to_string()));

        let args = ["-c".to_string(), "sleep 5".to_string()];
        let spec = JobSpec {
            max_runtime: Some(Duration::from_millis(50)),
            args: &args,
            ..spec
        };
        match run(&spec) {
            JobEnd::Failed(r) => assert!(r.starts_with("MaxRuntimeExceeded"), "{r}"),
            other => panic!("{other:?}"),
        }
        let missing = Path::new("/nonexistent/container");
        let spec = JobSpec {
            program: missing,
            max_runtime: None,
            ..spec
        };
        match run(&spec) {
            JobEnd::Failed(r) => assert!(r.contains("cannot start /nonexistent/container"), "{r}"),
            other => panic!("{other:?}"),
        }
    }
}
