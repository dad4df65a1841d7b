//! Running one container process: its own folder as the ML root, stdout and stderr in a log
//! file there, a run-time limit and a stop flag; optionally a watch over one metric's values
//! in the log while it runs, so that a tuner can stop a trial early (Hyperband).

use std::fs;
use std::io::{Read, Seek, SeekFrom};
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
/// How often a watched job's log is read for new metric values (at most).
const WATCH_EVERY: Duration = Duration::from_millis(100);
/// The most a watched log is read per look; the rest waits for the next.
const MAX_READ: u64 = 1 << 20;

/// One process to run.
pub(crate) struct JobSpec<'a> {
    pub dir: &'a Path,
    pub program: &'a Path,
    pub args: &'a [String],
    pub env: &'a [(String, String)],
    pub max_runtime: Option<Duration>,
    pub stop: &'a AtomicBool,
    /// Stops the job on its metric values while it runs.
    pub watch: Option<Watch<'a>>,
}

/// Given every value of a watched metric so far, in log order: `true` stops the job now.
pub(crate) type StopNow<'a> = &'a (dyn Fn(&[f64]) -> bool + Sync);

/// A metric watched in a running job's log.
#[derive(Clone, Copy)]
pub(crate) struct Watch<'a> {
    /// The metric definition's regex: each match is one value (group 1, else the match).
    pub regex: &'a regex::Regex,
    /// Asked once per new value, with every value so far in log order (the last is the new
    /// one): `true` stops the job now.
    pub stop_now: StopNow<'a>,
}

/// How a job ended.
#[derive(Debug)]
pub(crate) enum JobEnd {
    Completed,
    /// SageMaker's FailureReason form: `AlgorithmError: ...` or `ClientError: ...`.
    Failed(String),
    /// Killed by a stop of the execution.
    Stopped,
    /// Killed because its [`Watch`] said so: the job's own end (SageMaker's `Stopped` for a
    /// trial Hyperband stops), not the execution's.
    EarlyStopped,
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
    let exit = ExitWait::new(&child);
    let mut watched = spec
        .watch
        .map(|w| (w, LogTail::new(log_path(spec.dir)), Vec::new()));
    let mut last_look = started;
    // Wait in pieces rather than at once so that a stop request or the run-time limit can
    // end the job. On Linux a piece ends the moment the job exits (`ExitWait`). Elsewhere the
    // pause is a fiftieth of the job's age, between a millisecond and STOP_CHECK: the end of
    // a job is seen within 2% of its run time, so its slot never idles for long. (A pause
    // that grew by half each time, as before, left a 100 ms trial's slot idle for some 20 ms
    // on average: 13% of a default `mmp demo`'s cores.)
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                // The values printed since the last look still go to the watch, so that a
                // rule comparing trials (Hyperband's rungs) hears a trial that ended between
                // looks; it has ended, so what the watch says no longer matters.
                if let Some((watch, tail, values)) = &mut watched {
                    watch_says_stop(watch, tail, values);
                }
                break status;
            }
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
        if let Some((watch, tail, values)) = &mut watched {
            if last_look.elapsed() >= WATCH_EVERY {
                last_look = Instant::now();
                if watch_says_stop(watch, tail, values) {
                    let _ = child.kill();
                    let _ = child.wait();
                    return JobEnd::EarlyStopped;
                }
            }
        }
        exit.wait(started.elapsed());
    };
    if status.success() {
        return JobEnd::Completed;
    }
    JobEnd::Failed(failure_reason(spec.dir, &status.to_string()))
}

/// Reads the log's new values into `values`, asking the watch about each in turn.
fn watch_says_stop(watch: &Watch, tail: &mut LogTail, values: &mut Vec<f64>) -> bool {
    let before = values.len();
    if let Err(e) = tail.read_values(watch.regex, values) {
        // The job goes on unwatched until the log reads again.
        tracing::warn!(log = %tail.path.display(), error = %e, "cannot read the job's log");
    }
    (before..values.len()).any(|n| (watch.stop_now)(&values[..=n]))
}

/// A growing log read a piece at a time: each read starts where the last one stopped, takes
/// at most [`MAX_READ`] bytes, and keeps an unfinished last line until its end arrives.
pub(crate) struct LogTail {
    path: PathBuf,
    /// Opened at the first read (the job creates the file).
    file: Option<fs::File>,
    /// Bytes read so far: the next read starts here.
    offset: u64,
    /// The last line read, not yet ended by a newline.
    partial: Vec<u8>,
}

impl LogTail {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// Appends to `values` the finite values `regex` captures in the lines completed since
    /// the last call, in log order.
    pub(crate) fn read_values(
        &mut self,
        regex: &regex::Regex,
        values: &mut Vec<f64>,
    ) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(fs::File::open(&self.path)?),
        };
        file.seek(SeekFrom::Start(self.offset))?;
        let read = file
            .by_ref()
            .take(MAX_READ)
            .read_to_end(&mut self.partial)?;
        self.offset += read as u64;
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            if self.partial.len() as u64 > MAX_READ {
                // A line longer than any metric line: not one, and not worth holding.
                self.partial.clear();
            }
            return Ok(());
        };
        let rest = self.partial.split_off(end + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        values.extend(captured_values(regex, &String::from_utf8_lossy(&complete)));
        Ok(())
    }
}

/// The finite values `regex` captures in `text`, in order: group 1, else the whole match.
fn captured_values<'t>(regex: &'t regex::Regex, text: &'t str) -> impl Iterator<Item = f64> + 't {
    regex
        .captures_iter(text)
        .filter_map(|c| c.get(1).or_else(|| c.get(0)))
        .filter_map(|m| m.as_str().trim().parse::<f64>().ok())
        .filter(|x| x.is_finite())
}

/// Waits for a job's process to exit, or for a pause to pass, whichever is first. On Linux the
/// wait ends the moment the process exits (a pidfd becomes readable), so a job's slot never
/// idles and the executor does not wake every millisecond; elsewhere it sleeps the pause.
struct ExitWait {
    #[cfg(target_os = "linux")]
    pidfd: Option<rustix::fd::OwnedFd>,
}

impl ExitWait {
    fn new(child: &std::process::Child) -> ExitWait {
        #[cfg(target_os = "linux")]
        {
            // None (an old kernel, or a pid that does not fit): the pause is slept instead.
            let pidfd = i32::try_from(child.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
                .and_then(|pid| {
                    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
                });
            ExitWait { pidfd }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = child;
            ExitWait {}
        }
    }

    /// Returns once the process has exited, or after the next look's pause for a job of this
    /// `age`: [`STOP_CHECK`] when the exit wakes the wait, else [`poll_pause`].
    fn wait(&self, age: Duration) {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.pidfd {
            use rustix::event::{poll, PollFd, PollFlags, Timespec};
            let mut fds = [PollFd::new(fd, PollFlags::IN)];
            if let Ok(timeout) = Timespec::try_from(STOP_CHECK) {
                // An error (a signal) only ends this wait early.
                let _ = poll(&mut fds, Some(&timeout));
                return;
            }
        }
        std::thread::sleep(poll_pause(age));
    }
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

/// Every value `regex` captures in `log`, in order (finite ones only).
pub(crate) fn metric_values(log: &str, regex: &regex::Regex) -> Vec<f64> {
    regex
        .captures_iter(log)
        .filter_map(|c| c.get(1).or_else(|| c.get(0)))
        .filter_map(|m| m.as_str().trim().parse::<f64>().ok())
        .filter(|x| x.is_finite())
        .collect()
}

/// The final value of each metric: the last match of its regex in the job's log, as SageMaker
/// keeps the latest value it scrapes.
pub(crate) fn scrape_metrics(
    log: &str,
    definitions: &[(String, regex::Regex)],
) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for (name, re) in definitions {
        if let Some(v) = captured_values(re, log).last() {
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

    fn append(path: &Path, text: &str) {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn the_log_tail_reads_new_lines_only_and_waits_for_a_line_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.log");
        let re = regex::Regex::new(contract::METRIC_REGEX).unwrap();
        let mut tail = LogTail::new(path.clone());
        let mut values = Vec::new();
        // No log yet: an error, and nothing read.
        assert!(tail.read_values(&re, &mut values).is_err());
        append(&path, "starting\nmmp-val-score: 0.5\nmmp-val-score: 0.2");
        tail.read_values(&re, &mut values).unwrap();
        // The second value's line has not ended: it could still be 0.25.
        assert_eq!(values, [0.5]);
        append(
            &path,
            "5\nnoise mmp-val-score: -1e-3 mmp-val-score: 7\nmmp-val-",
        );
        tail.read_values(&re, &mut values).unwrap();
        assert_eq!(values, [0.5, 0.25, -0.001, 7.0]);
        // A value split across reads, in the prefix itself.
        append(&path, "score: 0.75\n");
        tail.read_values(&re, &mut values).unwrap();
        assert_eq!(values, [0.5, 0.25, -0.001, 7.0, 0.75]);
        // Nothing new: nothing added, nothing read twice.
        tail.read_values(&re, &mut values).unwrap();
        assert_eq!(values.len(), 5);
        assert_eq!(tail.offset, fs::metadata(&path).unwrap().len());
    }

    #[test]
    fn the_log_tail_reads_at_most_a_mebibyte_per_look() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.log");
        let re = regex::Regex::new(contract::METRIC_REGEX).unwrap();
        let noise = "x".repeat(99) + "\n";
        let lines = (MAX_READ as usize * 3 / 2) / noise.len();
        append(&path, &(noise.repeat(lines) + "mmp-val-score: 0.9\n"));
        let mut tail = LogTail::new(path.clone());
        let mut values = Vec::new();
        tail.read_values(&re, &mut values).unwrap();
        assert_eq!(tail.offset, MAX_READ);
        assert!(values.is_empty());
        tail.read_values(&re, &mut values).unwrap();
        assert_eq!(values, [0.9]);
        // A line longer than a read is dropped rather than held without bound.
        append(&path, &"y".repeat(MAX_READ as usize + 10));
        tail.read_values(&re, &mut values).unwrap();
        tail.read_values(&re, &mut values).unwrap();
        assert!(
            tail.partial.len() <= MAX_READ as usize,
            "{}",
            tail.partial.len()
        );
        append(&path, "\nmmp-val-score: 0.1\n");
        tail.read_values(&re, &mut values).unwrap();
        assert_eq!(values, [0.9, 0.1]);
    }

    /// Runs `script` under `/bin/sh` in a fresh folder, its log watched by `stop_now`.
    fn run_watched(script: &str, stop_now: StopNow) -> JobEnd {
        let dir = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let re = regex::Regex::new(contract::METRIC_REGEX).unwrap();
        let args = ["-c".to_string(), script.to_string()];
        run(&JobSpec {
            dir: dir.path(),
            program: Path::new("/bin/sh"),
            args: &args,
            env: &[],
            max_runtime: None,
            stop: &stop,
            watch: Some(Watch {
                regex: &re,
                stop_now,
            }),
        })
    }

    /// The watch is asked once per value, with the values so far; a `true` kills the job.
    #[test]
    fn a_watched_job_is_stopped_when_its_watch_says_so() {
        let asked = std::sync::Mutex::new(Vec::new());
        let worse = |values: &[f64]| {
            asked.lock().unwrap().push(values.to_vec());
            values.last() < values.first()
        };
        // Told to stop at 0.4, the job is killed in its long sleep (the shell's own process),
        // however late the watch looks: it would end Completed a minute later otherwise.
        let end = run_watched(
            "echo 'mmp-val-score: 0.5'; sleep 0.25; echo 'mmp-val-score: 0.4'; exec sleep 60",
            &worse,
        );
        assert!(matches!(end, JobEnd::EarlyStopped));
        assert_eq!(*asked.lock().unwrap(), [vec![0.5], vec![0.5, 0.4]]);
        // A watch that never says stop lets the job run to its end.
        let end = run_watched(
            "for v in 0.5 0.4 0.3; do echo \"mmp-val-score: $v\"; sleep 0.1; done",
            &|_: &[f64]| false,
        );
        assert!(matches!(end, JobEnd::Completed));
    }

    #[test]
    fn a_watched_job_that_ends_before_the_first_look_still_reports_its_values() {
        let asked = std::sync::Mutex::new(Vec::new());
        let record = |values: &[f64]| {
            asked.lock().unwrap().push(values.to_vec());
            false
        };
        let end = run_watched(
            "for v in 0.5 0.4 0.6; do echo \"mmp-val-score: $v\"; done",
            &record,
        );
        assert!(matches!(end, JobEnd::Completed));
        assert_eq!(
            *asked.lock().unwrap(),
            [vec![0.5], vec![0.5, 0.4], vec![0.5, 0.4, 0.6]]
        );
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
            watch: None,
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
