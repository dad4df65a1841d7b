//! What an ended execution's job folders keep. Each job folder is laid out as `/opt/ml`; once the
//! execution has ended, its inputs (links to bucket objects, or copies where links cannot be
//! made), its training models (archived into the bucket as `model.tar.gz`) and its processing
//! outputs (uploaded to the bucket) exist in the bucket already. They are dropped; the logs, the
//! hyperparameters, the failure and message files and the evaluation report stay, for
//! `mmp executions` and the console. A retry downloads its inputs again.

use std::fs;
use std::io;
use std::path::Path;

use mmp_pipeline::contract;

/// The parts of a job folder dropped once its execution has ended.
pub const DROPPED: &[&str] = &[
    contract::CHANNELS_DIR,
    contract::MODEL_DIR,
    contract::PROCESSING_INPUT_DATA,
    contract::PROCESSING_TRAIN,
    contract::PROCESSING_TEST,
    contract::PROCESSING_MODEL,
];

/// Drops [`DROPPED`] from every job folder under `execution_dir`
/// (`<jobs_root>/<execution id>`). Returns the bytes freed. A missing folder frees nothing.
pub fn prune_execution(execution_dir: &Path) -> io::Result<u64> {
    let jobs = match fs::read_dir(execution_dir) {
        Ok(jobs) => jobs,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut freed = 0;
    for job in jobs {
        let job = job?;
        if !job.file_type()?.is_dir() {
            continue;
        }
        for part in DROPPED {
            let path = job.path().join(part);
            // symlink_metadata: a link planted in the folder is removed, never followed.
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => {
                    freed += size_of(&path)?;
                    fs::remove_dir_all(&path)?;
                }
                Ok(meta) => {
                    freed += meta.len();
                    fs::remove_file(&path)?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(freed)
}

/// The bytes of the regular files under `path`, links not followed. A file linked from
/// elsewhere (an input linked from the bucket) counts, though removing this link frees its
/// blocks only when it was the last one.
pub fn size_of(path: &Path) -> io::Result<u64> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(if meta.is_file() { meta.len() } else { 0 });
    }
    let mut total = 0;
    for entry in fs::read_dir(path)? {
        total += size_of(&entry?.path())?;
    }
    Ok(total)
}

/// The bytes the regular files under `path` occupy, each file once however many links it has
/// there (what `du --apparent-size` reports): the space a data folder takes.
pub fn disk_usage(path: &Path) -> io::Result<u64> {
    let mut seen = std::collections::HashSet::new();
    usage(path, &mut seen)
}

fn usage(path: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> io::Result<u64> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        let mut total = 0;
        for entry in fs::read_dir(path)? {
            total += usage(&entry?.path(), seen)?;
        }
        return Ok(total);
    }
    if !meta.is_file() {
        return Ok(0);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 && !seen.insert((meta.dev(), meta.ino())) {
            return Ok(0);
        }
    }
    Ok(meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_execution_keeps_its_logs_and_reports_and_drops_inputs_models_and_outputs() {
        let root = tempfile::tempdir().unwrap();
        let execution = root.path().join("exec-1");
        let trial = execution.join("trial-1");
        let preprocess = execution.join("preprocess-1");
        for (dir, file, bytes) in [
            (trial.join("input/data/train"), "train.csv", 1000),
            (trial.join("input/config"), "hyperparameters.json", 10),
            (trial.join("model"), "model.json", 500),
            (trial.join("output"), "failure", 3),
            (preprocess.join("processing/input/data"), "data.csv", 2000),
            (preprocess.join("processing/train"), "train.csv", 1500),
            (preprocess.join("processing/test"), "test.csv", 400),
            (
                preprocess.join("processing/evaluation"),
                "evaluation.json",
                20,
            ),
        ] {
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(file), vec![b'x'; bytes]).unwrap();
        }
        fs::write(trial.join("job.log"), "log").unwrap();

        let freed = prune_execution(&execution).unwrap();

        assert_eq!(freed, 1000 + 500 + 2000 + 1500 + 400);
        for kept in [
            "trial-1/input/config/hyperparameters.json",
            "trial-1/output/failure",
            "trial-1/job.log",
            "preprocess-1/processing/evaluation/evaluation.json",
        ] {
            assert!(execution.join(kept).is_file(), "{kept} was dropped");
        }
        for dropped in [
            "trial-1/input/data",
            "trial-1/model",
            "preprocess-1/processing/input/data",
            "preprocess-1/processing/train",
            "preprocess-1/processing/test",
        ] {
            assert!(!execution.join(dropped).exists(), "{dropped} was kept");
        }
        assert_eq!(
            prune_execution(&execution).unwrap(),
            0,
            "pruning again frees nothing"
        );
        assert_eq!(prune_execution(&root.path().join("none")).unwrap(), 0);
    }

    #[test]
    fn disk_usage_counts_a_linked_file_once() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("a"), vec![0u8; 100]).unwrap();
        fs::create_dir(root.path().join("job")).unwrap();
        fs::hard_link(root.path().join("a"), root.path().join("job/a")).unwrap();
        fs::write(root.path().join("job/b"), vec![0u8; 7]).unwrap();
        assert_eq!(disk_usage(root.path()).unwrap(), 107);
        assert_eq!(
            size_of(root.path()).unwrap(),
            207,
            "size_of counts each link"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_where_an_input_was_is_removed_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = root.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("keep.txt"), "keep").unwrap();
        let job = root.path().join("exec/job");
        fs::create_dir_all(job.join("input")).unwrap();
        std::os::unix::fs::symlink(&outside, job.join("input/data")).unwrap();

        prune_execution(&root.path().join("exec")).unwrap();

        assert!(outside.join("keep.txt").is_file());
        assert!(!job.join("input/data").exists());
    }
}
